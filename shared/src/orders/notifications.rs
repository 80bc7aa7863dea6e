//! `ORDER_CHANGE` notifications from the notifications queue: each is parsed, deduplicated by
//! `NotificationId`, answered with one `getOrder` through the shared rate budget and stored
//! through [`OrderIntake`], the same path the catch-up sweep takes.
//!
//! What happens to a message:
//! - stored, or a duplicate, or Amazon's own (FBA) order: done, deleted from the queue;
//! - no rate-budget place near: put back with a delay (visibility change), not counted as a try;
//! - a transient failure: left for SQS to redeliver, counted; after `max_failures` it goes to
//!   the dead-letter queue with its reason;
//! - malformed, unknown seller, order unknown to Amazon: to the dead-letter queue at once.
//!
//! Each message's ending (`Ending`) is carried out by the Lambda layer's batch helper. Dead
//! letters, logs and errors carry ids only.

use super::intake::{IntakeError, OrderIntake, Stored};
use crate::kernel::{Clock, DeadLetter, Ending, QueuedMessage, SellerId};
use crate::orders::{AmazonError, FulfilledBy, OrderChange, parse_order_change};
use crate::orders::{AmazonOrders, Claim, NotificationClaims};
use crate::sellers::SellerRegistry;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// A message back this close before its place is due (the budget's own margin covers it).
const EARLY_TOLERANCE: chrono::Duration = chrono::Duration::milliseconds(250);
/// The first retry after a failed attempt; doubles with each failure.
const RETRY_BASE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct EventSettings {
    /// Failed attempts before a message goes to the dead-letter queue.
    pub max_failures: u32,
    /// How long a claim keeps other copies of a notification away: the queue's visibility
    /// timeout, so that a claim outlives the attempt that holds it.
    pub claim_lease: Duration,
    /// Messages of one batch handled at once.
    pub concurrency: usize,
    /// The longest deferral (SQS allows 12 hours).
    pub max_defer: Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            claim_lease: Duration::from_secs(300),
            concurrency: 8,
            max_defer: Duration::from_secs(3600),
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    Stored(Stored),
    Duplicate,
    /// Fulfilled by Amazon: not ours to ship.
    NotOurs,
    DeadLettered {
        reason_kind: String,
    },
    /// Back on the queue after a delay: no budget place near.
    Deferred,
    /// Failed this time; SQS redelivers it.
    Retry,
}

/// A batch's figures, logged and returned to tests and the local run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchReport {
    pub messages: u32,
    pub notifications_processed: u32,
    pub duplicate_notifications_ignored: u32,
    pub amazon_fulfilled_ignored: u32,
    pub orders_inserted: u32,
    pub orders_updated: u32,
    pub orders_unchanged: u32,
    pub orders_stale: u32,
    pub deferred: u32,
    pub retried: u32,
    pub dead_lettered: u32,
    /// Message ids to leave on the queue (`batchItemFailures`).
    pub keep: Vec<String>,
}

impl BatchReport {
    /// Sum another batch's figures into this one.
    pub fn merge(&mut self, other: BatchReport) {
        self.messages += other.messages;
        self.notifications_processed += other.notifications_processed;
        self.duplicate_notifications_ignored += other.duplicate_notifications_ignored;
        self.amazon_fulfilled_ignored += other.amazon_fulfilled_ignored;
        self.orders_inserted += other.orders_inserted;
        self.orders_updated += other.orders_updated;
        self.orders_unchanged += other.orders_unchanged;
        self.orders_stale += other.orders_stale;
        self.deferred += other.deferred;
        self.retried += other.retried;
        self.dead_lettered += other.dead_lettered;
        self.keep.extend(other.keep);
    }

