//! Listings Items 2021-08-01 for the seller's merchant-fulfilled quantity: `getListingsItem`
//! and `searchListingsItems` (summaries, fulfillment availability, issues; one listing is
//! rendered the same way by both, [`render_item`]) and `patchListingsItem`, validated as
//! Amazon does: a SKU the seller has no listing of is a 404 to a read, absent from a search's
//! items, and a 400 to a patch (the model has no 404 for it); a body that is not a patch
//! request, a product type that is not the listing's, a quantity that is not a whole number
//! from 0, are refused. A search takes up to 20 SKUs (`identifiersType=SKU`, the only type the
//! simulator serves) or none (every listing of the seller), in SKU order, paged by `pageSize`
//! and `pageToken` through at most the first 1,000 found, as Amazon does.
//! An accepted patch sets the quantity at once (Amazon applies it within minutes), and a new
//! quantity publishes a `LISTINGS_ITEM_MFN_QUANTITY_CHANGE` shaped as
//! `ListingsItemMfnQuantityChange.json` has it. A feed's PATCH messages are checked the same way
//! ([`check_patch`]). Every seller starts with a listing of each SKU the seeded orders can name.

use super::gate::{admit, respond};
use super::shipping::{Refusal, bad, missing};
use super::{Operation, State};
use crate::Sim;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
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
    /// PATCH messages of finished feeds applied.
    pub(crate) feed_messages_accepted: u64,
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

/// The marketplace the seller sells in (the simulator's sellers have one each).
pub(super) fn own_marketplace(sim: &Sim, seller: &str) -> String {
    sim.config
        .sellers
        .iter()
        .find(|s| s.seller_id == seller)
        .map(|s| s.marketplace_id.clone())
        .unwrap_or_default()
}

/// The marketplace a request names: exactly the seller's.
fn marketplace(sim: &Sim, seller: &str, marketplace_ids: Option<&str>) -> Result<String, Refusal> {
    let asked = marketplace_ids
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("InvalidInput", "marketplaceIds is required."))?;
    let own = own_marketplace(sim, seller);
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

/// The data sets a read asks for (default `summaries`), each one the model knows.
fn included_data(included: Option<&str>) -> Result<Vec<&str>, Refusal> {
    let included = included.unwrap_or("summaries");
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
    Ok(included.split(',').collect())
}

