//! Orders: the seller's orders listed and filtered, one order without PII, its ship-to for the
//! roles whose job needs it (audited before it is opened), and a picker taking an order up.

use super::GatewayMessage;
use super::{
    ApiRequest, ApiResponse, Caller, FieldProblem, Problem, Role, Services, all_or_problems,
    authorize, only_query, path_param,
};
use crate::kernel::{Address, AmazonOrderId, Pii, PiiKind, SellerId, StoreError};
use crate::orders::{Order, OrderFilter, OrderStatus, PageKey, StoredOrder};
use crate::pii::{OpenedPii, PiiState, ReaderError};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Who reads orders (never their PII): the floor and the office.
pub const ORDER_READERS: [Role; 4] = [Role::Picker, Role::Packer, Role::Supervisor, Role::Admin];
/// Who may open an order's ship-to: the packer printing it, the supervisor sorting out an
/// address. Nobody else's job needs it.
pub const SHIP_TO_READERS: [Role; 2] = [Role::Packer, Role::Supervisor];
/// Who takes orders up for picking.
pub const PICKERS: [Role; 2] = [Role::Picker, Role::Supervisor];

const MAX_PAGE: u32 = 100;
const DEFAULT_PAGE: u32 = 50;

/// An order as the API shows it: the facts (no PII), the write revision, where its PII stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub revision: u64,
    pub pii: PiiView,
}

/// Whether the order's PII is held, and until when. Never the PII itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct PiiView {
    /// `held`, `purged` or `none`.
    pub state: &'static str,
    pub purge_at: DateTime<Utc>,
    /// Since when the buyer restricted its use to the shipment (a data-subject request): the
    /// label is bought and printed, the ship-to shown to nobody, the packing slip printed
    /// without it. `null`: not restricted.
    pub restricted_since: Option<DateTime<Utc>>,
    /// When the buyer corrected the ship-to (a data-subject request): the one held is theirs,
    /// not Amazon's, so the order ships on the operator's own carrier, not on a label bought
    /// through Amazon. `null`: as Amazon sent it.
    pub ship_to_corrected_at: Option<DateTime<Utc>>,
}

impl From<StoredOrder> for OrderView {
    fn from(s: StoredOrder) -> OrderView {
        OrderView {
            pii: PiiView {
                state: s.pii.state.as_str(),
                purge_at: s.pii.purge_at,
                restricted_since: s.pii.restricted.as_ref().map(|r| r.at),
                ship_to_corrected_at: s.pii.ship_to_corrected.as_ref().map(|c| c.at),
            },
            revision: s.revision,
            order: s.order,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderView>,
    /// Opaque: pass it back as `cursor`, with the same filters, for the next page. Absent on
    /// the last page. A page may hold fewer orders than `limit` and still have a next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Why the ship-to is opened, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipToPurpose {
    /// Packing: checking the parcel's address against the label.
    Packing,
    /// An address the carrier or the label service refused.
    AddressProblem,
    /// A parcel lost, returned or undelivered.
    DeliveryProblem,
    /// The label of a parcel shipped on the operator's own carrier: the shipment itself, which
    /// a buyer's restriction still allows.
    OwnCarrierLabel,
}

impl ShipToPurpose {
    const ALL: [ShipToPurpose; 4] = [
        ShipToPurpose::Packing,
        ShipToPurpose::AddressProblem,
        ShipToPurpose::DeliveryProblem,
        ShipToPurpose::OwnCarrierLabel,
    ];

    /// Whether it is the shipment itself (what a restriction still opens the ship-to for).
    pub fn is_the_shipment(self) -> bool {
        self == ShipToPurpose::OwnCarrierLabel
    }

    pub fn name(self) -> &'static str {
        match self {
            ShipToPurpose::Packing => "packing",
            ShipToPurpose::AddressProblem => "address_problem",
            ShipToPurpose::DeliveryProblem => "delivery_problem",
            ShipToPurpose::OwnCarrierLabel => "own_carrier_label",
        }
    }
}

/// The recipient, opened for a person whose job needs it. Buyer PII: shown, never stored,
/// logged or cached (`cache-control: no-store`).
#[derive(Serialize, ToSchema)]
pub struct ShipTo {
    pub order_id: AmazonOrderId,
    pub name: Option<String>,
    pub company_name: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub district_or_county: Option<String>,
    pub state_or_region: Option<String>,
    pub municipality: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub address_type: Option<String>,
}

pub(super) fn store_problem(e: StoreError) -> Problem {
    tracing::warn!(error = %e, "store failed");
    Problem::unavailable()
}

/// The seller and order of a path, each refusal named.
pub(super) fn seller_and_order(
    seller: &str,
    order: &str,
) -> Result<(SellerId, AmazonOrderId), Problem> {
    all_or_problems(
        path_param("seller_id", seller, SellerId::parse),
        path_param("order_id", order, AmazonOrderId::parse),
    )
}

/// The stored order, or 404.
pub(super) async fn stored(
    s: &Services<'_>,
    seller: &SellerId,
    order: &AmazonOrderId,
) -> Result<StoredOrder, Problem> {
    s.orders
        .load(seller, order)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no order {order} of seller {seller}")))
}

fn status_of(name: &str) -> Option<OrderStatus> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// What a cursor holds: where the page ended, and the filter it was given for (a position of
/// one filter's pages is no position of another's).
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    filter: String,
    key: PageKey,
}

