//! What every SP-API request passes before its handler: auth, injected faults, the usage plan;
//! and what every answer carries: `x-amzn-RequestId`, `x-amzn-RateLimit-Limit`.

use super::{AccessToken, Fault, Operation, State, error};
use crate::Sim;
use crate::clock::TokenBucket;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;

/// What every SP-API request goes through before its handler: auth, injected faults, quota.
/// On success the seller whose token it is; otherwise the finished error response.
pub(super) async fn admit(
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
    let request_id = st.uuid();
    let (rate, burst) = sim.plan(op);
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
        .or_insert_with(|| TokenBucket::full(rate, burst, now));
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
pub(super) fn respond(sim: &Sim, op: Operation, request_id: &str, resp: Response) -> Response {
    sim.lock().record(op.name(), resp.status());
    with_headers(resp, request_id, Some(sim.plan(op).0))
}