/// One listing as the Listings Items API shows it (an `Item`), with the data sets asked for
/// that the simulator keeps: `getListingsItem`'s body and each of `searchListingsItems`' items.
fn render_item(mkt: &str, sku: &str, l: &Listing, included: &[&str]) -> Value {
    let mut item = json!({ "sku": sku });
    for d in included {
        match *d {
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
    item
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
        let mkt = marketplace(&sim, &seller, q.marketplace_ids.as_deref())?;
        let included = included_data(q.included_data.as_deref())?;
        let st = sim.settled();
        let l = st
            .listings
            .items
            .get(&(seller.clone(), sku.clone()))
            .ok_or_else(|| missing("The requested listings item does not exist."))?;
        Ok::<_, Refusal>(Json(render_item(&mkt, &sku, l, &included)).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

/// `identifiers` takes at most this many.
const MAX_IDENTIFIERS: usize = 20;
/// `pageSize`: the model's maximum and default.
const MAX_PAGE_SIZE: usize = 20;
const DEFAULT_PAGE_SIZE: usize = 10;
/// Amazon pages through at most this many items of one search (`numberOfResults` still
/// counts every one found).
const SEARCH_CAP: usize = 1000;
/// The model's filters the simulator does not apply: refused rather than ignored, so a caller
/// never takes an unfiltered answer for a filtered one.
const UNSUPPORTED_FILTERS: &[&str] = &[
    "variationParentSku",
    "packageHierarchySku",
    "createdAfter",
    "createdBefore",
    "lastUpdatedAfter",
    "lastUpdatedBefore",
    "withIssueSeverity",
    "withStatus",
    "withoutStatus",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchQuery {
    marketplace_ids: Option<String>,
    included_data: Option<String>,
    #[allow(dead_code)]
    issue_locale: Option<String>,
    identifiers: Option<String>,
    identifiers_type: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    page_size: Option<String>,
    page_token: Option<String>,
    /// Every other parameter: the model's filters the simulator does not apply are refused,
    /// what the model does not define is ignored (as `getListingsItem` does).
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// A page token: the offset of the page's first item in the search's SKU order.
fn page_token(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn page_offset(token: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let offset = String::from_utf8(raw).ok()?;
    let offset: usize = offset.strip_prefix("offset:")?.parse().ok()?;
    (offset < SEARCH_CAP).then_some(offset)
}

/// What a search looks for: the SKUs named, or (`None`) every listing of the seller.
fn search_identifiers(q: &SearchQuery) -> Result<Option<BTreeSet<&str>>, Refusal> {
    let identifiers = match (q.identifiers.as_deref(), q.identifiers_type.as_deref()) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(bad(
                "InvalidInput",
                "identifiersType is required when identifiers is provided.",
            ));
        }
        (None, Some(_)) => {
            return Err(bad(
                "InvalidInput",
                "identifiers is required when identifiersType is provided.",
            ));
        }
        (Some(identifiers), Some("SKU")) => identifiers,
        (Some(_), Some(t)) => {
            let official = [
                "ASIN", "EAN", "FNSKU", "GTIN", "ISBN", "JAN", "MINSAN", "UPC",
            ];
            return Err(bad(
                "InvalidInput",
                if official.contains(&t) {
                    format!("identifiersType {t}: the simulator supports SKU only.")
                } else {
                    format!("Invalid identifiersType value {t}.")
                },
            ));
        }
    };
    let listed: Vec<&str> = identifiers.split(',').collect();
    if listed.iter().any(|i| i.is_empty()) {
        return Err(bad("InvalidInput", "identifiers holds an empty value."));
    }
    if listed.len() > MAX_IDENTIFIERS {
        return Err(bad(
            "InvalidInput",
            format!("identifiers takes at most {MAX_IDENTIFIERS} values."),
        ));
    }
    Ok(Some(listed.into_iter().collect()))
}

/// `sortBy` / `sortOrder`: the simulator serves SKU order, ascending, only (the model's default
/// is `lastUpdatedDate`, `DESC`; an absent pair is taken as the simulator's order).
fn check_sort(q: &SearchQuery) -> Result<(), Refusal> {
    match q.sort_by.as_deref() {
        None | Some("sku") => {}
        Some(by @ ("createdDate" | "lastUpdatedDate")) => {
            return Err(bad(
                "InvalidInput",
                format!("sortBy {by}: the simulator sorts by sku only."),
            ));
        }
        Some(by) => return Err(bad("InvalidInput", format!("Invalid sortBy value {by}."))),
    }
    match q.sort_order.as_deref() {
        None | Some("ASC") => Ok(()),
        Some("DESC") => Err(bad(
            "InvalidInput",
            "sortOrder DESC: the simulator sorts in ascending order only.",
        )),
        Some(o) => Err(bad("InvalidInput", format!("Invalid sortOrder value {o}."))),
    }
}

fn page_size(q: &SearchQuery) -> Result<usize, Refusal> {
    match q.page_size.as_deref() {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                bad(
                    "InvalidInput",
                    format!("pageSize must be a whole number from 1 to {MAX_PAGE_SIZE}."),
                )
            }),
    }
}

/// `searchListingsItems` for SKUs (`identifiersType=SKU`) or for every listing of the seller,
/// in SKU order, paged by `pageToken`. A SKU named that the seller has no listing of is simply
/// not among the items; `numberOfResults` counts those found, of which Amazon pages through
/// the first [`SEARCH_CAP`] only.
pub(super) async fn search_listings_items(
    AxState(sim): AxState<Arc<Sim>>,
    Path(path_seller): Path<String>,
    Query(q): Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    let op = Operation::SearchListingsItems;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let resp = (|| {
        own_seller(&path_seller, &seller)?;
        let mkt = marketplace(&sim, &seller, q.marketplace_ids.as_deref())?;
        let included = included_data(q.included_data.as_deref())?;
        if let Some(f) = UNSUPPORTED_FILTERS
            .iter()
            .find(|f| q.rest.contains_key(**f))
        {
            return Err(bad(
                "InvalidInput",
                format!("{f}: the simulator does not support this filter."),
            ));
        }
        let identifiers = search_identifiers(&q)?;
        check_sort(&q)?;
        let page_size = page_size(&q)?;
        let offset = match q.page_token.as_deref() {
            None => 0,
            Some(t) => page_offset(t).ok_or_else(|| bad("InvalidInput", "Invalid pageToken."))?,
        };
        let st = sim.settled();
        let found: Vec<(&String, &Listing)> = st
            .listings
            .items
            .range((seller.clone(), String::new())..)
            .take_while(|((s, _), _)| *s == seller)
            .filter(|((_, sku), _)| {
                identifiers
                    .as_ref()
                    .is_none_or(|i| i.contains(sku.as_str()))
            })
            .map(|((_, sku), l)| (sku, l))
            .collect();
        let servable = found.len().min(SEARCH_CAP);
        let end = (offset + page_size).min(servable);
        let items: Vec<Value> = found
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(|(sku, l)| render_item(&mkt, sku, l, &included))
            .collect();
        let mut body = json!({ "numberOfResults": found.len(), "items": items });
        let mut pagination = serde_json::Map::new();
        if end < servable {
            pagination.insert("nextToken".into(), json!(page_token(end)));
        }
        if offset > 0 {
            let previous = offset.saturating_sub(page_size);
            pagination.insert("previousToken".into(), json!(page_token(previous)));
        }
        if !pagination.is_empty() {
            body["pagination"] = Value::Object(pagination);
        }
        Ok(Json(body).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

/// A patch request's body, as `patchListingsItem` takes it and as a feed's PATCH message holds
/// it (without the message's `messageId`, `sku` and `operationType`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PatchRequest {
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

/// Something Amazon will not take in a submission for a listing.
pub(super) struct Issue {
    pub(super) code: String,
    pub(super) message: String,
    /// The attribute it is about, when there is one.
    pub(super) attribute: Option<&'static str>,
}

impl Issue {
    pub(super) fn new(
        code: &str,
        message: impl Into<String>,
        attribute: Option<&'static str>,
    ) -> Self {
        Issue {
            code: code.to_owned(),
            message: message.into(),
            attribute,
        }
    }

    /// As the Listings Items API shows it.
    fn to_json(&self) -> Value {
        let mut v = json!({
            "code": self.code,
            "message": self.message,
            "severity": "ERROR",
            "categories": ["INVALID_ATTRIBUTE"],
        });
        if let Some(a) = self.attribute {
            v["attributeNames"] = json!([a]);
        }
        v
    }
}

fn invalid(code: &str, message: &str, attribute: &'static str) -> Issue {
    Issue::new(code, message, Some(attribute))
}

/// Amazon's checks of a patch request for a listing, for `patchListingsItem` and a feed's PATCH
/// messages alike: the issues it raises (none: valid) and the quantity the listing then holds.
/// `Err`: a request refused outright (a 400 to a patch), with why.
pub(super) fn check_patch(
    l: &Listing,
    req: &PatchRequest,
) -> Result<(Vec<Issue>, Option<u32>), String> {
    if req.patches.is_empty() {
        return Err("patches must hold at least one operation.".into());
    }
    let mut issues = Vec::new();
    let mut quantity = l.quantity;
    if req.product_type != l.product_type {
        issues.push(invalid(
            "4000001",
            "The product type does not match the listing's.",
            "product_type",
        ));
    }
    for p in &req.patches {
        if !["add", "replace", "merge", "delete"].contains(&p.op.as_str()) {
            return Err(format!("Invalid patch op {}.", p.op));
        }
        if p.path != "/attributes/fulfillment_availability" {
            // The simulator keeps no other attribute.
            return Err(format!("The simulator does not hold {}.", p.path));
        }
        if p.op == "delete" {
            quantity = None;
            continue;
        }
        for v in p.value.iter().flatten() {
            let channel = v.get("fulfillment_channel_code").and_then(Value::as_str);
            if channel != Some("DEFAULT") {
                issues.push(invalid(
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
                    None => issues.push(invalid(
                        INVALID_ATTRIBUTE,
                        "quantity must be a whole number from 0.",
                        "fulfillment_availability",
                    )),
                },
            }
        }
    }
    if let Some(code) = &l.refuse_with {
        issues.push(invalid(
            code,
            "The listing cannot take this submission.",
            "fulfillment_availability",
        ));
    }
    Ok((issues, quantity))
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
        marketplace(&sim, &seller, q.marketplace_ids.as_deref())?;
        let req: PatchRequest = serde_json::from_slice(&body)
            .map_err(|e| bad("InvalidInput", format!("Invalid request body: {e}")))?;
        let mut st = sim.settled();
        let submission_id = st.uuid();
        // The model declares no 404 for a patch: a SKU without a listing is bad input.
        let l = st
            .listings
            .items
            .get(&(seller.clone(), sku.clone()))
            .ok_or_else(|| bad("InvalidInput", "The SKU has no listing for this seller."))?;
        let (issues, quantity) = check_patch(l, &req).map_err(|e| bad("InvalidInput", e))?;
        let valid = issues.is_empty();
        if valid && q.mode.as_deref() != Some("VALIDATION_PREVIEW") {
            st.set_quantity(&seller, &sku, quantity, now);
            st.listings.patches_accepted += 1;
        }
        let status = match (valid, q.mode.as_deref()) {
            (false, _) => "INVALID",
            (true, Some("VALIDATION_PREVIEW")) => "VALID",
            (true, _) => "ACCEPTED",
        };
        Ok::<_, Refusal>(
            Json(json!({
                "sku": sku,
                "status": status,
                "submissionId": submission_id,
                "issues": issues.iter().map(Issue::to_json).collect::<Vec<_>>(),
            }))
            .into_response(),
        )
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

impl State {
    /// Amazon applies a quantity to a listing at `at` (an accepted submission, an edit in Seller
    /// Central). A change to another quantity publishes a `LISTINGS_ITEM_MFN_QUANTITY_CHANGE`;
    /// none to no quantity, which the notification cannot carry. `false`: no such listing.
    pub(super) fn set_quantity(
        &mut self,
        seller_id: &str,
        sku: &str,
        quantity: Option<u32>,
        at: DateTime<Utc>,
    ) -> bool {
        let Some(l) = self
            .listings
            .items
            .get_mut(&(seller_id.to_owned(), sku.to_owned()))
        else {
            return false;
        };
        let changed = l.quantity != quantity;
        l.quantity = quantity;
        l.updated = at;
        if let (true, Some(q)) = (changed, quantity) {
            let notification_id = self.uuid();
            let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
            self.listing_outbox.push(
                json!({
                    "NotificationVersion": "1.0",
                    "NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
                    "PayloadVersion": "1.0",
                    "EventTime": at,
                    "Payload": {
                        "SellerId": seller_id,
                        "FulfillmentChannelCode": "DEFAULT",
                        "Sku": sku,
                        "Quantity": q,
                    },
                    "NotificationMetadata": {
                        "ApplicationId": self.application_id,
                        "SubscriptionId": format!("sim-subscription-{seller_id}-mfn-quantity"),
                        "PublishTime": at,
                        "NotificationId": notification_id,
                    }
                })
                .to_string(),
            );
        }
        true
    }
}