/// The filter in words that do not change between deploys.
fn filter_tag(filter: &OrderFilter) -> String {
    let name = |s: &OrderStatus| serde_json::to_string(s).unwrap_or_default();
    match filter {
        OrderFilter::Open {
            statuses,
            ship_by_before,
        } => format!(
            "open:{}:{}",
            statuses.iter().map(name).collect::<Vec<_>>().join(","),
            ship_by_before
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_default()
        ),
        OrderFilter::Status(s) => format!("status:{}", name(s)),
        OrderFilter::All => "all".to_owned(),
    }
}

fn cursor_of(key: &PageKey, filter: &OrderFilter) -> String {
    let json = serde_json::to_string(&Cursor {
        filter: filter_tag(filter),
        key: key.clone(),
    })
    .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("orders:{json}"))
}

/// A cursor this API gave for this seller and filter, else `None`.
fn key_of(
    cursor: &str,
    seller: &SellerId,
    filter: &OrderFilter,
    names: &[&str],
) -> Option<PageKey> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let Cursor { filter: tag, key } = serde_json::from_str(text.strip_prefix("orders:")?).ok()?;
    let same_names = key.len() == names.len() && names.iter().all(|n| key.contains_key(*n));
    (tag == filter_tag(filter)
        && same_names
        && key.get("seller_id").map(String::as_str) == Some(seller.as_str()))
    .then_some(key)
}

/// The seller's orders, filtered by status and ship-by, a page at a time.
#[utoipa::path(
    get,
    path = "/orders/{seller_id}",
    tag = "orders",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("status" = Option<String>, Query, description = "`open` (every open status, earliest ship-by first), or one status: pending, unshipped, picking, packed, labeled, shipped, delivered, canceled, unfulfillable. Absent: every order, by order id", pattern = "^(open|pending|unshipped|picking|packed|labeled|shipped|delivered|canceled|unfulfillable)$"),
        ("ship_by_before" = Option<DateTime<Utc>>, Query, description = "Open orders due to ship by this instant (RFC 3339); only with an open status"),
        ("limit" = Option<u32>, Query, description = "Orders read for one page, 1 to 100 (50)", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before, with the same filters"),
    ),
    responses(
        (status = 200, description = "One page of orders", body = OrderList),
        (status = 400, description = "A bad id, filter, limit or cursor, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a role that reads orders", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_orders(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &ORDER_READERS)?;
    only_query(req, &["status", "ship_by_before", "limit", "cursor"])?;
    let mut errors = Vec::new();
    let seller = path_param("seller_id", seller, SellerId::parse).map_err(|e| errors.push(e));
    let status = match req.query.get("status").map(String::as_str) {
        None => Ok(None),
        Some("open") => Ok(Some(None)),
        Some(name) => status_of(name).map(|s| Some(Some(s))).ok_or(()),
    }
    .map_err(|()| {
        errors.push(FieldProblem::new(
            "query.status",
            "open, or one of the order statuses",
        ))
    });
    let before = req
        .query
        .get("ship_by_before")
        .map(|t| DateTime::parse_from_rfc3339(t).map(|t| t.to_utc()))
        .transpose()
        .map_err(|_| {
            errors.push(FieldProblem::new(
                "query.ship_by_before",
                "an RFC 3339 instant",
            ))
        });
    let limit = match req.query.get("limit").map(|l| l.parse::<u32>()) {
        None => DEFAULT_PAGE,
        Some(Ok(l)) if (1..=MAX_PAGE).contains(&l) => l,
        Some(_) => {
            errors.push(FieldProblem::new(
                "query.limit",
                format!("a whole number from 1 to {MAX_PAGE}"),
            ));
            0
        }
    };
    let (Ok(seller), Ok(status), Ok(before)) = (seller, status, before) else {
        return Err(Problem::invalid(errors));
    };
    let filter = match status {
        Some(None) => OrderFilter::Open {
            statuses: Vec::new(),
            ship_by_before: before,
        },
        Some(Some(status)) if status.is_open() => OrderFilter::Open {
            statuses: vec![status],
            ship_by_before: before,
        },
        _ if before.is_some() => {
            errors.push(FieldProblem::new(
                "query.ship_by_before",
                "only with status open, unshipped, picking, packed or labeled",
            ));
            OrderFilter::All
        }
        Some(Some(status)) => OrderFilter::Status(status),
        None => OrderFilter::All,
    };
    let after = match req.query.get("cursor") {
        None => None,
        Some(c) => {
            let key = key_of(c, &seller, &filter, s.listing.page_key_names(&filter));
            if key.is_none() {
                errors.push(FieldProblem::new(
                    "query.cursor",
                    "not a cursor this API gave for these filters",
                ));
            }
            key
        }
    };
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let page = s
        .listing
        .list(&seller, &filter, limit, after.as_ref())
        .await
        .map_err(store_problem)?;
    Ok(ApiResponse::json(
        200,
        &OrderList {
            orders: page.orders.into_iter().map(OrderView::from).collect(),
            next_cursor: page.next.as_ref().map(|k| cursor_of(k, &filter)),
        },
    ))
}

/// One order: its lines, dates, status, packages and parcels. No PII.
#[utoipa::path(
    get,
    path = "/orders/{seller_id}/{order_id}",
    tag = "orders",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id (3-7-7 digits)"),
    ),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 400, description = "A bad id or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a role that reads orders", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_order(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &ORDER_READERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let stored = stored(s, &seller, &order).await?;
    Ok(ApiResponse::json(200, &OrderView::from(stored)))
}

