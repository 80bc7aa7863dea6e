//! Stock reads: a SKU's levels by location, and its ledger.

use super::GatewayMessage;
use super::idempotency::{fingerprint, key_of, once};
use super::{
    ApiRequest, ApiResponse, FieldProblem, Problem, Role, Services, authorize, json_body,
    only_query, path_param,
};
use crate::kernel::{AmazonOrderId, SellerId, Sku, StoreError};
use crate::stock::{
    LocationId, LocationKind, Movement, MovementId, MovementKind, MovementOutcome, StaffMovement,
    StockError, StockLedger, Warehouse, apply_movement, standing,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who may read stock: everyone on the floor and the office, not auditors (they read the
/// audit report).
pub const STOCK_READERS: [Role; 4] = [Role::Picker, Role::Packer, Role::Supervisor, Role::Admin];

/// Who moves stock, by movement: receiving and moving are floor work, returns are the returns
/// desk's (packers), and a count correction is a supervisor's or the office's.
pub const RECEIVERS: [Role; 3] = [Role::Picker, Role::Supervisor, Role::Admin];
pub const RETURNS_DESK: [Role; 3] = [Role::Packer, Role::Supervisor, Role::Admin];
pub const COUNT_CORRECTORS: [Role; 2] = [Role::Supervisor, Role::Admin];

/// The longest reason an adjustment keeps.
const MAX_REASON: usize = 200;

/// Ledger entries on one page, at most and by default.
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 200;

/// One location's count of the SKU.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocationLevel {
    pub location: LocationId,
    /// `None`: a location the seller no longer lists (its stock is not for sale).
    pub kind: Option<LocationKind>,
    pub on_hand: u64,
}

/// Where a SKU stands, in the warehouse's walking order.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockLevels {
    pub seller_id: SellerId,
    pub sku: Sku,
    pub locations: Vec<LocationLevel>,
    /// Units held by open orders, not yet picked.
    pub reserved: u64,
    /// Units picked, not yet shipped.
    pub picked: u64,
    pub buffer: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_stock_at: Option<u32>,
    /// What Amazon is told: on hand in sellable locations − reserved − buffer (for a kit, its
    /// scarcest component's share). `None`: not managed (a kit with an unmanaged component).
    pub available: Option<u32>,
    /// What Amazon last accepted, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amazon_quantity: Option<u32>,
}

/// One page of a SKU's ledger, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPage {
    pub movements: Vec<Movement>,
    /// Opaque: pass it back as `cursor` for the next page. Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn store_problem(e: StoreError) -> Problem {
    tracing::warn!(error = %e, "stock store failed");
    Problem::unavailable()
}

/// The seller from the path, the SKU from the query (`sku`, required), each refusal named.
fn seller_and_sku(req: &ApiRequest, seller: &str) -> Result<(SellerId, Sku), Problem> {
    let seller = path_param("seller_id", seller, SellerId::parse);
    let sku = match req.query.get("sku") {
        Some(sku) => Sku::parse(sku.clone()).map_err(|e| FieldProblem {
            field: "query.sku".into(),
            message: e.to_string(),
        }),
        None => Err(FieldProblem {
            field: "query.sku".into(),
            message: "required".into(),
        }),
    };
    match (seller, sku) {
        (Ok(seller), Ok(sku)) => Ok((seller, sku)),
        (seller, sku) => Err(Problem::invalid(
            [seller.err(), sku.err()].into_iter().flatten().collect(),
        )),
    }
}

/// A SKU's levels by location, reservations, buffer and what is available to sell.
#[utoipa::path(
    get,
    path = "/stock/{seller_id}/levels",
    tag = "stock",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("sku" = String, Query, description = "The seller's SKU", min_length = 1, max_length = 40),
    ),
    responses(
        (status = 200, description = "The SKU's levels", body = StockLevels),
        (status = 400, description = "A bad id or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a role that reads stock", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stock record of the SKU", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stock_levels(
    ledger: &dyn StockLedger,
    req: &ApiRequest,
    seller: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &STOCK_READERS)?;
    only_query(req, &["sku"])?;
    let (seller, sku) = seller_and_sku(req, seller)?;
    let warehouse = ledger.warehouse(&seller).await.map_err(store_problem)?;
    match levels_of(ledger, &seller, &sku, &warehouse).await? {
        Some(levels) => Ok(ApiResponse::json(200, &levels)),
        None => Err(Problem::not_found(format!(
            "no stock record of {sku} for seller {seller}"
        ))),
    }
}

