//! Orders 2026-01-01: `searchOrders` and `getOrder`.

use super::gate::{admit, respond};
use super::{Operation, State, error};
use crate::Sim;
use crate::model::{GetOrderResponse, Order, Pagination, SearchOrdersResponse};
use axum::Json;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use std::sync::Arc;

/// Amazon serves nothing fresher than this before the request.
const FRESHNESS_LAG: Duration = Duration::minutes(2);

#[derive(Debug, Clone)]
pub(super) struct OrderQuery {
    after: DateTime<Utc>,
    before: DateTime<Utc>,
    by_created: bool,
    statuses: Option<Vec<String>>,
    marketplaces: Option<Vec<String>>,
    fulfilled_by: Option<Vec<String>>,
    page_size: usize,
    included: Vec<String>,
}

pub(super) struct Cursor {
    seller_id: String,
    query: OrderQuery,
    /// Sort key of the last order served; the next page starts after it.
    last: (DateTime<Utc>, String),
    expires_at: DateTime<Utc>,
}

fn bad_input(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidInput", &message.into()).into_response()
}

fn list(params: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let values: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    (!values.is_empty()).then_some(values)
}

fn one<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn time_param(params: &[(String, String)], name: &str) -> Result<Option<DateTime<Utc>>, String> {
    one(params, name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("{name} must be an ISO 8601 date-time"))
        })
        .transpose()
}

const INCLUDED_DATA: [&str; 11] = [
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
];

fn included_data(params: &[(String, String)]) -> Result<Vec<String>, String> {
    let included = list(params, "includedData").unwrap_or_default();
    match included
        .iter()
        .find(|d| !INCLUDED_DATA.contains(&d.as_str()))
    {
        Some(bad) => Err(format!("includedData value {bad} is not supported")),
        None => Ok(included),
    }
}

fn parse_query(params: &[(String, String)], now: DateTime<Utc>) -> Result<OrderQuery, String> {
    let created_after = time_param(params, "createdAfter")?;
    let created_before = time_param(params, "createdBefore")?;
    let updated_after = time_param(params, "lastUpdatedAfter")?;
    let updated_before = time_param(params, "lastUpdatedBefore")?;
    let (by_created, after, before) = match (created_after, updated_after) {
        (Some(_), Some(_)) | (None, None) => {
            return Err("Exactly one of createdAfter and lastUpdatedAfter must be provided".into());
        }
        (Some(a), None) => {
            if updated_before.is_some() {
                return Err("lastUpdatedBefore may not be provided with createdAfter".into());
            }
            (true, a, created_before)
        }
        (None, Some(a)) => {
            if created_before.is_some() {
                return Err("createdBefore may not be provided with lastUpdatedAfter".into());
            }
            (false, a, updated_before)
        }
    };
    let latest = now - FRESHNESS_LAG;
    let before = match before {
        // A second of grace for the client's clock reading the same instant as ours.
        Some(b) if b > latest + Duration::seconds(1) => {
            return Err(
                "The before date must be at least two minutes before the time of the request"
                    .into(),
            );
        }
        Some(b) if b < after => {
            return Err("The before date must be equal to or after the after date".into());
        }
        Some(b) => b,
        None => latest,
    };
    if after > latest {
        return Err(
            "The after date must be at least two minutes before the time of the request".into(),
        );
    }
    let page_size = match one(params, "maxResultsPerPage") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n @ 1..=100) => n,
            _ => return Err("maxResultsPerPage must be between 1 and 100".into()),
        },
    };
    let marketplaces = list(params, "marketplaceIds");
    if marketplaces.as_ref().is_some_and(|m| m.len() > 50) {
        return Err("marketplaceIds may hold at most 50 values".into());
    }
    Ok(OrderQuery {
        after,
        before,
        by_created,
        statuses: list(params, "fulfillmentStatuses"),
        marketplaces,
        fulfilled_by: list(params, "fulfilledBy"),
        page_size,
        included: included_data(params)?,
    })
}

