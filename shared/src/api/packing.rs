//! Picking and packing: the pick list (open orders' units by location, in walking order),
//! scan-to-verify, and packed (verified again, the order Packed, its units picked, its label
//! job sent, once per idempotency key).

use super::GatewayMessage;
use super::idempotency::{key_of, once};
use super::orders::{OrderView, PICKERS, seller_and_order, store_problem, stored};
use super::{
    ApiRequest, ApiResponse, FieldProblem, Problem, Role, Services, authorize, json_body,
    only_query, path_param,
};
use crate::kernel::{AmazonOrderId, OrderItemId, SellerId, Sku};
use crate::labels::{JobPackage, LabelJob, PurchaseEntry, ShipmentJob};
use crate::orders::{Order, OrderFilter, OrderStatus, StoredOrder, announce};
use crate::stock::{LocationId, LocationKind, StockChangeKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Who packs: packing stations and their supervisors.
pub const PACKERS: [Role; 2] = [Role::Packer, Role::Supervisor];

/// Orders on one pick list, at most and by default.
const MAX_PICK_ORDERS: usize = 200;
const DEFAULT_PICK_ORDERS: usize = 50;
/// Races lost on an order's record before answering 503.
pub(super) const MAX_RACES: usize = 4;

/// Move the order to `to` with a write conditional on the revision read, `check` passing on
/// that same read; the same status again changes nothing. Packing may come straight from
/// Unshipped (the picking step is implicit). Returns the order and whether this call moved it.
pub(super) async fn move_order(
    s: &Services<'_>,
    seller: &SellerId,
    order: &AmazonOrderId,
    to: OrderStatus,
    check: impl Fn(&StoredOrder) -> Result<(), Problem>,
) -> Result<(StoredOrder, bool), Problem> {
    for _ in 0..MAX_RACES {
        let mut now = stored(s, seller, order).await?;
        check(&now)?;
        let from = now.order.status;
        if from == to {
            return Ok((now, false));
        }
        let allowed = from.advance_to(to).is_ok()
            || (from == OrderStatus::Unshipped && to == OrderStatus::Packed);
        if !allowed {
            return Err(Problem::conflict(
                "order-status",
                "The order is not at a step this can follow",
                format!("order {order} is {}", status_name(from)),
            ));
        }
        now.order.status = to;
        if let Some(revision) = s
            .orders
            .save(&now.order, now.pii.clone(), Some(now.revision))
            .await
            .map_err(store_problem)?
        {
            now.revision = revision;
            return Ok((now, true));
        }
    }
    Err(Problem::unavailable())
}

pub(super) fn status_name(status: OrderStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Units of one order line at one stop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PickFor {
    pub order_id: AmazonOrderId,
    pub order_item_id: OrderItemId,
    pub quantity: u32,
}

/// One stop of the walk: take `quantity` of `sku` from `location`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickStop {
    pub location: LocationId,
    pub sku: Sku,
    pub quantity: u32,
    pub orders: Vec<PickFor>,
}

/// Units the shelves do not hold (by the stock on record).
#[derive(Debug, Serialize, ToSchema)]
pub struct Shortfall {
    pub sku: Sku,
    pub quantity: u32,
    pub orders: Vec<PickFor>,
}

/// A line no pick can be planned for: Amazon sent it without a SKU.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnplannedLine {
    pub order_id: AmazonOrderId,
    pub order_item_id: OrderItemId,
}

/// Open orders to pick (unshipped or being picked), earliest ship-by first, as one walk.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickList {
    pub seller_id: SellerId,
    pub orders: Vec<AmazonOrderId>,
    /// In the warehouse's walking order; a kit's line is picked as its components.
    pub stops: Vec<PickStop>,
    pub short: Vec<Shortfall>,
    pub unplanned: Vec<UnplannedLine>,
}

