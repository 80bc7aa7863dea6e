//! The warehouse's part of the local day, through the staff API (`api` behind the stand-in
//! gateway) and the real `label-worker` and `shipment-tracker` binaries: each seller's label
//! settings and SKU catalog written as onboarding would, then for each seller a few open orders
//! picked, verified and packed through the API (each packing sent twice under one key), their
//! labels printed, one voided, a few shipped on the operator's own UPS account; the label-jobs
//! queue handed to `label-worker` as Lambda's event source mapping would; then one tracking
//! run. The figures come from the simulator's counts (what Amazon saw), the DLQ and the API's
//! answers.

use crate::functions::{FunctionHost, Invocation};
use crate::gateway::Gateway;
use crate::queues::{EventSource, batch_item_failures, drain_bodies};
use crate::resources::{Provisioned, scan_all};
use crate::station::{self, Station, StationFigures};
use serde::Serialize;
use shared::aws::LabelSettingsItem;
use shared::kernel::Sku;
use shared::labels::{
    CATALOG_PACKAGE_ID, Dimensions, LabelFormat, LabelSettings, RatePolicy, ShipFrom, SkuFacts,
};
use shared::orders::{Order, OrderStatus};
use spapi_sim::SimHandle;
use std::collections::BTreeMap;

/// Orders of each seller labeled through Buy Shipping, and shipped on the operator's carrier.
const LABELED_PER_SELLER: usize = 4;
const OWN_CARRIER_PER_SELLER: usize = 2;

#[derive(Debug, Clone, Default, Serialize)]
pub struct PackingFigures {
    pub labels_purchased: u64,
    pub labels_voided: u64,
    pub shipments_confirmed: u64,
    /// Labels bought beyond one live label per package, as the simulator counts them: 0.
    pub duplicate_purchases: u64,
    pub label_jobs_dead_lettered: usize,
    pub parcels_tracked: u64,
    /// The floor's use of the staff API.
    pub station: StationFigures,
}

/// The warehouse's dock, the ship-from of every label on the local stack.
pub fn dock() -> ShipFrom {
    ShipFrom {
        name: "Dock 3, Reno fulfilment".into(),
        address_line1: "1 Warehouse Way".into(),
        address_line2: None,
        city: "Reno".into(),
        state_or_region: "NV".into(),
        postal_code: "89502".into(),
        country_code: "US".into(),
        phone: Some("+17755550100".into()),
    }
}

/// Onboarding: the seller's dock, rate policy, printer format and every SKU's unit facts.
async fn write_settings(
    dynamo: &aws_sdk_dynamodb::Client,
    stack: &Provisioned,
    orders: &[Order],
) -> Result<(), String> {
    let mut catalogs: BTreeMap<&str, BTreeMap<Sku, SkuFacts>> = BTreeMap::new();
    for o in orders {
        let catalog = catalogs.entry(o.seller_id.as_str()).or_default();
        for sku in o.lines.iter().filter_map(|l| l.sku.clone()) {
            catalog.insert(
                sku,
                SkuFacts {
                    weight_grams: 450,
                    dimensions: Dimensions {
                        length_cm: 22.0,
                        width_cm: 16.0,
                        height_cm: 8.0,
                    },
                },
            );
        }
    }
    for (seller, catalog) in catalogs {
        let seller = shared::kernel::SellerId::parse(seller).map_err(|e| e.to_string())?;
        let settings = LabelSettings {
            catalog,
            ..LabelSettings::new(dock(), RatePolicy::CheapestOnTime, LabelFormat::Zpl)
        };
        write_label_settings(dynamo, stack.table("control"), &seller, settings).await?;
    }
    Ok(())
}

/// A seller's label settings into the control table, as onboarding writes them.
pub async fn write_label_settings(
    dynamo: &aws_sdk_dynamodb::Client,
    control_table: &str,
    seller: &shared::kernel::SellerId,
    settings: LabelSettings,
) -> Result<(), String> {
    let item = LabelSettingsItem::new(seller, settings);
    dynamo
        .put_item()
        .table_name(control_table)
        .set_item(Some(
            serde_dynamo::to_item(&item).map_err(|e| e.to_string())?,
        ))
        .send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

/// Every unit of the order, as a job lists its items.
pub fn all_items(o: &Order) -> Vec<serde_json::Value> {
    o.lines
        .iter()
        .map(|l| {
            serde_json::json!({
                "order_item_id": l.order_item_id.as_str(), "quantity": l.quantity_ordered
            })
        })
        .collect()
}

/// A label job for the whole order as one package `package_id` of 900 g, 30 × 20 × 12 cm.
pub fn whole_order_job(
    o: &Order,
    job_id: &str,
    package_id: &str,
    requested_by: &str,
) -> serde_json::Value {
    serde_json::json!({
        "job_id": job_id,
        "seller_id": o.seller_id.as_str(),
        "order_id": o.order_id.as_str(),
        "packages": [{
            "package_id": package_id,
            "weight_grams": 900,
            "dimensions": {"length_cm": 30.0, "width_cm": 20.0, "height_cm": 12.0},
            "items": all_items(o),
        }],
        "requested_by": requested_by,
    })
}

/// Each seller's orders labeled through Buy Shipping.
fn labeled<'o>(open: &[&'o Order]) -> Vec<&'o Order> {
    open.iter().take(LABELED_PER_SELLER).copied().collect()
}