/// Where the SKU stands now; `None` without a stock record of it (and not a kit).
async fn levels_of(
    ledger: &dyn StockLedger,
    seller: &SellerId,
    sku: &Sku,
    warehouse: &Warehouse,
) -> Result<Option<StockLevels>, Problem> {
    let (position, available) = standing(ledger, seller, sku, warehouse)
        .await
        .map_err(store_problem)?;
    if !position.known && !warehouse.kits.kits.contains_key(sku) {
        return Ok(None);
    }
    let locations = &warehouse.locations;
    let mut levels: Vec<LocationLevel> = position
        .on_hand
        .iter()
        .map(|(l, q)| LocationLevel {
            location: l.clone(),
            kind: locations.kind(l),
            on_hand: *q,
        })
        .collect();
    levels.sort_by_key(|l| locations.walk_position(&l.location));
    Ok(Some(StockLevels {
        seller_id: seller.clone(),
        sku: sku.clone(),
        locations: levels,
        reserved: position.reserved,
        picked: position.picked,
        buffer: position.settings.buffer,
        low_stock_at: position.settings.low_stock_at,
        available,
        amazon_quantity: position.listing.accepted_quantity,
    }))
}

/// Where a page ended: the last movement's time and id (the ledger's order). Keyed, not an
/// offset: a movement recorded late with an earlier time does not shift the pages after it.
fn cursor_of(last: &Movement) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "ledger:{}|{}",
        // Every digit the ledger keeps: a cursor rounded down would give its movement again.
        last.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        last.movement_id.as_str()
    ))
}

fn after_of(cursor: &str) -> Option<(chrono::DateTime<chrono::Utc>, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (at, id) = text.strip_prefix("ledger:")?.split_once('|')?;
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?.to_utc();
    Some((at, id.to_owned()))
}

/// A SKU's movements as the ledger keeps them (append-only), oldest first.
#[utoipa::path(
    get,
    path = "/stock/{seller_id}/ledger",
    tag = "stock",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("sku" = String, Query, description = "The seller's SKU", min_length = 1, max_length = 40),
        ("limit" = Option<u32>, Query, description = "Movements on one page, 1 to 1000 (200)", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before"),
    ),
    responses(
        (status = 200, description = "One page of the ledger", body = LedgerPage),
        (status = 400, description = "A bad id, limit or cursor, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a role that reads stock", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stock_ledger(
    ledger: &dyn StockLedger,
    req: &ApiRequest,
    seller: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &STOCK_READERS)?;
    only_query(req, &["sku", "limit", "cursor"])?;
    let (seller, sku) = seller_and_sku(req, seller)?;
    let mut errors = Vec::new();
    let limit = match req.query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_PAGE,
        Some(Ok(l)) if (1..=MAX_PAGE).contains(&l) => l,
        Some(_) => {
            errors.push(FieldProblem {
                field: "query.limit".into(),
                message: format!("a whole number from 1 to {MAX_PAGE}"),
            });
            0
        }
    };
    let after = match req.query.get("cursor").map(|c| after_of(c)) {
        None => None,
        Some(Some(after)) => Some(after),
        Some(None) => {
            errors.push(FieldProblem {
                field: "query.cursor".into(),
                message: "not a cursor this API gave".into(),
            });
            None
        }
    };
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    // The whole ledger is read for each page (the store has no ordered range read of it yet).
    let all = ledger
        .movements(&seller, &sku)
        .await
        .map_err(store_problem)?;
    let start = match &after {
        None => 0,
        Some((at, id)) => {
            all.partition_point(|m| (m.at, m.movement_id.as_str()) <= (*at, id.as_str()))
        }
    };
    let end = start.saturating_add(limit).min(all.len());
    let movements = all[start..end].to_vec();
    let next_cursor = (end < all.len())
        .then(|| movements.last().map(cursor_of))
        .flatten();
    Ok(ApiResponse::json(
        200,
        &LedgerPage {
            movements,
            next_cursor,
        },
    ))
}

/// A movement staff make, as its body says it. Its kind decides who may make it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MovementRequest {
    /// Units arrived at a location (a supplier's delivery, a transfer in). Picker,
    /// supervisor, admin.
    Receive {
        sku: Sku,
        location: LocationId,
        /// At least 1.
        #[schema(minimum = 1)]
        quantity: u32,
    },
    /// A count correction, up or down, with its reason (damaged, found, miscounted).
    /// Supervisor, admin.
    Adjust {
        sku: Sku,
        location: LocationId,
        /// Not 0; a negative one takes no more than the location holds.
        delta: i64,
        /// 1 to 200 characters, not all blank, no control characters (kept in the ledger
        /// trimmed): no customer's name or address.
        #[schema(
            min_length = 1,
            max_length = 200,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
        )]
        reason: String,
    },
    /// Units from one location to another. Picker, supervisor, admin.
    Move {
        sku: Sku,
        from: LocationId,
        to: LocationId,
        /// At least 1, no more than `from` holds.
        #[schema(minimum = 1)]
        quantity: u32,
    },
    /// A returned unit fit to sell again, into a sellable location. Packer, supervisor,
    /// admin.
    ReturnToStock {
        sku: Sku,
        location: LocationId,
        #[schema(minimum = 1)]
        quantity: u32,
        /// The order it came back from, if known.
        #[serde(default)]
        order_id: Option<AmazonOrderId>,
    },
    /// A returned unit to inspect, into a quarantine location. Packer, supervisor, admin.
    ReturnToQuarantine {
        sku: Sku,
        location: LocationId,
        #[schema(minimum = 1)]
        quantity: u32,
        #[serde(default)]
        order_id: Option<AmazonOrderId>,
    },
}