/// The units each order line needs, kits split into their components.
fn needs(
    order: &Order,
    kits: &BTreeMap<Sku, Vec<crate::stock::KitComponent>>,
) -> Vec<(Sku, PickFor)> {
    let mut out = Vec::new();
    for line in &order.lines {
        let open = line.quantity_ordered.saturating_sub(line.quantity_shipped);
        let Some(sku) = &line.sku else { continue };
        if open == 0 {
            continue;
        }
        let parts: Vec<(Sku, u32)> = match kits.get(sku) {
            Some(components) => components
                .iter()
                .map(|c| (c.sku.clone(), c.quantity.saturating_mul(open)))
                .collect(),
            None => vec![(sku.clone(), open)],
        };
        for (sku, quantity) in parts {
            out.push((
                sku,
                PickFor {
                    order_id: order.order_id.clone(),
                    order_item_id: line.order_item_id.clone(),
                    quantity,
                },
            ));
        }
    }
    out
}

/// The pick list of the seller's open orders: each SKU's units taken from its sellable
/// locations in walking order, the earliest ship-by order served first.
#[utoipa::path(
    get,
    path = "/pick-list/{seller_id}",
    tag = "picking",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("limit" = Option<u32>, Query, description = "Orders on the list, 1 to 200 (50), earliest ship-by first", minimum = 1, maximum = 200),
    ),
    responses(
        (status = 200, description = "The walk", body = PickList),
        (status = 400, description = "A bad id or limit, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a picker or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn pick_list(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &PICKERS)?;
    only_query(req, &["limit"])?;
    let seller =
        path_param("seller_id", seller, SellerId::parse).map_err(|e| Problem::invalid(vec![e]))?;
    let limit = match req.query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_PICK_ORDERS,
        Some(Ok(l)) if (1..=MAX_PICK_ORDERS).contains(&l) => l,
        Some(_) => {
            return Err(Problem::invalid_field(
                "query.limit",
                format!("a whole number from 1 to {MAX_PICK_ORDERS}"),
            ));
        }
    };
    let filter = OrderFilter::Open {
        statuses: vec![OrderStatus::Unshipped, OrderStatus::Picking],
        ship_by_before: None,
    };
    let mut orders: Vec<Order> = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .listing
            .list(&seller, &filter, limit as u32, after.as_ref())
            .await
            .map_err(store_problem)?;
        orders.extend(page.orders.into_iter().map(|o| o.order));
        after = page.next;
        if orders.len() >= limit || after.is_none() {
            break;
        }
    }
    orders.truncate(limit);
    let warehouse = s.stock.warehouse(&seller).await.map_err(store_problem)?;
    let mut by_sku: BTreeMap<Sku, Vec<PickFor>> = BTreeMap::new();
    let mut unplanned = Vec::new();
    for o in &orders {
        for line in o.lines.iter().filter(|l| l.sku.is_none()) {
            unplanned.push(UnplannedLine {
                order_id: o.order_id.clone(),
                order_item_id: line.order_item_id.clone(),
            });
        }
        for (sku, need) in needs(o, &warehouse.kits.kits) {
            by_sku.entry(sku).or_default().push(need);
        }
    }
    let locations = &warehouse.locations;
    let mut stops: Vec<PickStop> = Vec::new();
    let mut short = Vec::new();
    for (sku, wanted) in by_sku {
        let position = s
            .stock
            .position(&seller, &sku)
            .await
            .map_err(store_problem)?;
        // A pick already took its units off their shelves' counts (`picked` is not on them).
        let mut shelves: Vec<(LocationId, u64)> = position
            .on_hand
            .iter()
            .filter(|(l, _)| locations.kind(l) == Some(LocationKind::Sellable))
            .map(|(l, q)| (l.clone(), *q))
            .collect();
        shelves.sort_by_key(|(l, _)| locations.walk_position(l));
        let mut shelf = shelves.into_iter().filter(|(_, q)| *q > 0).peekable();
        let mut sku_stops: Vec<PickStop> = Vec::new();
        let mut missing: Vec<PickFor> = Vec::new();
        for need in wanted {
            let mut left = need.quantity;
            while left > 0 {
                let Some((location, q)) = shelf.peek_mut() else {
                    break;
                };
                let take = u32::try_from(*q).unwrap_or(u32::MAX).min(left);
                *q -= u64::from(take);
                left -= take;
                let at = location.clone();
                if *q == 0 {
                    shelf.next();
                }
                let part = PickFor {
                    quantity: take,
                    ..need.clone()
                };
                match sku_stops.last_mut() {
                    Some(stop) if stop.location == at => {
                        stop.quantity += take;
                        stop.orders.push(part);
                    }
                    _ => sku_stops.push(PickStop {
                        location: at,
                        sku: sku.clone(),
                        quantity: take,
                        orders: vec![part],
                    }),
                }
            }
            if left > 0 {
                missing.push(PickFor {
                    quantity: left,
                    ..need
                });
            }
        }
        stops.extend(sku_stops);
        if !missing.is_empty() {
            short.push(Shortfall {
                sku: sku.clone(),
                quantity: missing.iter().map(|m| m.quantity).sum(),
                orders: missing,
            });
        }
    }
    stops.sort_by(|a, b| {
        (locations.walk_position(&a.location), &a.location, &a.sku).cmp(&(
            locations.walk_position(&b.location),
            &b.location,
            &b.sku,
        ))
    });
    Ok(ApiResponse::json(
        200,
        &PickList {
            seller_id: seller,
            orders: orders.into_iter().map(|o| o.order_id).collect(),
            stops,
            short,
            unplanned,
        },
    ))
}

