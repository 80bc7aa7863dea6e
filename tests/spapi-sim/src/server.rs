//! HTTP side of the simulator: LWA, Orders 2026-01-01 and the `/_sim` admin endpoints.

use crate::clock::TokenBucket;
use crate::model::{ErrorList, GetOrderResponse, Order, Pagination, SearchOrdersResponse};
use crate::{Faults, Sim, SimConfig, Stats, seed};
use axum::extract::{Form, Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Amazon serves nothing fresher than this before the request.
const FRESHNESS_LAG: Duration = Duration::minutes(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Operation {
    SearchOrders,
    GetOrder,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::SearchOrders => "searchOrders",
            Operation::GetOrder => "getOrder",
        }
    }

    /// Amazon's default usage plan (rate per second, burst).
    fn plan(self) -> (f64, u32) {
        match self {
            Operation::SearchOrders => (0.0056, 20),
            Operation::GetOrder => (0.5, 30),
        }
    }
}

struct SellerState {
    /// Sorted by (lastUpdatedTime, orderId): the order searches page in.
    orders: Vec<Order>,
    revoked: bool,
}

struct AccessToken {
    /// `None` for grantless tokens (`client_credentials`), which open no seller's data.
    seller_id: Option<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct OrderQuery {
    after: DateTime<Utc>,
    before: DateTime<Utc>,
    by_created: bool,
    statuses: Option<Vec<String>>,
    marketplaces: Option<Vec<String>>,
    fulfilled_by: Option<Vec<String>>,
    page_size: usize,
    included: Vec<String>,
}

struct Cursor {
    seller_id: String,
    query: OrderQuery,
    /// Sort key of the last order served; the next page starts after it.
    last: (DateTime<Utc>, String),
    expires_at: DateTime<Utc>,
}

pub(crate) struct State {
    sellers: BTreeMap<String, SellerState>,
    refresh_tokens: HashMap<String, String>,
    access_tokens: HashMap<String, AccessToken>,
    cursors: HashMap<String, Cursor>,
    buckets: HashMap<(String, Operation), TokenBucket>,
    faults: Faults,
    faults_injected: u64,
    rng: ChaCha8Rng,
    pub(crate) stats: Stats,
}

impl State {
    pub(crate) fn seeded(config: &SimConfig, now: DateTime<Utc>) -> Self {
        let sellers = config
            .sellers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let orders = seed::seller_orders(config.seed, i, &s.marketplace_id, s.orders, now);
                (
                    s.seller_id.clone(),
                    SellerState {
                        orders,
                        revoked: false,
                    },
                )
            })
            .collect();
        Self {
            sellers,
            refresh_tokens: config
                .sellers
                .iter()
                .map(|s| (s.refresh_token.clone(), s.seller_id.clone()))
                .collect(),
            access_tokens: HashMap::new(),
            cursors: HashMap::new(),
            buckets: HashMap::new(),
            faults: Faults::default(),
            faults_injected: 0,
            rng: ChaCha8Rng::seed_from_u64(config.seed.wrapping_mul(31)),
            stats: Stats::default(),
        }
    }

    pub(crate) fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
        self.faults_injected = 0;
    }

    pub(crate) fn pii_values(&self) -> Vec<String> {
        let mut values = Vec::new();
        for s in self.sellers.values() {
            for o in &s.orders {
                seed::pii_values(o, &mut values);
            }
        }
        values.sort();
        values.dedup();
        values
    }

    pub(crate) fn order_count(&self, seller_id: &str) -> usize {
        self.sellers.get(seller_id).map_or(0, |s| s.orders.len())
    }

    pub(crate) fn revoke(&mut self, seller_id: &str) {
        if let Some(s) = self.sellers.get_mut(seller_id) {
            s.revoked = true;
        }
        self.access_tokens
            .retain(|_, t| t.seller_id.as_deref() != Some(seller_id));
    }

    pub(crate) fn expire_access_tokens(&mut self) {
        self.access_tokens.clear();
    }

    fn record(&mut self, operation: &str, status: StatusCode) {
        *self
            .stats
            .operations
            .entry(operation.to_owned())
            .or_default()
            .entry(status.as_u16().to_string())
            .or_default() += 1;
    }

    fn request_id(&mut self) -> String {
        let r: u128 = self.rng.random();
        let h = format!("{r:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Draw an injected fault for one SP-API request, if the knobs say so.
    fn draw_fault(&mut self) -> Option<Fault> {
        if self
            .faults
            .max_faults
            .is_some_and(|max| self.faults_injected >= max)
        {
            return None;
        }
        let f = self.faults.clone();
        let roll: f64 = self.rng.random();
        let fault = if roll < f.throttle_share {
            self.stats.throttled_injected += 1;
            Fault::Throttle
        } else if roll < f.throttle_share + f.server_error_share {
            self.stats.server_errors_injected += 1;
            Fault::ServerError
        } else if roll < f.throttle_share + f.server_error_share + f.malformed_share {
            self.stats.malformed_injected += 1;
            Fault::Malformed
        } else {
            return None;
        };
        self.faults_injected += 1;
        Some(fault)
    }
}

enum Fault {
    Throttle,
    ServerError,
    Malformed,
}

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/auth/o2/token", post(lwa_token))
        .route("/orders/2026-01-01/orders", get(search_orders))
        .route("/orders/2026-01-01/orders/{order_id}", get(get_order))
        .route("/_sim/stats", get(admin_stats))
        .route("/_sim/faults", post(admin_faults))
        .route("/_sim/clock", get(admin_clock).post(admin_advance))
        .route("/_sim/sellers/{seller_id}/revoke", post(admin_revoke))
        .route("/_sim/tokens/expire", post(admin_expire))
        .route("/_sim/pii-values", get(admin_pii_values))
        .fallback(not_found)
        .with_state(sim)
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Json<ErrorList>) {
    (status, Json(ErrorList::one(code, message)))
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested resource does not exist.",
    )
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Login with Amazon

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn lwa_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

