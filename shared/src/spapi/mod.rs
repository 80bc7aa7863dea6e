//! The Selling Partner API client: LWA access tokens from refresh tokens kept in Secrets
//! Manager, Orders 2026-01-01, 429/5xx retried with jittered backoff. It logs each call's
//! operation, seller, status, `x-amzn-RequestId` and latency; never a body.

mod client;
mod error;
mod lwa;
mod notifications;
mod orders;

pub use client::{RetryPolicy, SpApiClient};
pub use error::{LwaFailure, SpApiError};
pub use lwa::LwaTokens;
pub use notifications::{
    ChangedLine, FulfilledBy, NotificationError, NotifiedStatus, OrderChange, parse_order_change,
};
pub use orders::{INCLUDED_DATA, OrderModel, SearchOrdersResponse, to_fetched_order};

/// The operations the suite calls, with their official default rate (requests/s) and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    SearchOrders,
    GetOrder,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::SearchOrders => "searchOrders",
            Operation::GetOrder => "getOrder",
        }
    }

    /// Whether a request that finds no token sets one aside (and waits for it, or is deferred
    /// to it) rather than asking again. `getOrder` work waits on its queue for its slot; a
    /// `searchOrders` token set aside by a sweep that then pauses would be three minutes of
    /// quota lost, so sweeps ask again on their next run.
    pub fn reserves(self) -> bool {
        matches!(self, Operation::GetOrder)
    }

    /// `(rate per second, burst)` from the Orders 2026-01-01 model.
    pub fn default_quota(self) -> (f64, u32) {
        match self {
            Operation::SearchOrders => (0.0056, 20),
            Operation::GetOrder => (0.5, 30),
        }
    }
}
