//! Stock's part of the local day, through the real `stock-sync` binary: in the morning each
//! seller's locations (two aisles of sellable shelves, a quarantine bay, the dock) and a
//! receipt of every SKU it lists, with low-stock thresholds on some; through the day intake's
//! reservations and releases, label-worker's picks and the tracker's and own-carrier
//! shipments land on the stock queue; in the evening that queue is handed to `stock-sync` as
//! Lambda's event source mapping would, one return is taken back to a shelf, and a
//! reconciliation runs. Last, every SKU's quantity at Amazon (the simulator) is compared with
//! the one computed from the ledger.

use crate::functions::{FunctionHost, Invocation, Invoker};
use crate::queues::{EventSource, batch_item_failures};
use crate::resources::Provisioned;
use serde::Serialize;
use serde_json::{Value, json};
use shared::aws::DynamoStockLedger;
use shared::kernel::{SellerId, Sku};
use shared::stock::{MovementKind, StockLedger};
use spapi_sim::SimHandle;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize)]
pub struct StockFigures {
    /// Quantities Amazon accepted from `stock-sync`.
    pub stock_pushes: u64,
    /// Movements in the ledger at the end of the day.
    pub stock_movements: u64,
    pub stock_reservations: usize,
    pub stock_releases: usize,
    pub stock_picks: usize,
    pub stock_shipments: usize,
    pub low_stock_alerts: u64,
    /// SKUs whose quantity at Amazon differs from the computed one at the end: must be 0.
    pub stock_mismatches: u64,
    pub stock_messages_dead_lettered: u64,
}

async fn command(host: &FunctionHost, payload: Value) -> Result<Value, String> {
    match host.invoker().invoke("stock-sync", &payload).await? {
        Invocation::Ok(report) => Ok(report),
        Invocation::FunctionError {
            error_type,
            message,
        } => Err(format!("stock-sync failed: {error_type}: {message}")),
    }
}

fn sellers_of(sim: &SimHandle, sellers: &[String]) -> Vec<(SellerId, Vec<String>)> {
    sellers
        .iter()
        .map(|s| {
            let skus = sim.listing_quantities(s).into_keys().collect();
            (SellerId::parse(s.clone()).expect("seller id"), skus)
        })
        .collect()
}

/// The morning: locations, SKU settings and a receipt of every listed SKU.
pub async fn morning(
    host: &FunctionHost,
    sim: &SimHandle,
    sellers: &[String],
) -> Result<StockFigures, String> {
    let mut figures = StockFigures::default();
    let mut movements = Vec::new();
    for (seller, skus) in sellers_of(sim, sellers) {
        command(
            host,
            json!({"command": "set_locations", "seller_id": seller, "locations": {"locations": [
                {"id": "A-01", "kind": "sellable"}, {"id": "A-02", "kind": "sellable"},
                {"id": "B-01", "kind": "sellable"}, {"id": "Q-1", "kind": "quarantine"},
                {"id": "DOCK", "kind": "inbound"}]}}),
        )
        .await?;
        for (i, sku) in skus.iter().enumerate() {
            if i % 3 == 0 {
                let r = command(
                    host,
                    json!({"command": "set_sku", "seller_id": seller, "sku": sku,
                           "settings": {"buffer": 1, "low_stock_at": 4}}),
                )
                .await?;
                figures.stock_pushes += r["pushes"].as_u64().unwrap_or(0);
            }
            let shelf = ["A-01", "A-02", "B-01"][i % 3];
            movements.push(json!({
                "movement_id": format!("morning-receipt-{seller}-{sku}"),
                "seller_id": seller, "sku": sku, "actor": "staff:receiving",
                "kind": "receive", "location": shelf, "quantity": 4 + (i % 6),
            }));
        }
    }
    // One receipt of every seller's goods: each SKU pushed once, the sellers' budgets in parallel.
    let r = command(
        host,
        json!({"command": "movements", "movements": movements}),
    )
    .await?;
    figures.stock_pushes += r["pushes"].as_u64().unwrap_or(0);
    Ok(figures)
}

