//! Login with Amazon's token endpoint: `refresh_token` and `client_credentials` grants.

use super::{AccessToken, State};
use crate::{Sim, SimConfig};
use axum::Json;
use axum::extract::{Form, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct TokenRequest {
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

pub(super) async fn lwa_token(
    AxState(sim): AxState<Arc<Sim>>,
    Form(req): Form<TokenRequest>,
) -> Response {
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