pub(super) fn shown(v: &Option<Pii<String>>) -> Option<String> {
    v.as_ref().map(|v| v.expose().clone())
}

impl ShipTo {
    /// The opened recipient, every field as Amazon sent it.
    pub(super) fn of(order_id: AmazonOrderId, a: &Address) -> ShipTo {
        ShipTo {
            order_id,
            name: shown(&a.name),
            company_name: shown(&a.company_name),
            address_line1: shown(&a.address_line1),
            address_line2: shown(&a.address_line2),
            address_line3: shown(&a.address_line3),
            city: shown(&a.city),
            district_or_county: shown(&a.district_or_county),
            state_or_region: shown(&a.state_or_region),
            municipality: shown(&a.municipality),
            postal_code: shown(&a.postal_code),
            country_code: shown(&a.country_code),
            phone: shown(&a.phone),
            address_type: shown(&a.address_type),
        }
    }
}

/// The order's ship-to, opened for the caller with the purpose they state. The read is on the
/// audit log (actor, order, purpose) before the PII key is used, and the key's `Decrypt` is in
/// CloudTrail with the order's encryption context.
#[utoipa::path(
    get,
    path = "/orders/{seller_id}/{order_id}/ship-to",
    tag = "orders",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
        ("purpose" = String, Query, description = "Why it is opened: packing, address_problem, delivery_problem, or own_carrier_label (the label of a parcel on the operator's own carrier: the one purpose a buyer's restriction still allows)", pattern = "^(packing|address_problem|delivery_problem|own_carrier_label)$"),
    ),
    responses(
        (status = 200, description = "The recipient (buyer PII)", body = ShipTo),
        (status = 400, description = "A bad id, a missing or unknown purpose, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a role whose job needs the ship-to (packer, supervisor)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The buyer restricted their data to the shipment: the ship-to is shown for an own-carrier label only", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The order's PII is no longer held (purged, deleted on request) or never was", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read could not be put on record, or a store failed: nothing was opened", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ship_to(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &SHIP_TO_READERS)?;
    only_query(req, &["purpose"])?;
    let purpose = match req.query.get("purpose") {
        None => Err(FieldProblem::new("query.purpose", "required")),
        Some(p) => ShipToPurpose::ALL
            .into_iter()
            .find(|k| k.name() == p)
            .ok_or_else(|| {
                FieldProblem::new(
                    "query.purpose",
                    "packing, address_problem, delivery_problem or own_carrier_label",
                )
            }),
    };
    let ((seller, order), purpose) = match (seller_and_order(seller, order), purpose) {
        (Ok(ids), Ok(p)) => (ids, p),
        (ids, p) => {
            let mut errors = ids.err().map(|p| p.errors).unwrap_or_default();
            errors.extend(p.err());
            return Err(Problem::invalid(errors));
        }
    };
    let shipment = purpose.is_the_shipment();
    let purpose = format!("ship-to: {}", purpose.name());
    let stored = stored(s, &seller, &order).await?;
    let a = open_ship_to(s, caller, &purpose, shipment, &stored).await?;
    Ok(ApiResponse::json(200, &ShipTo::of(order, &a)))
}

/// The stored order's recipient, opened for `caller` with `purpose` (on the audit log before
/// the key is used); 410 once the order's PII is no longer held, 409 when the buyer restricted
/// it to the shipment and `for_the_shipment` is not so.
pub(super) async fn open_ship_to(
    s: &Services<'_>,
    caller: &Caller,
    purpose: &str,
    for_the_shipment: bool,
    stored: &StoredOrder,
) -> Result<Address, Problem> {
    let (seller, order) = (&stored.order.seller_id, &stored.order.order_id);
    if stored.pii.state != PiiState::Held {
        return Err(Problem::gone(format!(
            "order {order}: PII {}",
            stored.pii.state.as_str()
        )));
    }
    if !for_the_shipment && !stored.pii.shown_to_staff() {
        return Err(restricted(order));
    }
    let opened = s
        .reader
        .open(&caller.actor(), purpose, seller, order, PiiKind::Recipient)
        .await
        .map_err(reader_problem)?;
    match opened {
        Some(OpenedPii::Recipient(a)) => Ok(a),
        _ => Err(Problem::gone(format!("order {order}: no ship-to held"))),
    }
}

/// The buyer restricted their data to the shipment: nothing else opens it.
pub(super) fn restricted(order: &AmazonOrderId) -> Problem {
    Problem::conflict(
        "pii-restricted",
        "The buyer restricted the use of their data to the shipment",
        format!("order {order}: its ship-to opens only for its label (purpose own_carrier_label)"),
    )
}

pub(super) fn reader_problem(e: ReaderError) -> Problem {
    tracing::warn!(error = %e, "PII read failed");
    Problem::unavailable()
}

/// A picker takes the order up: Unshipped → Picking (again: no change).
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/picking",
    tag = "picking",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
    ),
    responses(
        (status = 200, description = "The order, now picking", body = OrderView),
        (status = 400, description = "A bad id or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a picker or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is past picking, or not open", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_picking(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &PICKERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let (after, _) =
        super::packing::move_order(s, &seller, &order, OrderStatus::Picking, |_| Ok(())).await?;
    Ok(ApiResponse::json(200, &OrderView::from(after)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_belongs_to_its_seller_and_filter() {
        let seller = SellerId::parse("A1SELLER").unwrap();
        let key: PageKey = [
            ("seller_id".to_owned(), "A1SELLER".to_owned()),
            ("order_id".to_owned(), "113-0000000-0000001".to_owned()),
        ]
        .into();
        let shipped = OrderFilter::Status(OrderStatus::Shipped);
        let names = ["order_id", "seller_id"];
        let c = cursor_of(&key, &shipped);
        assert_eq!(key_of(&c, &seller, &shipped, &names), Some(key.clone()));
        let other = SellerId::parse("A2OTHER").unwrap();
        assert_eq!(key_of(&c, &other, &shipped, &names), None);
        assert_eq!(
            key_of(
                &c,
                &seller,
                &shipped,
                &["open_ship_by", "order_id", "seller_id"]
            ),
            None,
            "a cursor of the table is no cursor of the open-orders index"
        );
        // The same index read with other filter values is another list.
        let canceled = OrderFilter::Status(OrderStatus::Canceled);
        assert_eq!(key_of(&c, &seller, &canceled, &names), None);
        let due = |h: i64| OrderFilter::Open {
            statuses: Vec::new(),
            ship_by_before: Some(DateTime::UNIX_EPOCH + chrono::Duration::hours(h)),
        };
        let open = cursor_of(&key, &due(1));
        assert_eq!(key_of(&open, &seller, &due(1), &names), Some(key.clone()));
        assert_eq!(key_of(&open, &seller, &due(2), &names), None);
        assert_eq!(
            key_of("b3JkZXJzOnt9", &seller, &shipped, &["order_id"]),
            None
        );
    }
}
