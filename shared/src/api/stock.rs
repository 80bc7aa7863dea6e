//! Stock reads: a SKU's levels by location, and its ledger.

use super::GatewayMessage;
use super::{
    ApiRequest, ApiResponse, FieldProblem, Problem, Role, authorize, only_query, path_param,
};
use crate::kernel::{SellerId, Sku, StoreError};
use crate::stock::{LocationId, LocationKind, Movement, StockLedger, standing};
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

/// Who may read stock: everyone on the floor and the office, not auditors (they read the
/// audit report).
pub const STOCK_READERS: [Role; 4] = [Role::Picker, Role::Packer, Role::Supervisor, Role::Admin];

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
        ("sku" = String, Query, description = "The seller's SKU"),
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
    let (position, available) = standing(ledger, &seller, &sku, &warehouse)
        .await
        .map_err(store_problem)?;
    if !position.known && !warehouse.kits.kits.contains_key(&sku) {
        return Err(Problem::not_found(format!(
            "no stock record of {sku} for seller {seller}"
        )));
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
    Ok(ApiResponse::json(
        200,
        &StockLevels {
            seller_id: seller,
            sku,
            locations: levels,
            reserved: position.reserved,
            picked: position.picked,
            buffer: position.settings.buffer,
            low_stock_at: position.settings.low_stock_at,
            available,
            amazon_quantity: position.listing.accepted_quantity,
        },
    ))
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
        ("sku" = String, Query, description = "The seller's SKU"),
        ("limit" = Option<u32>, Query, description = "Movements on one page, 1 to 1000 (200)"),
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