/// The evening: the stock queue through `stock-sync`, one return, a reconciliation, the check.
pub async fn evening(
    host: &FunctionHost,
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    sim: &SimHandle,
    sellers: &[String],
    logs: &Path,
    mut figures: StockFigures,
) -> Result<StockFigures, String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    pump(
        &host.invoker(),
        &EventSource::new(sqs, stack.queue("stock")),
    )
    .await?;
    let ledger = DynamoStockLedger::new(aws_sdk_dynamodb::Client::new(sdk), stack.table("stock"));
    let sellers = sellers_of(sim, sellers);

    // A buyer sends back one unit of a shipped order: fit to sell, back on its shelf.
    'returned: for (seller, skus) in &sellers {
        for sku in skus {
            let sku = Sku::parse(sku.clone()).expect("sku");
            let shipped = ledger
                .movements(seller, &sku)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(m) = shipped
                .iter()
                .find(|m| matches!(m.kind, MovementKind::Ship { .. }))
            {
                let r = command(
                    host,
                    json!({"command": "movements", "movements": [{
                        "movement_id": format!("return-{}", m.movement_id), "seller_id": seller,
                        "sku": sku, "actor": "staff:returns", "kind": "return_to_stock",
                        "location": "A-01", "quantity": 1, "order_id": m.order_id}]}),
                )
                .await?;
                figures.stock_pushes += r["pushes"].as_u64().unwrap_or(0);
                break 'returned;
            }
        }
    }
    let r = command(host, json!({"command": "reconcile"})).await?;
    figures.stock_pushes += r["pushes"].as_u64().unwrap_or(0);

    // What Amazon holds against what the ledger says, every SKU; orders per kind of movement.
    let mut orders: std::collections::BTreeMap<&str, BTreeSet<(SellerId, String)>> =
        Default::default();
    for (seller, _) in &sellers {
        let warehouse = ledger.warehouse(seller).await.map_err(|e| e.to_string())?;
        for sku in ledger.skus(seller).await.map_err(|e| e.to_string())? {
            let all = ledger
                .movements(seller, &sku)
                .await
                .map_err(|e| e.to_string())?;
            figures.stock_movements += all.len() as u64;
            for m in &all {
                if let Some(order) = &m.order_id {
                    orders
                        .entry(m.kind.name())
                        .or_default()
                        .insert((seller.clone(), order.to_string()));
                }
            }
            let (_, available) = shared::stock::standing(&ledger, seller, &sku, &warehouse)
                .await
                .map_err(|e| e.to_string())?;
            if available.is_some()
                && sim.listing_quantity(seller.as_str(), sku.as_str()) != available
            {
                figures.stock_mismatches += 1;
            }
        }
    }
    let count = |kind: &str| orders.get(kind).map_or(0, BTreeSet::len);
    figures.stock_reservations = count("reserve");
    figures.stock_releases = count("release");
    figures.stock_picks = count("pick");
    figures.stock_shipments = count("ship");
    let (batch_pushes, dead, low) = log_figures(&logs.join("stock-sync.log"))?;
    figures.stock_pushes += batch_pushes;
    figures.stock_messages_dead_lettered = dead;
    figures.low_stock_alerts = low;
    Ok(figures)
}

async fn pump(invoker: &Invoker, source: &EventSource) -> Result<(), String> {
    source
        .pump(
            |event| {
                let invoker = invoker.clone();
                async move {
                    match invoker.invoke("stock-sync", &event).await? {
                        Invocation::Ok(resp) => Ok(batch_item_failures(&resp)),
                        Invocation::FunctionError {
                            error_type,
                            message,
                        } => Err(format!("stock-sync failed: {error_type}: {message}")),
                    }
                }
            },
            false,
        )
        .await?;
    Ok(())
}

/// From `stock-sync`'s log: pushes of its SQS batches (commands answer with their own), dead
/// letters, low-stock alerts.
fn log_figures(log: &Path) -> Result<(u64, u64, u64), String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let (mut pushes, mut dead, mut low) = (0, 0, 0);
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let f = &v["fields"];
        if f["message"] == "stock batch finished" {
            pushes += f["pushes"].as_u64().unwrap_or(0);
            dead += f["dead_lettered"].as_u64().unwrap_or(0);
        }
        if f["alert"] == "low_stock" {
            low += 1;
        }
    }
    Ok((pushes, dead, low))
}
