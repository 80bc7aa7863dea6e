//! How a call to Amazon's Orders API failed, in the words intake decides on. The SP-API
//! adapter maps HTTP statuses, LWA refusals and the rate budget into these; messages name the
//! operation, seller and Amazon's error code, never a request or response body.

use crate::kernel::{SellerId, StoreError};
use crate::sellers::{CredentialsError, LoginFailure};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum AmazonError {
    #[error("{operation} for seller {seller_id}: access denied (HTTP {status}, {code})")]
    Unauthorized {
        operation: &'static str,
        seller_id: SellerId,
        status: u16,
        code: String,
    },
    #[error("LWA access token for seller {seller_id}: {failure:?}")]
    Login {
        seller_id: SellerId,
        failure: LoginFailure,
    },
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("{operation} for seller {seller_id}: throttled (HTTP 429) after {attempts} attempts")]
    Throttled {
        operation: &'static str,
        seller_id: SellerId,
        attempts: u32,
    },
    /// Amazon's servers or the network failed, after every retry.
    #[error("{operation} for seller {seller_id}: {detail} after {attempts} attempts")]
    Transient {
        operation: &'static str,
        seller_id: SellerId,
        detail: String,
        attempts: u32,
    },
    /// The `searchOrders` page token is no longer valid (they expire after 24 hours).
    #[error("searchOrders for seller {seller_id}: page token refused")]
    PageTokenExpired { seller_id: SellerId },
    #[error("{operation} for seller {seller_id}: not found")]
    NotFound {
        operation: &'static str,
        seller_id: SellerId,
    },
    /// Amazon refuses the request itself: retrying it cannot help.
    #[error("{operation} for seller {seller_id}: rejected HTTP {status} {code}: {message}")]
    Rejected {
        operation: &'static str,
        seller_id: SellerId,
        status: u16,
        code: String,
        message: String,
    },
    /// The answer does not read as the model says. `reason` names fields, never values.
    #[error("{operation} for seller {seller_id}: response does not match the model: {reason}")]
    Unreadable {
        operation: &'static str,
        seller_id: SellerId,
        reason: String,
    },
    /// The shared rate budget has no place for a while: defer the work, do not sleep it out.
    /// `reserved_at`: a place is set aside for the work at that moment (the budget's clock);
    /// it is spent by coming back then and calling with the reservation.
    #[error("{operation} for seller {seller_id}: rate budget full for {retry_after_ms} ms")]
    BudgetExhausted {
        operation: &'static str,
        seller_id: SellerId,
        retry_after_ms: u64,
        reserved_at: Option<DateTime<Utc>>,
    },
    #[error("{operation} for seller {seller_id}: rate budget unreadable: {source}")]
    Budget {
        operation: &'static str,
        seller_id: SellerId,
        source: StoreError,
    },
}

impl AmazonError {
    /// Short machine-readable kind for logs, reports and dead letters.
    pub fn kind(&self) -> &'static str {
        match self {
            AmazonError::Unauthorized { .. } => "unauthorized",
            AmazonError::Login { .. } => "lwa",
            AmazonError::Credentials(_) => "credentials",
            AmazonError::Throttled { .. } => "throttled",
            AmazonError::Transient { .. } => "transient",
            AmazonError::PageTokenExpired { .. } => "page_token_expired",
            AmazonError::NotFound { .. } => "not_found",
            AmazonError::Rejected { .. } => "rejected",
            AmazonError::Unreadable { .. } => "unreadable",
            AmazonError::BudgetExhausted { .. } => "budget_exhausted",
            AmazonError::Budget { .. } => "budget_store",
        }
    }
}