/// Units of a SKU scanned (or missing, or extra).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuCount {
    pub sku: Sku,
    /// 1 when left out: one scan per unit.
    #[serde(default = "one")]
    pub quantity: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// What the station scanned: one entry per scan, or per SKU with its count.
    pub scans: Vec<SkuCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub order_id: AmazonOrderId,
    /// The units the parcel holds, by SKU: exactly the order's open units.
    pub units: Vec<SkuCount>,
}

/// The scans against the order's open units, SKU by SKU: `Ok` with the units when they match,
/// else the mismatch problem listing what is missing and what is extra.
fn verify(order: &Order, scans: &[SkuCount]) -> Result<Vec<SkuCount>, Problem> {
    if let Some(line) = order.lines.iter().find(|l| l.sku.is_none()) {
        return Err(Problem::conflict(
            "unverifiable-order",
            "A line of the order has no SKU to scan",
            format!("order item {}", line.order_item_id),
        ));
    }
    let mut expected: BTreeMap<&Sku, u64> = BTreeMap::new();
    for line in &order.lines {
        if let Some(sku) = &line.sku {
            let open = line.quantity_ordered.saturating_sub(line.quantity_shipped);
            if open > 0 {
                *expected.entry(sku).or_default() += u64::from(open);
            }
        }
    }
    let mut scanned: BTreeMap<&Sku, u64> = BTreeMap::new();
    for s in scans {
        *scanned.entry(&s.sku).or_default() += u64::from(s.quantity);
    }
    let count = |sku: &Sku, q: u64| SkuCount {
        sku: sku.clone(),
        quantity: u32::try_from(q).unwrap_or(u32::MAX),
    };
    let missing: Vec<SkuCount> = expected
        .iter()
        .filter_map(|(sku, want)| {
            let got = scanned.get(sku).copied().unwrap_or(0);
            (got < *want).then(|| count(sku, want - got))
        })
        .collect();
    let extra: Vec<SkuCount> = scanned
        .iter()
        .filter_map(|(sku, got)| {
            let want = expected.get(sku).copied().unwrap_or(0);
            (*got > want).then(|| count(sku, got - want))
        })
        .collect();
    if missing.is_empty() && extra.is_empty() {
        Ok(expected.into_iter().map(|(s, q)| count(s, q)).collect())
    } else {
        Err(Problem::scan_mismatch(
            order.order_id.as_str(),
            missing,
            extra,
        ))
    }
}

/// The order must still be before its label: a labeled, shipped or ended order is not
/// packed again.
fn packable(order: &Order) -> Result<(), Problem> {
    match order.status {
        OrderStatus::Unshipped | OrderStatus::Picking | OrderStatus::Packed => Ok(()),
        other => Err(Problem::conflict(
            "order-status",
            "The order is not open for packing",
            format!("order {} is {}", order.order_id, status_name(other)),
        )),
    }
}