/// Each seller's orders shipped on the operator's own carrier.
fn own<'o>(open: &[&'o Order]) -> Vec<&'o Order> {
    open.iter()
        .skip(LABELED_PER_SELLER)
        .take(OWN_CARRIER_PER_SELLER)
        .copied()
        .collect()
}

/// Pack and ship part of the day's open orders through the staff API (the stand-in gateway in
/// front of the real `api`). `label-worker`, `shipment-tracker` and `api` must be started on
/// `host`.
pub async fn pack_and_ship(
    host: &FunctionHost,
    gateway: &Gateway,
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    sim: &SimHandle,
) -> Result<PackingFigures, String> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let mut orders: Vec<Order> = scan_all(&dynamo, stack.table("orders"))
        .await?
        .into_iter()
        .filter_map(|item| serde_dynamo::from_item(item).ok())
        .collect();
    orders.sort_by(|a, b| (&a.seller_id, &a.order_id).cmp(&(&b.seller_id, &b.order_id)));
    write_settings(&dynamo, stack, &orders).await?;
    let mut by_seller: BTreeMap<&str, Vec<&Order>> = BTreeMap::new();
    for o in orders
        .iter()
        .filter(|o| o.status == OrderStatus::Unshipped && o.lines.iter().all(|l| l.sku.is_some()))
    {
        by_seller.entry(o.seller_id.as_str()).or_default().push(o);
    }
    let pii = sim.seeded_pii_values();
    let mut station = Station::new(gateway, &pii);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = stack.queue("label-jobs");
    for (seller, open) in &by_seller {
        station::pack(&mut station, seller, &labeled(open)).await?;
    }
    pump(host, &sqs, queue).await?;
    for (seller, open) in &by_seller {
        // Each seller's first label voided after it was bought (the parcel went another way).
        let labeled = labeled(open);
        station::print_and_void(&mut station, seller, &labeled, CATALOG_PACKAGE_ID).await?;
        station::ship_own_carrier(&mut station, seller, &own(open)).await?;
    }
    pump(host, &sqs, queue).await?;
    for (seller, open) in &by_seller {
        station::count_shipped(&mut station, seller, &own(open)).await?;
    }
    let tracked = match host
        .invoker()
        .invoke("shipment-tracker", &serde_json::json!({}))
        .await?
    {
        Invocation::Ok(run) => run["checked"].as_u64().unwrap_or(0),
        Invocation::FunctionError {
            error_type,
            message,
        } => return Err(format!("shipment-tracker failed: {error_type}: {message}")),
    };
    let stats = sim.stats();
    let dead = drain_bodies(&sqs, stack.queue("label-jobs-dlq")).await?;
    Ok(PackingFigures {
        labels_purchased: stats.label_purchases.values().sum(),
        labels_voided: stats.labels_canceled.values().sum(),
        shipments_confirmed: stats.shipment_confirmations.len() as u64,
        duplicate_purchases: stats.duplicate_purchases(),
        label_jobs_dead_lettered: dead.len(),
        parcels_tracked: tracked,
        station: station.figures,
    })
}

/// The label-jobs queue to the real `label-worker`; a job kept (a copy that found its package
/// being bought) comes back at once rather than after its visibility timeout.
async fn pump(host: &FunctionHost, sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<(), String> {
    let invoker = host.invoker();
    EventSource::new(sqs.clone(), queue)
        .pump(
            |event| {
                let invoker = invoker.clone();
                async move {
                    match invoker.invoke("label-worker", &event).await? {
                        Invocation::Ok(resp) => Ok(batch_item_failures(&resp)),
                        Invocation::FunctionError {
                            error_type,
                            message,
                        } => Err(format!("label-worker failed: {error_type}: {message}")),
                    }
                }
            },
            true,
        )
        .await?;
    Ok(())
}
