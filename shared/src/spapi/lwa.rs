//! Login with Amazon: access tokens from each seller's refresh token, cached until a minute
//! before they expire. One fetch at a time per seller, so concurrent calls share a token.

use super::client::RetryPolicy;
use super::error::{LwaFailure, SpApiError};
use crate::domain::SellerId;
use crate::domain::serde_reason;
use crate::ports::Secrets;
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

type Slot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

pub struct LwaTokens {
    http: reqwest::Client,
    token_url: Url,
    secrets: Arc<dyn Secrets>,
    retry: RetryPolicy,
    slots: Mutex<HashMap<SellerId, Slot>>,
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
    pub fn new(
        http: reqwest::Client,
        token_url: Url,
        secrets: Arc<dyn Secrets>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            token_url,
            secrets,
            retry,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, seller: &SellerId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(seller.clone()).or_default().clone()
    }

    /// A valid access token for the seller, from cache or from LWA.
    pub async fn access_token(&self, seller: &SellerId) -> Result<SecretString, SpApiError> {
        let slot = self.slot(seller);
        let mut cached = slot.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_after) {
            return Ok(t.token.clone());
        }
        let fresh = (|| self.fetch(seller))
            .retry(self.retry.backoff())
            .when(|e| {
                matches!(
                    e,
                    SpApiError::Lwa {
                        failure: LwaFailure::Unavailable,
                        ..
                    }
                )
            })
            .await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forget the seller's token (Amazon said it expired before we thought it would).
    pub async fn invalidate(&self, seller: &SellerId) {
        *self.slot(seller).lock().await = None;
    }

    async fn fetch(&self, seller: &SellerId) -> Result<CachedToken, SpApiError> {
        let app = self.secrets.lwa_app().await?;
        let refresh_token = self.secrets.refresh_token(seller).await?;
        let fail = |failure| SpApiError::Lwa {
            seller_id: seller.clone(),
            failure,
        };
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
            .map_err(|_| fail(LwaFailure::Unavailable))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|_| fail(LwaFailure::Unavailable))?;
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
                fail(LwaFailure::BadResponse)
            })?;
            let lifetime = Duration::from_secs(t.expires_in).saturating_sub(EARLY_REFRESH);
            return Ok(CachedToken {
                token: t.access_token,
                refresh_after: started + lifetime,
            });
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(fail(LwaFailure::Unavailable));
        }
        let code = serde_json::from_slice::<TokenError>(&body)
            .map(|e| e.error)
            .unwrap_or_default();
        Err(fail(match code.as_str() {
            "invalid_client" | "unauthorized_client" => LwaFailure::ClientRejected,
            "invalid_grant" => LwaFailure::RefreshTokenRejected,
            _ if status.as_u16() == 401 => LwaFailure::ClientRejected,
            _ => LwaFailure::BadResponse,
        }))
    }
}
