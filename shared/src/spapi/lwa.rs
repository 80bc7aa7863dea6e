//! The LWA layer: on the way out, every request carries the seller's access token (from the
//! seller's refresh token, cached until a minute before it expires; one fetch at a time per
//! seller, so concurrent calls share one); on the way back, a 403 drops the cached token so
//! the request is tried once more with a fresh one.

use super::error::CallError;
use super::transport::RetryPolicy;
use crate::kernel::{SellerId, serde_reason};
use crate::sellers::{Credentials, LoginFailure};
use backon::Retryable;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// Refresh this long before Amazon's expiry, so a token never dies mid-request.
const EARLY_REFRESH: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct CachedToken {
    token: SecretString,
    refresh_after: Instant,
}

/// One seller's cached token, locked while it is fetched.
type TokenCell = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

pub(super) struct LwaTokens {
    http: reqwest::Client,
    token_url: Url,
    credentials: Arc<dyn Credentials>,
    retry: RetryPolicy,
    cells: Mutex<HashMap<SellerId, TokenCell>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: u64,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
}

impl LwaTokens {
    pub(super) fn new(
        http: reqwest::Client,
        token_url: Url,
        credentials: Arc<dyn Credentials>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            token_url,
            credentials,
            retry,
            cells: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, seller: &SellerId) -> TokenCell {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells.entry(seller.clone()).or_default().clone()
    }

    /// A valid access token for the seller, from cache or from LWA.
    pub(super) async fn access_token(&self, seller: &SellerId) -> Result<SecretString, CallError> {
        let cell = self.cell(seller);
        let mut cached = cell.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_after) {
            return Ok(t.token.clone());
        }
        let fresh = (|| self.fetch(seller))
            .retry(self.retry.backoff())
            .when(|e| matches!(e, CallError::Login(LoginFailure::Unavailable)))
            .await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forget the seller's token (Amazon said it expired before we thought it would).
    pub(super) async fn invalidate(&self, seller: &SellerId) {
        *self.cell(seller).lock().await = None;
    }

    async fn fetch(&self, seller: &SellerId) -> Result<CachedToken, CallError> {
        let app = self.credentials.lwa_app().await?;
        let refresh_token = self.credentials.refresh_token(seller).await?;
        let fail = CallError::Login;
        let started = Instant::now();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose_secret()),
        ];
        let resp = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|_| fail(LoginFailure::Unavailable))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|_| fail(LoginFailure::Unavailable))?;
        tracing::info!(
            operation = "lwaToken",
            seller_id = %seller,
            status = status.as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "lwa response"
        );
        if status.is_success() {
            let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
                tracing::warn!(seller_id = %seller, reason = %serde_reason(&e), "lwa response unreadable");
                fail(LoginFailure::BadResponse)
            })?;
            let lifetime = Duration::from_secs(t.expires_in).saturating_sub(EARLY_REFRESH);
            return Ok(CachedToken {
                token: t.access_token,
                refresh_after: started + lifetime,
            });
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(fail(LoginFailure::Unavailable));
        }
        let code = serde_json::from_slice::<TokenError>(&body)
            .map(|e| e.error)
            .unwrap_or_default();
        Err(fail(match code.as_str() {
            "invalid_client" | "unauthorized_client" => LoginFailure::ClientRejected,
            "invalid_grant" => LoginFailure::RefreshTokenRejected,
            _ if status.as_u16() == 401 => LoginFailure::ClientRejected,
            _ => LoginFailure::BadResponse,
        }))
    }
}
