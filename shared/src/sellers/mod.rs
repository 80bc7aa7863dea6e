//! The sellers the suite fulfils for: the registry, and their credentials (the app's LWA
//! client and each seller's refresh token, kept in Secrets Manager).

use crate::kernel::{IoFailure, MarketplaceId, SellerId, StoreError};
use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// A seller the suite fulfils for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerAccount {
    pub seller_id: SellerId,
    pub marketplace_ids: Vec<MarketplaceId>,
}

#[async_trait]
pub trait SellerRegistry: Send + Sync {
    async fn active_sellers(&self) -> Result<Vec<SellerAccount>, StoreError>;
    /// Every registered seller id, active or not (the redactor purges for all of them).
    async fn all_sellers(&self) -> Result<Vec<SellerId>, StoreError>;
    /// Offboarding: the seller's registry entry and sweep checkpoint go; no route syncs its
    /// orders any more. `Ok(false)`: there was no entry.
    async fn remove(&self, seller: &SellerId) -> Result<bool, StoreError>;
}

/// The app's LWA client credentials.
#[derive(Clone)]
pub struct LwaAppCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

#[async_trait]
pub trait Credentials: Send + Sync {
    async fn lwa_app(&self) -> Result<LwaAppCredentials, CredentialsError>;
    async fn refresh_token(&self, seller: &SellerId) -> Result<SecretString, CredentialsError>;
    /// Offboarding: delete the seller's refresh token at once, with no recovery window.
    /// `Ok(false)`: there was none.
    async fn delete_refresh_token(&self, seller: &SellerId) -> Result<bool, CredentialsError>;
}

/// Errors reading credentials. Never carries a secret's value or a parser message about it.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("secret {secret_id} not found")]
    NotFound { secret_id: String },
    /// This function was built without the secret (it never calls Amazon).
    #[error("no {what} secret is configured for this function")]
    NotConfigured { what: &'static str },
    #[error("secret {secret_id} does not hold the expected JSON fields ({expected})")]
    Malformed {
        secret_id: String,
        expected: &'static str,
    },
    #[error("secret {secret_id}: {io}")]
    Failed {
        secret_id: String,
        #[source]
        io: IoFailure,
    },
}

/// Why a seller's LWA access token could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// `invalid_grant`: the refresh token is revoked or wrong; the seller must re-authorize.
    RefreshTokenRejected,
    /// `invalid_client`: the app's client id or secret is wrong or expired (rotation missed?).
    ClientRejected,
    /// The token endpoint failed or throttled after retries.
    Unavailable,
    /// The token endpoint answered something we cannot read.
    BadResponse,
}