async fn lwa_token(AxState(sim): AxState<Arc<Sim>>, Form(req): Form<TokenRequest>) -> Response {
    let now = sim.clock.now();
    let mut st = sim.lock();
    let response = issue_token(&sim.config, &mut st, now, req);
    st.record("lwaToken", response.status());
    response
}

fn issue_token(
    config: &SimConfig,
    st: &mut State,
    now: DateTime<Utc>,
    req: TokenRequest,
) -> Response {
    if req.client_id.as_deref() != Some(config.app.client_id.as_str())
        || req.client_secret.as_deref() != Some(config.app.client_secret.as_str())
    {
        return lwa_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let seller_id = match req.grant_type.as_deref() {
        Some("refresh_token") => {
            if req.scope.is_some() {
                return lwa_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "scope must not be sent with a refresh token",
                );
            }
            let seller = req
                .refresh_token
                .as_deref()
                .and_then(|t| st.refresh_tokens.get(t))
                .cloned();
            match seller {
                Some(s) if !st.sellers.get(&s).is_some_and(|s| s.revoked) => Some(s),
                _ => {
                    return lwa_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The request has an invalid grant parameter : refresh_token",
                    );
                }
            }
        }
        Some("client_credentials") => {
            if !req
                .scope
                .as_deref()
                .is_some_and(|s| s.starts_with("sellingpartnerapi::"))
            {
                return lwa_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "The request has an invalid parameter : scope",
                );
            }
            None
        }
        _ => {
            return lwa_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported",
            );
        }
    };
    let suffix: u128 = st.rng.random();
    let token = format!("Atza|sim-{suffix:032x}");
    let ttl = config.access_token_ttl_secs;
    st.access_tokens.insert(
        token.clone(),
        AccessToken {
            seller_id,
            expires_at: now + Duration::seconds(i64::from(ttl)),
        },
    );
    let mut body = serde_json::json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ttl,
    });
    if let Some(r) = req.refresh_token {
        body["refresh_token"] = r.into();
    }
    (StatusCode::OK, Json(body)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Orders 2026-01-01

/// What every SP-API request goes through before its handler: auth, injected faults, quota.
/// On success the seller whose token it is; otherwise the finished error response.
async fn admit(
    sim: &Sim,
    headers: &HeaderMap,
    op: Operation,
) -> Result<(String, String), Response> {
    let latency = sim.lock().faults.latency_ms;
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let now = sim.clock.now();
    let mut st = sim.lock();
    let request_id = st.request_id();
    let (rate, _) = op.plan();
    let token = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok());
    let denied = |st: &mut State, message: &str| {
        st.record(op.name(), StatusCode::FORBIDDEN);
        with_headers(
            error(StatusCode::FORBIDDEN, "Unauthorized", message).into_response(),
            &request_id,
            Some(rate),
        )
    };
    let seller = match token.and_then(|t| st.access_tokens.get(t)) {
        None if token.is_none() => {
            return Err(denied(&mut st, "Access to requested resource is denied."));
        }
        None => {
            return Err(denied(
                &mut st,
                "The access token you provided is revoked, malformed or otherwise invalid.",
            ));
        }
        Some(t) if t.expires_at <= now => {
            return Err(denied(
                &mut st,
                "The access token you provided has expired.",
            ));
        }
        Some(AccessToken {
            seller_id: None, ..
        }) => {
            return Err(denied(&mut st, "Access to requested resource is denied."));
        }
        Some(AccessToken {
            seller_id: Some(s), ..
        }) => s.clone(),
    };
    match st.draw_fault() {
        Some(Fault::Throttle) => {
            st.record(op.name(), StatusCode::TOO_MANY_REQUESTS);
            return Err(throttled(&request_id));
        }
        Some(Fault::ServerError) => {
            let status = if st.rng.random_bool(0.5) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            st.record(op.name(), status);
            let (code, message) = if status == StatusCode::INTERNAL_SERVER_ERROR {
                (
                    "InternalFailure",
                    "We encountered an internal error. Please try again.",
                )
            } else {
                (
                    "ServiceUnavailable",
                    "Service temporarily unavailable. Please try again.",
                )
            };
            return Err(with_headers(
                error(status, code, message).into_response(),
                &request_id,
                None,
            ));
        }
        Some(Fault::Malformed) => {
            st.record(op.name(), StatusCode::OK);
            let body = r#"{"orders":[{"orderId":"113-"#;
            return Err(with_headers(
                (StatusCode::OK, [("content-type", "application/json")], body).into_response(),
                &request_id,
                Some(rate),
            ));
        }
        None => {}
    }
    let bucket = st
        .buckets
        .entry((seller.clone(), op))
        .or_insert_with(|| TokenBucket::full(op.plan().0, op.plan().1, now));
    if !bucket.try_take(now) {
        st.stats.throttled_by_quota += 1;
        st.record(op.name(), StatusCode::TOO_MANY_REQUESTS);
        return Err(throttled(&request_id));
    }
    Ok((seller, request_id))
}

