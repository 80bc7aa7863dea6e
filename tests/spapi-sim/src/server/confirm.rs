//! Orders v0 `confirmShipment` for parcels shipped on the seller's own carrier account,
//! validated as Amazon does: the carrier code from Amazon's list (`Other` only with a name),
//! `packageReferenceId` a positive number sent as a string, a date-time ship date, the order's
//! own items in quantities it still has to ship. A package confirmed again under the same
//! reference is edited, not added. The order then shows the package and is shipped (or partly).

use super::Operation;
use super::gate::{admit, respond};
use super::shipping::{Refusal, bad, missing};
use crate::Sim;
use crate::model::{ItemFulfillment, OrderPackage, PackageItem, PackageStatus};
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Amazon's carrier codes: the same list the suite checks against before it calls.
const CARRIER_CODES: &str = include_str!("../../../../shared/src/labels/carrier-codes.txt");

fn carrier_codes() -> impl Iterator<Item = &'static str> {
    CARRIER_CODES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfirmRequest {
    marketplace_id: String,
    package_detail: PackageDetail,
    /// Accepted (JP only at Amazon), not checked here.
    #[serde(default)]
    #[allow(dead_code)]
    cod_collection_method: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PackageDetail {
    package_reference_id: String,
    carrier_code: String,
    carrier_name: Option<String>,
    shipping_method: Option<String>,
    tracking_number: String,
    ship_date: String,
    #[serde(default)]
    #[allow(dead_code)]
    ship_from_supply_source_id: Option<String>,
    order_items: Vec<ItemIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ItemIn {
    order_item_id: String,
    quantity: u32,
    #[serde(default)]
    #[allow(dead_code)]
    transparency_codes: Vec<String>,
}

fn invalid(message: impl Into<String>) -> Refusal {
    bad("InvalidInput", message)
}

pub(super) async fn confirm_shipment(
    AxState(sim): AxState<Arc<Sim>>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = Operation::ConfirmShipment;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now().trunc_subsecs(0);
    let resp = (|| {
        let req: ConfirmRequest = serde_json::from_slice(&body)
            .map_err(|e| invalid(format!("Invalid request body: {e}")))?;
        let p = &req.package_detail;
        if p.package_reference_id
            .parse::<u64>()
            .map_or(true, |n| n == 0)
        {
            return Err(invalid(
                "packageReferenceId must be a positive numeric value sent as a string.",
            ));
        }
        if !carrier_codes().any(|c| c == p.carrier_code) {
            return Err(invalid(format!("Invalid carrierCode {}.", p.carrier_code)));
        }
        if p.carrier_code == "Other" && p.carrier_name.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(
                "carrierName is required when carrierCode is Other.",
            ));
        }
        if p.tracking_number.trim().is_empty() {
            return Err(invalid("trackingNumber is required."));
        }
        let ship_time: DateTime<Utc> = DateTime::parse_from_rfc3339(&p.ship_date)
            .map_err(|_| invalid("shipDate must be an ISO 8601 date-time."))?
            .with_timezone(&Utc);
        if p.order_items.is_empty() {
            return Err(invalid("orderItems must name at least one item."));
        }
        let mut st = sim.lock();
        let order = st
            .sellers
            .get_mut(&seller)
            .and_then(|s| s.orders.iter_mut().find(|o| o.order_id == order_id))
            .ok_or_else(|| missing("Order not found."))?;
        if order.sales_channel.marketplace_id != req.marketplace_id {
            return Err(invalid("Invalid marketplaceId for the order."));
        }
        let status = order
            .fulfillment
            .as_ref()
            .map_or("", |f| f.fulfillment_status.as_str());
        if status == "CANCELLED" {
            return Err(invalid(format!("Order {order_id} is canceled.")));
        }
        // Units already confirmed in the order's other packages.
        let mut shipped: BTreeMap<&str, u32> = BTreeMap::new();
        for other in order.packages.iter().flatten() {
            if other.package_reference_id != p.package_reference_id {
                for i in &other.package_items {
                    *shipped.entry(i.order_item_id.as_str()).or_default() += i.quantity;
                }
            }
        }
        let mut here: BTreeMap<&str, u32> = BTreeMap::new();
        for item in &p.order_items {
            let Some(line) = order
                .order_items
                .iter()
                .find(|l| l.order_item_id == item.order_item_id)
            else {
                return Err(invalid(format!(
                    "OrderItemId {} is invalid.",
                    item.order_item_id
                )));
            };
            let units = here.entry(item.order_item_id.as_str()).or_default();
            *units += item.quantity;
            let before = shipped
                .get(item.order_item_id.as_str())
                .copied()
                .unwrap_or(0);
            if item.quantity == 0 || before + *units > line.quantity_ordered {
                return Err(invalid(format!(
                    "Invalid quantity for OrderItemId {}.",
                    item.order_item_id
                )));
            }
        }
        let package = OrderPackage {
            package_reference_id: p.package_reference_id.clone(),
            created_time: now,
            package_status: PackageStatus {
                status: "IN_TRANSIT".into(),
            },
            carrier: p
                .carrier_name
                .clone()
                .unwrap_or_else(|| p.carrier_code.clone()),
            ship_time,
            shipping_service: p.shipping_method.clone().unwrap_or_default(),
            tracking_number: p.tracking_number.clone(),
            package_items: p
                .order_items
                .iter()
                .map(|i| PackageItem {
                    order_item_id: i.order_item_id.clone(),
                    quantity: i.quantity,
                })
                .collect(),
        };
        let packages = order.packages.get_or_insert_with(Vec::new);
        packages.retain(|o| o.package_reference_id != package.package_reference_id);
        packages.push(package);
        let mut all_shipped = true;
        for line in &mut order.order_items {
            let done: u32 = packages
                .iter()
                .flat_map(|p| &p.package_items)
                .filter(|i| i.order_item_id == line.order_item_id)
                .map(|i| i.quantity)
                .sum();
            all_shipped &= done >= line.quantity_ordered;
            line.fulfillment = Some(ItemFulfillment {
                quantity_fulfilled: done,
                quantity_unfulfilled: line.quantity_ordered.saturating_sub(done),
            });
        }
        if let Some(f) = order.fulfillment.as_mut() {
            f.fulfillment_status = if all_shipped {
                "SHIPPED"
            } else {
                "PARTIALLY_SHIPPED"
            }
            .into();
        }
        let at = now.max(order.last_updated_time + Duration::seconds(1));
        order.last_updated_time = at;
        let order = order.clone();
        *st.stats
            .shipment_confirmations
            .entry(format!("{order_id}/{}", p.package_reference_id))
            .or_default() += 1;
        st.publish(&sim.config, &seller, &order, at);
        st.resort(&seller);
        Ok(StatusCode::NO_CONTENT.into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}
