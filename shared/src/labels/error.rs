//! How a call to Amazon's Shipping API failed, in the words the label flow decides on: a rate
//! that expired is quoted again, a refusal is the job's reason, throttling and transient
//! failures are retried later. Messages name the operation, seller and Amazon's error code.

use crate::kernel::{MarketplaceId, SellerId};
use crate::sellers::{CredentialsError, LoginFailure};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    /// The quote's request token is older than Amazon keeps it (10 minutes): quote again.
    #[error("purchaseShipment for seller {seller_id}: the rate expired (TOKEN_EXPIRED)")]
    RateExpired { seller_id: SellerId },
    /// Amazon refuses the request itself (the order, an item, the package): retrying the same
    /// request cannot help. `message` is Amazon's, at most 200 characters.
    #[error("{operation} for seller {seller_id}: refused HTTP {status} {code}: {message}")]
    Refused {
        operation: &'static str,
        seller_id: SellerId,
        status: u16,
        code: String,
        message: String,
    },
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
    #[error("{operation} for seller {seller_id}: throttled after {attempts} attempts")]
    Throttled {
        operation: &'static str,
        seller_id: SellerId,
        attempts: u32,
    },
    /// Amazon's servers or the network failed after every retry. For a purchase the label may
    /// have been bought: only the same idempotency key may ask again.
    #[error("{operation} for seller {seller_id}: {detail} after {attempts} attempts")]
    Transient {
        operation: &'static str,
        seller_id: SellerId,
        detail: String,
        attempts: u32,
    },
    /// The shared rate budget has no place before this: the work waits on its queue.
    #[error("{operation} for seller {seller_id}: rate budget full until {retry_at}")]
    BudgetExhausted {
        operation: &'static str,
        seller_id: SellerId,
        retry_at: DateTime<Utc>,
    },
    /// No Amazon shipping business sells labels for the order's marketplace.
    #[error("Buy Shipping sells no labels for marketplace {marketplace_id}")]
    UnsupportedMarketplace { marketplace_id: MarketplaceId },
    /// The answer does not read as the model says. `reason` names fields, never values.
    #[error("{operation} for seller {seller_id}: response does not match the model: {reason}")]
    Unreadable {
        operation: &'static str,
        seller_id: SellerId,
        reason: String,
    },
}

impl ShippingError {
    /// Worth trying again later with the same request (and the same idempotency key).
    /// Not an unreadable answer: after a purchase the same key brings the same answer back,
    /// so a retry would loop with the label bought and never recorded (it alarms instead).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ShippingError::Throttled { .. }
                | ShippingError::Transient { .. }
                | ShippingError::BudgetExhausted { .. }
                | ShippingError::Login {
                    failure: LoginFailure::Unavailable,
                    ..
                }
        )
    }
}
