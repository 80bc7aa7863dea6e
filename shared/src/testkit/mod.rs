//! In-memory implementations of the ports, for fast unit tests of the services; the moto tests
//! in tests/local-stack stay the tests of the adapters and of the whole.
//!
//! Each type keeps its state behind a `std::sync::Mutex` and follows its trait's documented
//! contract (conditional writes on revisions, claims with leases, idempotent seals and
//! deletions), plus a few inspection helpers for assertions. Time comes from
//! [`ManualClock`]; PII stays inside `Pii<T>` wherever it is held. [`Kit`] wires one of each
//! into the services.

mod amazon;
mod control;
mod logs;
mod pii;
mod records;

pub use amazon::{AmazonOp, MemAmazon};
pub use control::{
    ClaimState, MemCheckpoints, MemClaims, MemCredentials, MemSellers, MemUnreadable,
};
pub use logs::{MemAudit, MemQueue, MemStock};
pub use pii::{MemDeletions, MemVault};
pub use records::MemOrders;

use crate::kernel::{Clock, ManualClock};
use crate::kernel::{Failure, IoFailure};
use crate::orders::OrderIntake;
use crate::orders::notifications::{EventSettings, OrderEvents};
use crate::orders::sweep::{OrderSync, SweepSettings};
use crate::pii::{PiiRedactor, RetentionPolicy};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// A lock that survives a test that panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A step of intake's batch that a test makes fail for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchStep {
    /// Claiming a notification (by `NotificationId`).
    Claim,
    /// `getOrder` (by order id).
    Fetch,
    /// Reading the order's record (by order id).
    Load,
    /// Sealing the order's PII (by order id).
    Seal,
    /// Announcing the order's stock change (by order id).
    Stock,
    /// Writing the order's record (by order id).
    Save,
    /// Marking a notification done (by `NotificationId`).
    Complete,
}

/// Failures set for one item at one step of a batch, each met once: the batched port answers
/// that item with an error and every other item as it would.
#[derive(Default)]
pub struct Faults(Mutex<HashSet<(BatchStep, String)>>);

impl Faults {
    /// The next time `step` is taken for `id`, it fails.
    pub fn fail(&self, step: BatchStep, id: &str) {
        lock(&self.0).insert((step, id.to_owned()));
    }

    /// Whether `step` fails for `id` now (the failure is then spent).
    fn hit(&self, step: BatchStep, id: &str) -> bool {
        lock(&self.0).remove(&(step, id.to_owned()))
    }

    fn io(step: BatchStep) -> IoFailure {
        IoFailure {
            operation: "injected",
            failure: Failure::Transient,
            detail: format!("{step:?} failed for this item (test)"),
            source: format!("{step:?}").into(),
        }
    }
}

/// One in-memory world: every port, a manual clock, and the services wired to them.
pub struct Kit {
    pub clock: Arc<ManualClock>,
    pub orders: MemOrders,
    pub vault: MemVault,
    pub amazon: MemAmazon,
    pub checkpoints: Arc<MemCheckpoints>,
    pub unreadable: MemUnreadable,
    pub claims: MemClaims,
    pub queue: MemQueue,
    pub stock: MemStock,
    pub audit: MemAudit,
    pub sellers: MemSellers,
    pub credentials: MemCredentials,
    pub deletions: MemDeletions,
    pub retention: RetentionPolicy,
    /// Failures of one item at one batched step, shared by the ports above.
    pub faults: Arc<Faults>,
}

impl Kit {
    /// Empty stores, no sellers, the clock at `now`, the default retention rule.
    pub fn at(now: DateTime<Utc>) -> Self {
        let clock = Arc::new(ManualClock::at(now));
        let checkpoints = Arc::new(MemCheckpoints::default());
        let faults = Arc::new(Faults::default());
        Self {
            vault: MemVault::new(clock.clone() as Arc<dyn Clock>).with_faults(faults.clone()),
            sellers: MemSellers::new(checkpoints.clone()),
            clock,
            orders: MemOrders::default().with_faults(faults.clone()),
            amazon: MemAmazon::default().with_faults(faults.clone()),
            checkpoints,
            unreadable: MemUnreadable::default(),
            claims: MemClaims::default().with_faults(faults.clone()),
            queue: MemQueue::default(),
            stock: MemStock::default().with_faults(faults.clone()),
            audit: MemAudit::default(),
            credentials: MemCredentials::default(),
            deletions: MemDeletions::default(),
            retention: RetentionPolicy::default(),
            faults,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn intake(&self) -> OrderIntake<'_> {
        OrderIntake {
            orders: &self.orders,
            vault: &self.vault,
            sealed_items: &self.vault,
            audit: &self.audit,
            stock: &self.stock,
            clock: &*self.clock,
            retention: self.retention,
        }
    }

    pub fn sweep(&self, settings: SweepSettings) -> OrderSync<'_> {
        OrderSync {
            api: &self.amazon,
            intake: self.intake(),
            checkpoints: &*self.checkpoints,
            sellers: &self.sellers,
            unreadable: &self.unreadable,
            clock: &*self.clock,
            settings,
        }
    }

    pub fn events(&self, settings: EventSettings) -> OrderEvents<'_> {
        OrderEvents {
            api: &self.amazon,
            intake: self.intake(),
            claims: &self.claims,
            sellers: &self.sellers,
            clock: &*self.clock,
            settings,
        }
    }

    pub fn redactor(&self) -> PiiRedactor<'_> {
        PiiRedactor {
            records: &self.orders,
            sealed_items: &self.vault,
            audit: &self.audit,
            sellers: &self.sellers,
            clock: &*self.clock,
        }
    }
}
