//! The shared SP-API rate budget: Amazon's usage plans (a GCRA schedule per seller and
//! operation, `plan`), kept where every process of the suite meets them.

pub mod plan;

use crate::kernel::{SellerId, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use plan::{Reserve, Take, UsagePlan};

/// Where a request set aside in the shared budget stands. `at` is on the budget's clock,
/// `wait` the real time until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A place was free: it is taken, go now.
    Now,
    /// A place is set aside for `at`.
    At {
        at: DateTime<Utc>,
        wait: std::time::Duration,
    },
    /// The budget is promised beyond its horizon: nothing set aside; `at` is the next free
    /// moment.
    Full {
        at: DateTime<Utc>,
        wait: std::time::Duration,
    },
}

/// Amazon's usage plans, shared by every process of the suite: one bucket per seller ×
/// operation, so that any number of concurrent Lambdas together stay within rate and burst.
#[async_trait]
pub trait RateBudget: Send + Sync {
    /// Take a place for one request. `Ok(None)`: go now. `Ok(Some(wait))`: no place for
    /// that long (real time); defer the work rather than sleep it out. `plan` is the official default; a
    /// rate Amazon reported earlier for this seller and operation takes its place.
    async fn take(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
    ) -> Result<Option<std::time::Duration>, StoreError>;

    /// Set a place aside for one request at the earliest free moment, behind every place set
    /// aside before, no further ahead than `horizon`.
    async fn reserve(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
        horizon: chrono::Duration,
    ) -> Result<Reservation, StoreError>;

    /// Set `count` places aside at once, in the order they fall due, behind every place set
    /// aside before: one step where the budget can. Every place lies within `horizon`, or none
    /// is set aside (each answer then `Full`).
    async fn reserve_many(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
        horizon: chrono::Duration,
        count: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        let mut places = Vec::with_capacity(count);
        for _ in 0..count {
            places.push(self.reserve(seller, operation, plan, horizon).await?);
        }
        Ok(places)
    }

    /// Amazon told us this seller's rate for the operation (`x-amzn-RateLimit-Limit`).
    async fn record_reported_rate(
        &self,
        seller: &SellerId,
        operation: &'static str,
        rate_per_second: f64,
    ) -> Result<(), StoreError>;
}