impl MovementRequest {
    fn roles(&self) -> &'static [Role] {
        match self {
            MovementRequest::Receive { .. } | MovementRequest::Move { .. } => &RECEIVERS,
            MovementRequest::Adjust { .. } => &COUNT_CORRECTORS,
            MovementRequest::ReturnToStock { .. } | MovementRequest::ReturnToQuarantine { .. } => {
                &RETURNS_DESK
            }
        }
    }

    /// Every field the ledger would refuse, named (its values are ids and counts).
    fn check(&self) -> Result<(), Problem> {
        let mut errors = Vec::new();
        let mut at_least_one = |q: u32| {
            if q == 0 {
                errors.push(FieldProblem::new("body/quantity", "at least 1"));
            }
        };
        match self {
            MovementRequest::Receive { quantity, .. }
            | MovementRequest::ReturnToStock { quantity, .. }
            | MovementRequest::ReturnToQuarantine { quantity, .. } => at_least_one(*quantity),
            MovementRequest::Move {
                from, to, quantity, ..
            } => {
                at_least_one(*quantity);
                if from == to {
                    errors.push(FieldProblem::new("body/to", "another location than `from`"));
                }
            }
            MovementRequest::Adjust { delta, reason, .. } => {
                if *delta == 0 {
                    errors.push(FieldProblem::new("body/delta", "not 0"));
                }
                if reason.trim().is_empty() || reason.chars().count() > MAX_REASON {
                    errors.push(FieldProblem::new(
                        "body/reason",
                        format!("1 to {MAX_REASON} characters"),
                    ));
                } else if reason.chars().any(char::is_control) {
                    errors.push(FieldProblem::new("body/reason", "no control characters"));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::invalid(errors))
        }
    }

    /// The SKU, the ledger's kind of movement, and the order it names.
    fn into_parts(self) -> (Sku, MovementKind, Option<AmazonOrderId>) {
        match self {
            MovementRequest::Receive {
                sku,
                location,
                quantity,
            } => (sku, MovementKind::Receive { location, quantity }, None),
            MovementRequest::Adjust {
                sku,
                location,
                delta,
                reason,
            } => (
                sku,
                MovementKind::Adjust {
                    location,
                    delta,
                    reason: reason.trim().to_owned(),
                },
                None,
            ),
            MovementRequest::Move {
                sku,
                from,
                to,
                quantity,
            } => (sku, MovementKind::Move { from, to, quantity }, None),
            MovementRequest::ReturnToStock {
                sku,
                location,
                quantity,
                order_id,
            } => (
                sku,
                MovementKind::ReturnToStock { location, quantity },
                order_id,
            ),
            MovementRequest::ReturnToQuarantine {
                sku,
                location,
                quantity,
                order_id,
            } => (
                sku,
                MovementKind::ReturnToQuarantine { location, quantity },
                order_id,
            ),
        }
    }
}

/// Whether the movement was written now, or found written by an earlier request.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementOutcomeView {
    Applied,
    AlreadyApplied,
}

/// A movement in the ledger, and where its SKU stands after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovementRecorded {
    pub movement: Movement,
    pub outcome: MovementOutcomeView,
    /// `None` when the SKU's levels could not be read just now (the movement stands).
    pub levels: Option<StockLevels>,
    /// Not yet sent to stock-sync: Amazon learns the quantity with the SKU's next movement,
    /// a quantity notice or the daily reconciliation.
    pub amazon_pending: bool,
}

/// The ledger's refusal as a problem: ids and counts only.
fn refusal(kind: &'static str, reason: String) -> Problem {
    let (status, kind, title) = match kind {
        "not_on_hand" => (409, "not-on-hand", "Not that many units on hand"),
        "unknown_location" => (422, "unknown-location", "Not one of the seller's locations"),
        "wrong_location_kind" => (
            422,
            "wrong-location-kind",
            "The location is not of the kind this movement goes to",
        ),
        "kit_has_no_stock" => (
            422,
            "kit-has-no-stock",
            "A kit holds no stock: move its components",
        ),
        _ => (422, "movement-refused", "The ledger refused the movement"),
    };
    Problem::new(status, kind, title).with_detail(reason)
}

