//! Stock reads: a SKU's levels by location, and its ledger.

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

fn seller_and_sku(seller: &str, sku: &str) -> Result<(SellerId, Sku), Problem> {
    let seller = path_param("seller_id", seller, SellerId::parse);
    let sku = path_param("sku", sku, Sku::parse);
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
    path = "/stock/{seller_id}/{sku}",
    tag = "stock",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("sku" = String, Path, description = "The seller's SKU"),
    ),
    responses(
        (status = 200, description = "The SKU's levels", body = StockLevels),
        (status = 400, description = "A bad id or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a role that reads stock", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stock record of the SKU", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stock_levels(
    ledger: &dyn StockLedger,
    req: &ApiRequest,
    seller: &str,
    sku: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &STOCK_READERS)?;
    only_query(req, &[])?;
    let (seller, sku) = seller_and_sku(seller, sku)?;
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

fn cursor_of(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ledger:{offset}"))
}

fn offset_of(cursor: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("ledger:")?
        .parse()
        .ok()
}

/// A SKU's movements as the ledger keeps them (append-only), oldest first.
#[utoipa::path(
    get,
    path = "/stock/{seller_id}/{sku}/ledger",
    tag = "stock",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("sku" = String, Path, description = "The seller's SKU"),
        ("limit" = Option<u32>, Query, description = "Movements on one page, 1 to 1000 (200)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before"),
    ),
    responses(
        (status = 200, description = "One page of the ledger", body = LedgerPage),
        (status = 400, description = "A bad id, limit or cursor, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a role that reads stock", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stock_ledger(
    ledger: &dyn StockLedger,
    req: &ApiRequest,
    seller: &str,
    sku: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &STOCK_READERS)?;
    only_query(req, &["limit", "cursor"])?;
    let (seller, sku) = seller_and_sku(seller, sku)?;
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
    let offset = match req.query.get("cursor").map(|c| offset_of(c)) {
        None => 0,
        Some(Some(o)) => o,
        Some(None) => {
            errors.push(FieldProblem {
                field: "query.cursor".into(),
                message: "not a cursor this API gave".into(),
            });
            0
        }
    };
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let all = ledger
        .movements(&seller, &sku)
        .await
        .map_err(store_problem)?;
    let end = offset.saturating_add(limit).min(all.len());
    let movements = all
        .get(offset..end)
        .map(<[Movement]>::to_vec)
        .unwrap_or_default();
    Ok(ApiResponse::json(
        200,
        &LedgerPage {
            movements,
            next_cursor: (end < all.len()).then(|| cursor_of(end)),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        assert_eq!(offset_of(&cursor_of(400)), Some(400));
        assert_eq!(offset_of("bm90IGEgY3Vyc29y"), None);
        assert_eq!(offset_of("%%%"), None);
    }
}
