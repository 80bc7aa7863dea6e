use crate::adapters::{SecretsError, StoreError};
use crate::domain::SellerId;

/// Why a seller's LWA token could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LwaFailure {
    /// `invalid_grant`: the refresh token is revoked or wrong; the seller must re-authorize.
    RefreshTokenRejected,
    /// `invalid_client`: the app's client id or secret is wrong or expired (rotation missed?).
    ClientRejected,
    /// The token endpoint failed or throttled after retries.
    Unavailable,
    /// The token endpoint answered something we cannot read.
    BadResponse,
}

/// SP-API call failures. Messages name the operation, seller and Amazon's error code; never
/// a request or response body (the parser's own message is left out, as it can quote values).
#[derive(Debug, thiserror::Error)]
pub enum SpApiError {
    #[error("{operation} for seller {seller_id}: access denied (HTTP {status}, {code})")]
    Unauthorized {
        operation: &'static str,
        seller_id: SellerId,
        status: u16,
        code: String,
    },
    #[error("{operation} for seller {seller_id}: throttled (HTTP 429) after {attempts} attempts")]
    Throttled {
        operation: &'static str,
        seller_id: SellerId,
        attempts: u32,
    },
    #[error(
        "{operation} for seller {seller_id}: server error HTTP {status} after {attempts} attempts"
    )]
    Server {
        operation: &'static str,
        seller_id: SellerId,
        status: u16,
        attempts: u32,
    },
    #[error("{operation} for seller {seller_id}: rejected HTTP {status} {code}: {message}")]
    Rejected {
        operation: &'static str,
        seller_id: SellerId,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{operation} for seller {seller_id}: not found")]
    NotFound {
        operation: &'static str,
        seller_id: SellerId,
    },
    #[error("{operation} for seller {seller_id}: transport failure: {message}")]
    Transport {
        operation: &'static str,
        seller_id: SellerId,
        message: String,
    },
    #[error("{operation} for seller {seller_id}: response does not match the model: {reason}")]
    Decode {
        operation: &'static str,
        seller_id: SellerId,
        reason: String,
    },
    #[error("LWA token for seller {seller_id}: {failure:?}")]
    Lwa {
        seller_id: SellerId,
        failure: LwaFailure,
    },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The shared rate budget has no token for a while: defer the work, do not sleep it out.
    /// `slot`: a token is set aside for the work at that moment (the budget's clock); it is
    /// spent by coming back then and calling with the reservation.
    #[error("{operation} for seller {seller_id}: rate budget empty for {retry_after_ms} ms")]
    BudgetExhausted {
        operation: &'static str,
        seller_id: SellerId,
        retry_after_ms: u64,
        slot: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error("{operation} for seller {seller_id}: rate budget unreadable: {source}")]
    BudgetStore {
        operation: &'static str,
        seller_id: SellerId,
        source: StoreError,
    },
}

impl SpApiError {
    /// Worth another attempt after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SpApiError::Throttled { .. }
                | SpApiError::Server { .. }
                | SpApiError::Transport { .. }
                | SpApiError::Decode { .. }
        )
    }

    /// The seller's authorization is the problem: retrying will not help until the seller
    /// re-authorizes or the operator fixes credentials.
    pub fn is_authorization(&self) -> bool {
        matches!(
            self,
            SpApiError::Unauthorized { .. }
                | SpApiError::Lwa {
                    failure: LwaFailure::RefreshTokenRejected | LwaFailure::ClientRejected,
                    ..
                }
                | SpApiError::Secrets(_)
        )
    }

    /// Short machine-readable kind for logs and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            SpApiError::Unauthorized { .. } => "unauthorized",
            SpApiError::Throttled { .. } => "throttled",
            SpApiError::Server { .. } => "server_error",
            SpApiError::Rejected { .. } => "rejected",
            SpApiError::NotFound { .. } => "not_found",
            SpApiError::Transport { .. } => "transport",
            SpApiError::Decode { .. } => "decode",
            SpApiError::Lwa { .. } => "lwa",
            SpApiError::Secrets(_) => "secrets",
            SpApiError::BudgetExhausted { .. } => "budget_exhausted",
            SpApiError::BudgetStore { .. } => "budget_store",
        }
    }
}
