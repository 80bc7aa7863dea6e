//! Listings Items 2021-08-01 for the seller's merchant-fulfilled quantity: `getListingsItem`
//! (summaries, fulfillment availability) and `patchListingsItem`, validated as Amazon does: a
//! SKU the seller has no listing of is a 404 to a read and a 400 to a patch (the model has no
//! 404 for it); a body that is not a patch request, a product
//! type that is not the listing's, a quantity that is not a whole number from 0, are refused.
//! An accepted patch sets the quantity at once (Amazon applies it within minutes). Every seller
//! starts with a listing of each SKU the seeded orders can name.

use super::Operation;
use super::gate::{admit, respond};
use super::shipping::{Refusal, bad, missing};
use crate::Sim;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Listing issue code for attribute values Amazon will not take (the model's example).
pub const INVALID_ATTRIBUTE: &str = "90000900";
/// What every seeded listing holds before the suite first pushes.
pub const SEEDED_QUANTITY: u32 = 10;

#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub(crate) asin: String,
    pub(crate) product_type: String,
    pub(crate) title: String,
    pub(crate) quantity: Option<u32>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    /// Set by a test: every patch of this SKU is INVALID with this issue code.
    pub(crate) refuse_with: Option<String>,
}

/// (seller, SKU) → listing.
#[derive(Default)]
pub(crate) struct ListingsState {
    pub(crate) items: BTreeMap<(String, String), Listing>,
    pub(crate) patches_accepted: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ItemQuery {
    marketplace_ids: Option<String>,
    included_data: Option<String>,
    #[allow(dead_code)]
    issue_locale: Option<String>,
    mode: Option<String>,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The marketplace a request names: exactly the seller's.
fn marketplace(sim: &Sim, seller: &str, q: &ItemQuery) -> Result<String, Refusal> {
    let asked = q
        .marketplace_ids
        .as_deref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("InvalidInput", "marketplaceIds is required."))?;
    let own = sim
        .config
        .sellers
        .iter()
        .find(|s| s.seller_id == seller)
        .map(|s| s.marketplace_id.clone())
        .unwrap_or_default();
    if asked.split(',').any(|m| m != own) {
        return Err(bad(
            "InvalidInput",
            "Invalid marketplaceIds for the seller.",
        ));
    }
    Ok(own)
}

fn own_seller(path_seller: &str, seller: &str) -> Result<(), Refusal> {
    if path_seller == seller {
        Ok(())
    } else {
        Err(Refusal::forbidden())
    }
}

pub(super) async fn get_listings_item(
    AxState(sim): AxState<Arc<Sim>>,
    Path((path_seller, sku)): Path<(String, String)>,
    Query(q): Query<ItemQuery>,
    headers: HeaderMap,
) -> Response {
    let op = Operation::GetListingsItem;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let resp = (|| {
        own_seller(&path_seller, &seller)?;
        let mkt = marketplace(&sim, &seller, &q)?;
        let included = q.included_data.as_deref().unwrap_or("summaries");
        let known = [
            "summaries",
            "attributes",
            "issues",
            "offers",
            "fulfillmentAvailability",
            "procurement",
            "relationships",
            "productTypes",
        ];
        if let Some(bad_one) = included.split(',').find(|d| !known.contains(d)) {
            return Err(bad(
                "InvalidInput",
                format!("Invalid includedData value {bad_one}."),
            ));
        }
        let st = sim.lock();
        let l = st
            .listings
            .items
            .get(&(seller.clone(), sku.clone()))
            .ok_or_else(|| missing("The requested listings item does not exist."))?;
        let mut item = json!({ "sku": sku });
        for d in included.split(',') {
            match d {
                "summaries" => {
                    item["summaries"] = json!([{
                        "marketplaceId": mkt,
                        "asin": l.asin,
                        "productType": l.product_type,
                        "conditionType": "new_new",
                        "status": ["BUYABLE", "DISCOVERABLE"],
                        "itemName": l.title,
                        "createdDate": iso(l.created),
                        "lastUpdatedDate": iso(l.updated),
                    }]);
                }
                "fulfillmentAvailability" => {
                    let mut a = json!({ "fulfillmentChannelCode": "DEFAULT" });
                    if let Some(q) = l.quantity {
                        a["quantity"] = json!(q);
                    }
                    item["fulfillmentAvailability"] = json!([a]);
                }
                "issues" => item["issues"] = json!([]),
                _ => {}
            }
        }
        Ok(Json(item).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchRequest {
    product_type: String,
    patches: Vec<PatchOperation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchOperation {
    op: String,
    path: String,
    #[serde(default)]
    value: Option<Vec<Value>>,
}

fn issue(code: &str, message: &str, attribute: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": [attribute],
        "categories": ["INVALID_ATTRIBUTE"],
    })
}

pub(super) async fn patch_listings_item(
    AxState(sim): AxState<Arc<Sim>>,
    Path((path_seller, sku)): Path<(String, String)>,
    Query(q): Query<ItemQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = Operation::PatchListingsItem;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = (|| {
        own_seller(&path_seller, &seller)?;
        marketplace(&sim, &seller, &q)?;
        let req: PatchRequest = serde_json::from_slice(&body)
            .map_err(|e| bad("InvalidInput", format!("Invalid request body: {e}")))?;
        if req.patches.is_empty() {
            return Err(bad(
                "InvalidInput",
                "patches must hold at least one operation.",
            ));
        }
        let mut st = sim.lock();
        let submission_id = st.uuid();
        let key = (seller.clone(), sku.clone());
        // The model declares no 404 for a patch: a SKU without a listing is bad input.
        let l = st
            .listings
            .items
            .get(&key)
            .ok_or_else(|| bad("InvalidInput", "The SKU has no listing for this seller."))?
            .clone();
        let mut issues = Vec::new();
        let mut quantity = l.quantity;
        if req.product_type != l.product_type {
            issues.push(issue(
                "4000001",
                "The product type does not match the listing's.",
                "product_type",
            ));
        }
        for p in &req.patches {
            if !["add", "replace", "merge", "delete"].contains(&p.op.as_str()) {
                return Err(bad("InvalidInput", format!("Invalid patch op {}.", p.op)));
            }
            if p.path != "/attributes/fulfillment_availability" {
                // The simulator keeps no other attribute.
                return Err(bad(
                    "InvalidInput",
                    format!("The simulator does not hold {}.", p.path),
                ));
            }
            if p.op == "delete" {
                quantity = None;
                continue;
            }
            for v in p.value.iter().flatten() {
                let channel = v.get("fulfillment_channel_code").and_then(Value::as_str);
                if channel != Some("DEFAULT") {
                    issues.push(issue(
                        INVALID_ATTRIBUTE,
                        "fulfillment_channel_code must be DEFAULT for a merchant-fulfilled offer.",
                        "fulfillment_availability",
                    ));
                    continue;
                }
                match v.get("quantity") {
                    None => {}
                    Some(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                        Some(n) => quantity = Some(n),
                        None => issues.push(issue(
                            INVALID_ATTRIBUTE,
                            "quantity must be a whole number from 0.",
                            "fulfillment_availability",
                        )),
                    },
                }
            }
        }
        if let Some(code) = &l.refuse_with {
            issues.push(issue(
                code,
                "The listing cannot take this submission.",
                "fulfillment_availability",
            ));
        }
        let valid = issues.is_empty();
        if valid && q.mode.as_deref() != Some("VALIDATION_PREVIEW") {
            let item = st.listings.items.get_mut(&key).expect("read above");
            item.quantity = quantity;
            item.updated = now;
            st.listings.patches_accepted += 1;
        }
        let status = match (valid, q.mode.as_deref()) {
            (false, _) => "INVALID",
            (true, Some("VALIDATION_PREVIEW")) => "VALID",
            (true, _) => "ACCEPTED",
        };
        Ok(Json(json!({
            "sku": sku,
            "status": status,
            "submissionId": submission_id,
            "issues": issues,
        }))
        .into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}