fn matches(q: &OrderQuery, o: &Order) -> bool {
    let t = if q.by_created {
        o.created_time
    } else {
        o.last_updated_time
    };
    let f = o.fulfillment.as_ref();
    t >= q.after
        && t <= q.before
        && q.statuses
            .as_ref()
            .is_none_or(|s| f.is_some_and(|f| s.contains(&f.fulfillment_status)))
        && q.marketplaces
            .as_ref()
            .is_none_or(|m| m.contains(&o.sales_channel.marketplace_id))
        && q.fulfilled_by
            .as_ref()
            .is_none_or(|b| f.is_some_and(|f| b.contains(&f.fulfilled_by)))
}

/// The order as Amazon shows it for this `includedData`.
fn shown(o: &Order, included: &[String]) -> Order {
    let has = |d: &str| included.iter().any(|i| i == d);
    let mut o = o.clone();
    if !has("BUYER") {
        o.buyer = None;
    }
    if !has("RECIPIENT") {
        o.recipient = None;
    }
    if !has("FULFILLMENT") {
        o.fulfillment = None;
        for item in &mut o.order_items {
            item.fulfillment = None;
        }
    }
    if !has("PACKAGES") {
        o.packages = None;
    }
    o
}

pub(super) async fn search_orders(
    AxState(sim): AxState<Arc<Sim>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let op = Operation::SearchOrders;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = {
        let mut st = sim.lock();
        search_page(&mut st, &seller, &params, now)
    };
    respond(&sim, op, &request_id, resp)
}

fn search_page(
    st: &mut State,
    seller_id: &str,
    params: &[(String, String)],
    now: DateTime<Utc>,
) -> Response {
    let (query, last) = match one(params, "paginationToken") {
        // Tokens stay valid for 24 hours and may be sent again (a client retrying a page).
        Some(token) => match st.cursors.get(token) {
            Some(c) if c.seller_id == seller_id && c.expires_at > now => {
                (c.query.clone(), Some(c.last.clone()))
            }
            _ => return bad_input("Invalid paginationToken"),
        },
        None => match parse_query(params, now) {
            Ok(q) => (q, None),
            Err(message) => return bad_input(message),
        },
    };
    let Some(seller) = st.sellers.get(seller_id) else {
        return not_found_order();
    };
    let mut page: Vec<&Order> = seller
        .orders
        .iter()
        .filter(|o| {
            last.as_ref()
                .is_none_or(|l| (o.last_updated_time, &o.order_id) > (l.0, &l.1))
        })
        .filter(|o| matches(&query, o))
        .take(query.page_size + 1)
        .collect();
    let more = page.len() > query.page_size;
    page.truncate(query.page_size);
    let orders: Vec<Order> = page.iter().map(|o| shown(o, &query.included)).collect();
    let before = query.before;
    let pagination = match (more, page.last()) {
        (true, Some(last)) => {
            st.cursors.retain(|_, c| c.expires_at > now);
            let suffix: u128 = st.rng.random();
            let token = format!("sim-page-{suffix:032x}");
            st.cursors.insert(
                token.clone(),
                Cursor {
                    seller_id: seller_id.to_owned(),
                    last: (last.last_updated_time, last.order_id.clone()),
                    query,
                    expires_at: now + Duration::hours(24),
                },
            );
            Some(Pagination { next_token: token })
        }
        _ => None,
    };
    Json(SearchOrdersResponse {
        orders,
        pagination,
        last_updated_before: before,
    })
    .into_response()
}

fn not_found_order() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested order was not found.",
    )
    .into_response()
}

pub(super) async fn get_order(
    AxState(sim): AxState<Arc<Sim>>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let op = Operation::GetOrder;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let resp = match included_data(&params) {
        Err(message) => bad_input(message),
        Ok(included) => {
            let st = sim.lock();
            match st
                .sellers
                .get(&seller)
                .and_then(|s| s.orders.iter().find(|o| o.order_id == order_id))
            {
                Some(o) => Json(GetOrderResponse {
                    order: shown(o, &included),
                })
                .into_response(),
                None => not_found_order(),
            }
        }
    };
    respond(&sim, op, &request_id, resp)
}