fn throttled(request_id: &str) -> Response {
    // Amazon sends no rate-limit header with a 429.
    with_headers(
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
        )
        .into_response(),
        request_id,
        None,
    )
}

fn with_headers(mut resp: Response, request_id: &str, rate: Option<f64>) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Some(Ok(v)) = rate.map(|r| HeaderValue::from_str(&r.to_string())) {
        h.insert("x-amzn-RateLimit-Limit", v);
    }
    resp
}

/// Finish a request that passed [`admit`]: count it, add the headers.
fn respond(sim: &Sim, op: Operation, request_id: &str, resp: Response) -> Response {
    sim.lock().record(op.name(), resp.status());
    with_headers(resp, request_id, Some(op.plan().0))
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

async fn search_orders(
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
        Some(token) => match st.cursors.remove(token) {
            Some(c) if c.seller_id == seller_id && c.expires_at > now => (c.query, Some(c.last)),
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

async fn get_order(
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

// ---------------------------------------------------------------------------------------------
// Admin: what the local stack and tests drive from outside the process.

async fn admin_stats(AxState(sim): AxState<Arc<Sim>>) -> Json<Stats> {
    Json(sim.lock().stats.clone())
}

async fn admin_faults(AxState(sim): AxState<Arc<Sim>>, Json(f): Json<Faults>) -> StatusCode {
    sim.lock().set_faults(f);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn admin_clock(AxState(sim): AxState<Arc<Sim>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "now": sim.clock.now() }))
}

async fn admin_advance(
    AxState(sim): AxState<Arc<Sim>>,
    Json(a): Json<Advance>,
) -> Json<serde_json::Value> {
    sim.clock.advance(Duration::seconds(a.seconds));
    Json(serde_json::json!({ "now": sim.clock.now() }))
}

async fn admin_revoke(AxState(sim): AxState<Arc<Sim>>, Path(seller): Path<String>) -> StatusCode {
    sim.lock().revoke(&seller);
    StatusCode::NO_CONTENT
}

async fn admin_expire(AxState(sim): AxState<Arc<Sim>>) -> StatusCode {
    sim.lock().expire_access_tokens();
    StatusCode::NO_CONTENT
}

async fn admin_pii_values(AxState(sim): AxState<Arc<Sim>>) -> Json<Vec<String>> {
    Json(sim.lock().pii_values())
}
