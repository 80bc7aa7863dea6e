//! The rate-budget layer: on the way out, a request takes its place in the shared budget (or
//! spends one set aside earlier); on the way back, the rate Amazon reports
//! (`x-amzn-RateLimit-Limit`) is stored for every worker when it changes.

use super::Operation;
use super::error::CallError;
use crate::kernel::SellerId;
use crate::rate::{RateBudget, Reservation, UsagePlan};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether a request takes its place in the budget now or spends one set aside earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Take,
    Reserved,
}

/// How far ahead a `getOrder` place may be set aside: an hour of the default plan is 1,800
/// orders of backlog per seller; beyond it work waits without a reservation.
const RESERVATION_HORIZON: chrono::Duration = chrono::Duration::hours(1);

/// A place too far off to wait for: the one set aside for then, if any, and the real time
/// until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Later {
    pub reserved_at: Option<chrono::DateTime<chrono::Utc>>,
    pub wait: Duration,
}

pub(super) struct BudgetLayer {
    budget: Arc<dyn RateBudget>,
    /// The longest wait for a place the function sleeps out itself; a longer one gives the
    /// work back.
    max_wait: Duration,
    /// The last rate Amazon reported per seller and operation, to write only changes.
    reported: Mutex<HashMap<(SellerId, Operation), f64>>,
}

impl BudgetLayer {
    pub(super) fn new(budget: Arc<dyn RateBudget>, max_wait: Duration) -> Self {
        Self {
            budget,
            max_wait,
            reported: Mutex::new(HashMap::new()),
        }
    }

    /// On the way out: wait for the request's place (a short wait is slept out here), or give
    /// the work back with `BudgetExhausted` when the wait is long.
    pub(super) async fn admit(
        &self,
        seller: &SellerId,
        op: Operation,
        place: Place,
    ) -> Result<(), CallError> {
        if place == Place::Reserved {
            return Ok(());
        }
        let (rate, burst) = op.default_quota();
        let plan = UsagePlan::new(rate, burst).with_headroom();
        let exhausted = |wait: Duration, reserved_at| CallError::BudgetExhausted {
            retry_after_ms: wait.as_millis() as u64,
            reserved_at,
        };
        if op.reserves() {
            // One read and one write, then a sleep to a place nobody else will take.
            return match self
                .budget
                .reserve(seller, op.name(), plan, RESERVATION_HORIZON)
                .await
                .map_err(CallError::Budget)?
            {
                Reservation::Now => Ok(()),
                Reservation::At { wait, .. } if wait <= self.max_wait => {
                    tokio::time::sleep(wait).await;
                    Ok(())
                }
                Reservation::At { at, wait } => Err(exhausted(wait, Some(at))),
                Reservation::Full { wait, .. } => Err(exhausted(wait, None)),
            };
        }
        // Bounded in total, not per wait: under contention each wait is short but many.
        let mut waited = Duration::ZERO;
        loop {
            match self
                .budget
                .take(seller, op.name(), plan)
                .await
                .map_err(CallError::Budget)?
            {
                None => return Ok(()),
                Some(w) if waited + w <= self.max_wait => {
                    tokio::time::sleep(w).await;
                    waited += w;
                }
                Some(w) => return Err(exhausted(w, None)),
            }
        }
    }

    /// Set `count` places of `op` aside at once (a batch's `getOrder`s): each one to go now, after
    /// a wait this layer would sleep out itself (`Ok(Ok(wait))`), or later (`Ok(Err(..))`: the
    /// place set aside, if any, and the real time until then).
    pub(super) async fn reserve_places(
        &self,
        seller: &SellerId,
        op: Operation,
        count: usize,
    ) -> Result<Vec<Result<Duration, Later>>, CallError> {
        let (rate, burst) = op.default_quota();
        let plan = UsagePlan::new(rate, burst).with_headroom();
        let places = self
            .budget
            .reserve_many(seller, op.name(), plan, RESERVATION_HORIZON, count)
            .await
            .map_err(CallError::Budget)?;
        Ok(places
            .into_iter()
            .map(|r| match r {
                Reservation::Now => Ok(Duration::ZERO),
                Reservation::At { wait, .. } if wait <= self.max_wait => Ok(wait),
                Reservation::At { at, wait } => Err(Later {
                    reserved_at: Some(at),
                    wait,
                }),
                Reservation::Full { wait, .. } => Err(Later {
                    reserved_at: None,
                    wait,
                }),
            })
            .collect())
    }

    /// On the way back: Amazon's `x-amzn-RateLimit-Limit`, stored when it changes.
    pub(super) async fn observe(&self, seller: &SellerId, op: Operation, header: Option<&str>) {
        let Some(rate) = header.and_then(|h| h.trim().parse::<f64>().ok()) else {
            return;
        };
        let key = (seller.clone(), op);
        let known = self
            .reported
            .lock()
            .map(|m| m.get(&key).copied())
            .unwrap_or(None)
            .unwrap_or(op.default_quota().0);
        if (known - rate).abs() <= f64::EPSILON * rate.abs().max(1.0) {
            return;
        }
        match self
            .budget
            .record_reported_rate(seller, op.name(), rate)
            .await
        {
            Ok(()) => {
                if let Ok(mut m) = self.reported.lock() {
                    m.insert(key, rate);
                }
            }
            Err(e) => tracing::warn!(
                operation = op.name(),
                seller_id = %seller,
                error = %e,
                "could not record the rate Amazon reported; the default stays in use"
            ),
        }
    }
}