    /// Count one message: what became of it, and whether it stayed on the queue (`kept`: a
    /// dead letter that could not be sent stays, and counts as a retry).
    pub fn add(&mut self, message_id: &str, handled: &NotificationOutcome, kept: bool) {
        self.messages += 1;
        if kept {
            self.keep.push(message_id.to_owned());
        }
        match handled {
            NotificationOutcome::DeadLettered { .. } if kept => self.retried += 1,
            NotificationOutcome::Stored(s) => {
                self.notifications_processed += 1;
                match s {
                    Stored::Inserted => self.orders_inserted += 1,
                    Stored::Updated => self.orders_updated += 1,
                    Stored::Unchanged => self.orders_unchanged += 1,
                    Stored::Stale => self.orders_stale += 1,
                }
            }
            NotificationOutcome::Duplicate => self.duplicate_notifications_ignored += 1,
            NotificationOutcome::NotOurs => self.amazon_fulfilled_ignored += 1,
            NotificationOutcome::DeadLettered { .. } => self.dead_lettered += 1,
            NotificationOutcome::Deferred => self.deferred += 1,
            NotificationOutcome::Retry => self.retried += 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum EventFailure {
    #[error(transparent)]
    Api(#[from] AmazonError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

impl EventFailure {
    fn kind(&self) -> &'static str {
        match self {
            EventFailure::Api(e) => e.kind(),
            EventFailure::Intake(e) => e.kind(),
        }
    }

    /// Retrying cannot help: Amazon refuses the request itself.
    fn is_permanent(&self) -> bool {
        matches!(
            self,
            // Not `NotFound`: a brand-new order can reach getOrder a moment after its notification.
            EventFailure::Api(AmazonError::Rejected { .. })
        )
    }
}

pub struct OrderEvents<'a> {
    pub api: &'a dyn AmazonOrders,
    pub intake: OrderIntake<'a>,
    pub claims: &'a dyn NotificationClaims,
    pub sellers: &'a dyn SellerRegistry,
    pub clock: &'a dyn Clock,
    pub settings: EventSettings,
}

impl OrderEvents<'_> {
    /// The active sellers, read once per batch. `None`: the registry is unreadable, and every
    /// message of the batch is retried.
    pub async fn active_sellers(&self) -> Option<BTreeSet<SellerId>> {
        match self.sellers.active_sellers().await {
            Ok(s) => Some(s.into_iter().map(|s| s.seller_id).collect()),
            Err(e) => {
                tracing::warn!(error = %e, "seller registry unreadable; the batch is retried");
                None
            }
        }
    }

    /// Handle one message: what became of it, and how it ends on its queue.
    pub async fn handle(
        &self,
        m: &QueuedMessage,
        active: &BTreeSet<SellerId>,
    ) -> (NotificationOutcome, Ending) {
        let change = match parse_order_change(&m.body) {
            Ok(c) => c,
            Err(e) => {
                let letter = self.letter(m, None, "malformed", e.to_string(), 0);
                return dead_letter(letter);
            }
        };
        if change.fulfilled_by == FulfilledBy::Amazon {
            return (NotificationOutcome::NotOurs, Ending::Done);
        }
        if !active.contains(&change.seller_id) {
            let reason = format!(
                "seller {} is not an active seller of this suite",
                change.seller_id
            );
            let letter = self.letter(m, Some(&change), "unknown_seller", reason, 0);
            return dead_letter(letter);
        }
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.claim_lease)
            .unwrap_or(chrono::Duration::minutes(5));
        let claim = self
            .claims
            .claim(&change.notification_id, &m.message_id, now, now + lease)
            .await;
        let (failures, reserved_at) = match claim {
            Ok(Claim::Claimed {
                failures,
                reserved_at,
            }) => (failures, reserved_at),
            Ok(Claim::AlreadyDone | Claim::InFlight) => {
                tracing::info!(
                    notification_id = %change.notification_id,
                    seller_id = %change.seller_id,
                    order_id = %change.order_id,
                    "duplicate notification ignored"
                );
                return (NotificationOutcome::Duplicate, Ending::Done);
            }
            Err(e) => {
                tracing::warn!(notification_id = %change.notification_id, error = %e, "notification claims unavailable; retried");
                return (NotificationOutcome::Retry, Ending::Retry(None));
            }
        };
        // Back before its place (SQS counts delays in whole seconds): wait out the rest.
        if let Some(at) = reserved_at
            && at > now + EARLY_TOLERANCE
        {
            return self
                .defer(m, &change, Some(at), self.clock.real(at - now))
                .await;
        }
        let outcome = match self.process(&change, reserved_at.is_some()).await {
            // No place near: the transport set one aside (or the budget is promised too far
            // ahead); back to the queue until then.
            Err(EventFailure::Api(AmazonError::BudgetExhausted {
                reserved_at,
                retry_after_ms,
                ..
            })) => {
                return self
                    .defer(
                        m,
                        &change,
                        reserved_at,
                        Duration::from_millis(retry_after_ms),
                    )
                    .await;
            }
            other => other,
        };
        match outcome {
            Ok(stored) => {
                if let Err(e) = self.claims.complete(&change.notification_id, now).await {
                    // Stored already; a redelivery finds the order unchanged.
                    tracing::warn!(notification_id = %change.notification_id, error = %e, "could not mark the notification done");
                }
                tracing::info!(
                    notification_id = %change.notification_id,
                    seller_id = %change.seller_id,
                    order_id = %change.order_id,
                    change_type = %change.change_type,
                    stored = ?stored,
                    "notification processed"
                );
                (NotificationOutcome::Stored(stored), Ending::Done)
            }
            Err(e) if e.is_permanent() => {
                let letter = self.letter(m, Some(&change), e.kind(), e.to_string(), failures + 1);
                dead_letter(letter)
            }
            Err(e) => {
                let failures = match self
                    .claims
                    .fail(&change.notification_id, &m.message_id)
                    .await
                {
                    Ok(f) => f,
                    Err(_) => failures + 1,
                };
                tracing::warn!(
                    notification_id = %change.notification_id,
                    seller_id = %change.seller_id,
                    order_id = %change.order_id,
                    error_kind = e.kind(),
                    error = %e,
                    failures,
                    "notification failed"
                );
                if failures >= self.settings.max_failures {
                    let letter = self.letter(m, Some(&change), e.kind(), e.to_string(), failures);
                    return dead_letter(letter);
                }
                // Try again after a backoff rather than the queue's long visibility timeout.
                let backoff = RETRY_BASE * (1u32 << failures.saturating_sub(1).min(6));
                (
                    NotificationOutcome::Retry,
                    Ending::Retry(Some(backoff.min(self.settings.max_defer))),
                )
            }
        }
    }

    async fn process(&self, change: &OrderChange, reserved: bool) -> Result<Stored, EventFailure> {
        let fetched = if reserved {
            self.api
                .get_order_reserved(&change.seller_id, &change.order_id)
                .await?
        } else {
            self.api
                .get_order(&change.seller_id, &change.order_id)
                .await?
        };
        Ok(self.intake.store(&fetched).await?.stored)
    }

    /// Back to the queue for `wait` (real time), keeping the place set aside for it (`reserved_at`).
    async fn defer(
        &self,
        m: &QueuedMessage,
        change: &OrderChange,
        reserved_at: Option<DateTime<Utc>>,
        wait: Duration,
    ) -> (NotificationOutcome, Ending) {
        if let Err(e) = self
            .claims
            .defer(&change.notification_id, &m.message_id, reserved_at)
            .await
        {
            tracing::warn!(notification_id = %change.notification_id, error = %e, "could not record the deferral; its claim's lease runs out instead");
        }
        // Whole seconds, rounded up: never back before the place is due.
        let delay = Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            .clamp(Duration::from_secs(1), self.settings.max_defer);
        tracing::info!(
            notification_id = %change.notification_id,
            seller_id = %change.seller_id,
            delay_ms = delay.as_millis() as u64,
            place_reserved = reserved_at.is_some(),
            "no rate budget near; notification deferred"
        );
        (NotificationOutcome::Deferred, Ending::Retry(Some(delay)))
    }

    fn letter(
        &self,
        m: &QueuedMessage,
        change: Option<&OrderChange>,
        kind: &str,
        reason: String,
        failures: u32,
    ) -> DeadLetter {
        DeadLetter {
            notification_id: change.map(|c| c.notification_id.clone()),
            seller_id: change.map(|c| c.seller_id.clone()),
            order_id: change.map(|c| c.order_id.clone()),
            ..DeadLetter::new(&m.message_id, kind, reason, failures, self.clock.now())
        }
    }
}

fn dead_letter(letter: DeadLetter) -> (NotificationOutcome, Ending) {
    (
        NotificationOutcome::DeadLettered {
            reason_kind: letter.reason_kind.clone(),
        },
        Ending::DeadLetter(letter),
    )
}