/// Scan-to-verify: the scanned SKUs and quantities against the order's open units.
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/verify",
    tag = "packing",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
    ),
    request_body(content = ScanRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The scans match the order", body = Verified),
        (status = 400, description = "A bad id or body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a packer or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is not open for packing, or has a line without SKU", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The scans do not match: what is missing and what is extra", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_scans(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &PACKERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let body: ScanRequest = json_body(req)?;
    let stored = stored(s, &seller, &order).await?;
    packable(&stored.order)?;
    let units = verify(&stored.order, &body.scans)?;
    Ok(ApiResponse::json(
        200,
        &Verified {
            order_id: order,
            units,
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackedRequest {
    /// The scans of the parcel(s), verified again against the order.
    pub scans: Vec<SkuCount>,
    /// The parcels as packed (weight, dimensions, order items in each). Empty: one parcel
    /// made from the seller's SKU catalog by `label-worker`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub packages: Vec<JobPackage>,
    /// The warehouse location the parcels leave from (one of the seller's label settings'
    /// `locations`); absent: the seller's main ship-from.
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Packed {
    pub order: OrderView,
    /// The label job sent for the order: `label-worker` buys each package's label once.
    pub label_job_id: String,
}

/// Packages' items must be the order's own lines, within what was ordered.
fn check_packages(order: &Order, packages: &[JobPackage]) -> Result<(), Problem> {
    let mut errors = Vec::new();
    let mut packed: BTreeMap<&OrderItemId, u64> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for (p, package) in packages.iter().enumerate() {
        if !ids.insert(&package.package_id) {
            errors.push(FieldProblem::new(
                format!("body/packages/{p}/package_id"),
                "given twice",
            ));
        }
        if package.weight_grams == 0 || package.items.is_empty() {
            errors.push(FieldProblem::new(
                format!("body/packages/{p}"),
                "a package weighs something and holds items",
            ));
        }
        for (i, item) in package.items.iter().enumerate() {
            if item.quantity == 0 {
                errors.push(FieldProblem::new(
                    format!("body/packages/{p}/items/{i}/quantity"),
                    "at least 1",
                ));
            }
            if !order
                .lines
                .iter()
                .any(|l| l.order_item_id == item.order_item_id)
            {
                errors.push(FieldProblem::new(
                    format!("body/packages/{p}/items/{i}/order_item_id"),
                    "not an item of this order",
                ));
            }
            *packed.entry(&item.order_item_id).or_default() += u64::from(item.quantity);
        }
    }
    for line in &order.lines {
        if packed.get(&line.order_item_id).copied().unwrap_or(0) > u64::from(line.quantity_ordered)
        {
            errors.push(FieldProblem::new(
                "body/packages",
                format!("more units of {} than are left to ship", line.order_item_id),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::invalid(errors))
    }
}

/// A label bought through Amazon prints Amazon's copy of the ship-to: not for an order whose
/// buyer corrected it (a data-subject request), which ships on the operator's own carrier.
fn labels_print_held_ship_to(now: &StoredOrder) -> Result<(), Problem> {
    match &now.pii.ship_to_corrected {
        None => Ok(()),
        Some(c) => Err(Problem::conflict(
            "ship-to-corrected",
            "The buyer corrected the ship-to: a label bought through Amazon would print Amazon's",
            format!(
                "order {}: ship it on the operator's own carrier to the ship-to held (corrected \
                 under request {})",
                now.order.order_id, c.request_id
            ),
        )),
    }
}

/// Packed: the scans verified again, the order Packed, its units picked in stock, and its
/// label job sent. Once per `Idempotency-Key`: a retry gets the first answer.
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/packed",
    tag = "packing",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
        ("Idempotency-Key" = String, Header, description = "The station's key for this packing: a retry with the same key and body gets the first answer", min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$"),
    ),
    request_body(content = PackedRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Packed; the label job is on its queue", body = Packed),
        (status = 400, description = "A bad id, body or key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a packer or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is not open for packing, its buyer corrected the ship-to (it ships on the operator's own carrier), or a request with this key is in progress", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The scans do not match, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A store or queue failed for now (retry with the same key)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn packed(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &PACKERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let key = key_of(req)?;
    let body: PackedRequest = json_body(req)?;
    once(s.keys, s.clock, req, &seller, &key, || async {
        // An order already packed is packed again only once every label bought for it was
        // voided (or given up): else a second packing would buy a second label.
        let entries = s
            .purchases
            .entries(&seller, &order)
            .await
            .map_err(store_problem)?;
        let relabel = !entries.is_empty()
            && entries.iter().all(|(_, e)| {
                matches!(
                    e,
                    PurchaseEntry::Voided(_) | PurchaseEntry::Abandoned { .. }
                )
            });
        let (after, moved) = move_order(s, &seller, &order, OrderStatus::Packed, |now| {
            packable(&now.order)?;
            labels_print_held_ship_to(now)?;
            verify(&now.order, &body.scans)?;
            check_packages(&now.order, &body.packages)
        })
        .await?;
        if !moved && !relabel {
            return Err(Problem::conflict(
                "already-packed",
                "The order is packed already and its label job sent",
                format!("order {order}: void its labels to pack it again"),
            ));
        }
        // The units left the shelves: reserved → picked (the id every announcer of the pick
        // uses, so label-worker's own announcement is the same change).
        let pick = announce(&after.order, StockChangeKind::Pick, None);
        s.stock_events.publish(&pick).await.map_err(|e| {
            tracing::warn!(error = %e, "stock change not sent");
            Problem::unavailable()
        })?;
        // One job per packing: the revision the packing wrote (or found, when packing again
        // after a void) never comes back, so a later packing is never a voided job's copy.
        let job_id = format!("pack-{}-r{}", order, after.revision);
        let job = ShipmentJob::Label(LabelJob {
            job_id: job_id.clone(),
            seller_id: seller.clone(),
            order_id: order.clone(),
            packages: body.packages.clone(),
            location: body.location.clone(),
            requested_by: caller.actor(),
        });
        s.jobs.send(&job).await.map_err(|e| {
            tracing::warn!(error = %e, "label job not sent");
            Problem::unavailable()
        })?;
        Ok(ApiResponse::json(
            202,
            &Packed {
                order: OrderView::from(after),
                label_job_id: job_id,
            },
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::OrderLine;

    fn order(lines: &[(&str, Option<&str>, u32)]) -> Order {
        serde_json::from_value(serde_json::json!({
            "seller_id": "A1SELLER", "order_id": "113-0000000-0000001", "marketplace_id": null,
            "status": "unshipped", "created_at": "2026-12-01T00:00:00Z",
            "last_updated_at": "2026-12-01T00:00:00Z", "ship_by": null, "deliver_by": null,
            "service_level": null, "programs": [], "packages": [],
            "lines": lines.iter().map(|(id, sku, q)| OrderLineJson(id, *sku, *q).json()).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    struct OrderLineJson<'a>(&'a str, Option<&'a str>, u32);
    impl OrderLineJson<'_> {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(OrderLine {
                order_item_id: OrderItemId::parse(self.0).unwrap(),
                sku: self.1.map(|s| Sku::parse(s).unwrap()),
                asin: None,
                title: None,
                quantity_ordered: self.2,
                quantity_shipped: 0,
                unit_price: None,
            })
            .unwrap()
        }
    }

    fn scans(s: &[(&str, u32)]) -> Vec<SkuCount> {
        s.iter()
            .map(|(sku, q)| SkuCount {
                sku: Sku::parse(*sku).unwrap(),
                quantity: *q,
            })
            .collect()
    }

    #[test]
    fn scans_must_match_the_open_units_sku_by_sku() {
        let o = order(&[
            ("1", Some("MUG"), 2),
            ("2", Some("LID"), 1),
            ("3", Some("MUG"), 1),
        ]);
        let units = verify(
            &o,
            &scans(&[("MUG", 1), ("LID", 1), ("MUG", 1), ("MUG", 1)]),
        )
        .unwrap();
        assert_eq!(units, scans(&[("LID", 1), ("MUG", 3)]));
        let p = verify(&o, &scans(&[("MUG", 2), ("CUP", 1)])).unwrap_err();
        assert_eq!(p.status, 422);
        assert_eq!(*p.missing.unwrap(), scans(&[("LID", 1), ("MUG", 1)]));
        assert_eq!(*p.extra.unwrap(), scans(&[("CUP", 1)]));
        let no_sku = order(&[("1", None, 1)]);
        assert_eq!(verify(&no_sku, &[]).unwrap_err().status, 409);
    }
}