fn stock_failed(e: StockError) -> Problem {
    tracing::warn!(error_kind = e.kind(), error = %e, "stock movement not applied for now");
    Problem::unavailable()
}

/// A staff movement (receive, adjust, move, return) applied to the ledger now, so the answer
/// says what happened, then sent to stock-sync, which finds it applied and pushes the SKU's
/// quantity to Amazon.
#[utoipa::path(
    post,
    path = "/stock/{seller_id}/movements",
    tag = "stock",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("Idempotency-Key" = String, Header, description = "The station's key for this movement: a retry with the same key and body gets the first answer and moves nothing", min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$"),
    ),
    request_body(content = MovementRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "In the ledger; stock-sync tells Amazon", body = MovementRecorded),
        (status = 400, description = "A bad id, body or key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a role that makes this kind of movement", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not that many units on hand, or a request with this key is in progress", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown location, a location of the wrong kind, a kit, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger or the stock queue failed for now (retry with the same key: nothing moves twice)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn record_movement(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &STOCK_READERS)?;
    only_query(req, &[])?;
    let seller =
        path_param("seller_id", seller, SellerId::parse).map_err(|e| Problem::invalid(vec![e]))?;
    let key = key_of(req)?;
    let body: MovementRequest = json_body(req)?;
    body.check()?;
    let allowed = body.roles();
    if !caller.may(allowed) {
        return Err(Problem::forbidden(allowed));
    }
    // The key and the request name the movement: a retry is the same movement even once its
    // key's record is gone, and the same key on another movement is another movement.
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{}\n{}", key.as_str(), fingerprint(req)).as_bytes(),
    );
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let movement_id = MovementId::parse(format!("api-{hex}")).map_err(|_| Problem::internal())?;
    once(s.keys, s.clock, req, &seller, &key, || async {
        let (sku, kind, order_id) = body.into_parts();
        let now = s.clock.now();
        let staff = StaffMovement {
            movement_id,
            seller_id: seller.clone(),
            sku: sku.clone(),
            kind,
            actor: caller.actor(),
            at: Some(now),
            order_id,
        };
        let movement = staff
            .clone()
            .into_movement(now)
            .map_err(|_| Problem::internal())?;
        let warehouse = s.stock.warehouse(&seller).await.map_err(store_problem)?;
        // A kit is never on a shelf: its movement is refused, a component's is itself.
        let movement = match warehouse.kits.expand(movement, None) {
            Ok(mut parts) if parts.len() == 1 => parts.remove(0),
            Ok(_) => return Err(Problem::internal()),
            Err(r) => return Err(refusal(r.kind, r.reason)),
        };
        let outcome = match apply_movement(s.stock, &movement, &warehouse)
            .await
            .map_err(stock_failed)?
        {
            MovementOutcome::Applied { .. } => MovementOutcomeView::Applied,
            MovementOutcome::AlreadyApplied => MovementOutcomeView::AlreadyApplied,
            MovementOutcome::Refused { kind, reason } => return Err(refusal(kind, reason)),
            MovementOutcome::Nothing { why } => {
                return Err(Problem::new(
                    422,
                    "movement-refused",
                    "The ledger refused the movement",
                )
                .with_detail(why));
            }
        };
        // In the ledger now, whatever follows: the answer says so (a 503 would tell the
        // station to move it again). Amazon not told yet is said, and made good by the SKU's
        // next movement, a quantity notice or the daily reconciliation.
        let amazon_pending = match s.stock_events.publish_movement(&staff).await {
            Ok(()) => false,
            Err(e) => {
                tracing::warn!(error = %e, movement_id = %movement.movement_id, "stock movement not sent to stock-sync");
                true
            }
        };
        // The warehouse read above serves: a movement changes no location or kit.
        let levels = levels_of(s.stock, &seller, &sku, &warehouse)
            .await
            .unwrap_or(None);
        Ok(ApiResponse::json(
            201,
            &MovementRecorded {
                movement,
                outcome,
                levels,
                amazon_pending,
            },
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_names_the_last_movement_and_a_forged_one_is_refused() {
        let m: Movement = serde_json::from_value(serde_json::json!({
            "movement_id": "rcv-7", "seller_id": "A1", "sku": "SKU-1", "kind": "receive",
            "location": "A-01", "quantity": 2, "actor": "staff", "at": "2026-12-02T05:00:00.123456789Z",
        }))
        .unwrap();
        let (at, id) = after_of(&cursor_of(&m)).unwrap();
        assert_eq!((at, id.as_str()), (m.at, "rcv-7"));
        assert_eq!(after_of("bm90IGEgY3Vyc29y"), None);
        assert_eq!(after_of("%%%"), None);
    }
}
