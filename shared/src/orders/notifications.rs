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
use crate::kernel::{AmazonOrderId, Clock, DeadLetter, Ending, QueuedMessage, SellerId};
use crate::orders::{Admission, AmazonOrders, Claim, ClaimAsk, FetchedOrder, NotificationClaims};
use crate::orders::{AmazonError, FulfilledBy, OrderChange, parse_order_change};
use crate::pii::KeysAhead;
use crate::sellers::SellerRegistry;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// Orders of one batch fetched at once. The SQS batch (at most 10) all at once: a fetch
    /// waiting for a slot spends its place late (see the fetch).
    pub concurrency: usize,
    /// The longest deferral (SQS allows 12 hours).
    pub max_defer: Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            claim_lease: Duration::from_secs(300),
            concurrency: 10,
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

/// A claimed message on its way through the batch.
struct Claimed {
    /// Its place in the batch.
    at: usize,
    change: OrderChange,
    /// Earlier attempts that failed.
    failures: u32,
    /// A `getOrder` place was set aside for it earlier (now due).
    reserved: bool,
}

/// A batch claimed and fetched: the claimed messages per order, the orders fetched (and
/// the group of each), the groups that failed, and when the claims were taken.
struct ClaimedBatch {
    groups: Vec<Vec<Claimed>>,
    /// Data keys asked for while the orders were fetched.
    data_keys: KeysAhead,
    fetched: Vec<FetchedOrder>,
    storing: Vec<usize>,
    settled: Vec<(usize, Result<Stored, EventFailure>)>,
    now: DateTime<Utc>,
}

/// What fetching one order came to.
enum Fetch {
    Order(Box<FetchedOrder>),
    /// No place near: put off for `wait`, the place set aside for `reserved_at` kept.
    Later {
        reserved_at: Option<DateTime<Utc>>,
        wait: Duration,
    },
    Failed(EventFailure),
}

fn duplicate(change: &OrderChange) {
    tracing::info!(
        notification_id = %change.notification_id,
        seller_id = %change.seller_id,
        order_id = %change.order_id,
        "duplicate notification ignored"
    );
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
    /// message of the batch it would decide is retried.
    async fn active_sellers(&self) -> Option<BTreeSet<SellerId>> {
        match self.sellers.active_sellers().await {
            Ok(s) => Some(s.into_iter().map(|s| s.seller_id).collect()),
            Err(e) => {
                tracing::warn!(error = %e, "seller registry unreadable; the batch's notifications are retried");
                None
            }
        }
    }

    /// Handle a batch of messages: what became of each, and how it ends on its queue, in the
    /// order given.
    ///
    /// Each step is taken for the whole batch at once: the claims (with the active sellers and
    /// the records read meanwhile), the `getOrder` places (one per order, per seller at once),
    /// the fetches (at most `concurrency` at a time, the data keys asked for meanwhile), the
    /// storing ([`OrderIntake::store_all`]) and the claims marked done. A message that fails
    /// a step ends by itself (retried, deferred or dead-lettered); the others go on.
    pub async fn handle_batch(
        &self,
        messages: &[QueuedMessage],
    ) -> Vec<(NotificationOutcome, Ending)> {
        let mut answers: Vec<Option<(NotificationOutcome, Ending)>> =
            crate::kernel::unanswered(messages.len());

        // Read: what cannot be processed ends here.
        let mut read: Vec<(usize, OrderChange)> = Vec::new();
        let mut in_batch = BTreeSet::new();
        for (i, m) in messages.iter().enumerate() {
            match self.read(m) {
                Ok(change) if !in_batch.insert(change.notification_id.clone()) => {
                    // Two copies in one batch: the first one processes it.
                    duplicate(&change);
                    answers[i] = Some((NotificationOutcome::Duplicate, Ending::Done));
                }
                Ok(change) => read.push((i, change)),
                Err(answer) => answers[i] = Some(*answer),
            }
        }

        // The records are read while the notifications are claimed and their orders
        // fetched: the read needs nothing of either, and storing takes it from here.
        let mut keys: Vec<(SellerId, AmazonOrderId)> = Vec::new();
        for (_, c) in &read {
            let key = (c.seller_id.clone(), c.order_id.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let (records, batch) = futures::join!(
            self.intake.orders.load_many(&keys),
            self.claim_and_fetch(messages, read, &mut answers)
        );
        let ClaimedBatch {
            groups,
            mut data_keys,
            fetched,
            storing,
            mut settled,
            now,
        } = batch;
        let mut records: HashMap<(SellerId, AmazonOrderId), _> =
            keys.into_iter().zip(records).collect();
        let read_before = fetched
            .iter()
            .map(|f| records.remove(&(f.order.seller_id.clone(), f.order.order_id.clone())))
            .collect();

        // Store, then mark the notifications of what was stored done.
        let stored = self
            .intake
            .store_all_read(&fetched, read_before, &mut data_keys)
            .await;
        // Keys not taken are of no more use: their plaintext goes now.
        drop(data_keys);
        for (g, r) in storing.into_iter().zip(stored) {
            settled.push((g, r.map(|i| i.stored).map_err(EventFailure::from)));
        }
        let done: Vec<String> = settled
            .iter()
            .filter(|(_, r)| r.is_ok())
            .flat_map(|(g, _)| groups[*g].iter().map(|c| c.change.notification_id.clone()))
            .collect();
        let marked = self.claims.complete_many(&done, now).await;
        for (id, m) in done.iter().zip(marked) {
            if let Err(e) = m {
                // Stored already; a redelivery finds the order unchanged.
                tracing::warn!(notification_id = %id, error = %e, "could not mark the notification done");
            }
        }
        for (g, result) in settled {
            for (k, c) in groups[g].iter().enumerate() {
                let result = match &result {
                    // The order was stored once; its other notifications found it so.
                    Ok(s) => Ok(if k == 0 { *s } else { Stored::Unchanged }),
                    Err(e) => Err(e),
                };
                answers[c.at] = Some(self.settle(&messages[c.at], c, result, k == 0).await);
            }
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or((NotificationOutcome::Retry, Ending::Retry(None))))
            .collect()
    }

    /// Claim the notifications read, set aside their places and fetch their orders, one
    /// `getOrder` per order: what is claimed, fetched and failed, grouped per order; every
    /// message that ends here (a duplicate, a deferral, an unknown seller's) answered in
    /// `answers`.
    async fn claim_and_fetch(
        &self,
        messages: &[QueuedMessage],
        read: Vec<(usize, OrderChange)>,
        answers: &mut [Option<(NotificationOutcome, Ending)>],
    ) -> ClaimedBatch {
        // Claim.
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.claim_lease)
            .unwrap_or(chrono::Duration::minutes(5));
        let asks: Vec<ClaimAsk> = read
            .iter()
            .map(|(i, c)| ClaimAsk {
                notification_id: c.notification_id.clone(),
                message_id: messages[*i].message_id.clone(),
            })
            .collect();
        // The registry is read while the notifications are claimed: the claims of a seller
        // that turns out not to be active are let go (below), which seldom happens.
        let (claims, active) = futures::join!(
            self.claims.claim_many(&asks, now, now + lease),
            self.active_sellers()
        );
        let mut claimed: Vec<Claimed> = Vec::new();
        let mut let_go = Vec::new();
        for ((at, change), claim) in read.into_iter().zip(claims) {
            // A copy is a copy whoever its seller is; the others wait on the registry.
            if !matches!(claim, Ok(Claim::AlreadyDone | Claim::InFlight)) {
                let Some(active) = &active else {
                    answers[at] = Some((NotificationOutcome::Retry, Ending::Retry(None)));
                    continue;
                };
                if !active.contains(&change.seller_id) {
                    // Claimed, or perhaps claimed (an error after the write): let go either way.
                    let_go.push((change.notification_id.clone(), at));
                    answers[at] = Some(self.unknown_seller(&messages[at], &change));
                    continue;
                }
            }
            match claim {
                Ok(Claim::Claimed {
                    failures,
                    reserved_at,
                }) => {
                    // Back before its place (SQS counts delays in whole seconds): wait out the rest.
                    if let Some(due) = reserved_at
                        && due > now + EARLY_TOLERANCE
                    {
                        let wait = self.clock.real(due - now);
                        answers[at] =
                            Some(self.defer(&messages[at], &change, Some(due), wait).await);
                        continue;
                    }
                    claimed.push(Claimed {
                        at,
                        change,
                        failures,
                        reserved: reserved_at.is_some(),
                    });
                }
                Ok(Claim::AlreadyDone | Claim::InFlight) => {
                    duplicate(&change);
                    answers[at] = Some((NotificationOutcome::Duplicate, Ending::Done));
                }
                Err(e) => {
                    tracing::warn!(notification_id = %change.notification_id, error = %e, "notification claims unavailable; retried");
                    answers[at] = Some((NotificationOutcome::Retry, Ending::Retry(None)));
                }
            }
        }

        let releases = let_go.iter().map(|(notification_id, at)| async move {
            let message_id = &messages[*at].message_id;
            if let Err(e) = self.claims.release(notification_id, message_id).await {
                tracing::warn!(%notification_id, error = %e, "could not let go of the claim; its lease runs out instead");
            }
        });
        futures::future::join_all(releases).await;

        // One getOrder per order, however many of its notifications came in the batch.
        let mut groups: Vec<Vec<Claimed>> = Vec::new();
        let mut by_order: HashMap<(SellerId, AmazonOrderId), usize> = HashMap::new();
        for c in claimed {
            let key = (c.change.seller_id.clone(), c.change.order_id.clone());
            match by_order.get(&key) {
                Some(&g) => groups[g].push(c),
                None => {
                    by_order.insert(key, groups.len());
                    groups.push(vec![c]);
                }
            }
        }

        // Places in the rate budget: a group holding one set aside earlier spends it; the
        // others' are set aside per seller at once.
        let mut admissions: Vec<Admission> = groups
            .iter()
            .map(|g| {
                if g.iter().any(|c| c.reserved) {
                    Admission::Go {
                        wait: Duration::ZERO,
                    }
                } else {
                    Admission::OnItsOwn
                }
            })
            .collect();
        let mut per_seller: BTreeMap<&SellerId, Vec<usize>> = BTreeMap::new();
        for (g, members) in groups.iter().enumerate() {
            if !members.iter().any(|c| c.reserved) {
                per_seller
                    .entry(&members[0].change.seller_id)
                    .or_default()
                    .push(g);
            }
        }
        // When each group's places were set aside: its wait counts from then.
        let mut placed = vec![tokio::time::Instant::now(); groups.len()];
        for (seller, gs) in per_seller {
            match self.api.reserve_get_orders(seller, gs.len()).await {
                Ok(places) if places.len() == gs.len() => {
                    let now = tokio::time::Instant::now();
                    for (g, place) in gs.into_iter().zip(places) {
                        admissions[g] = place;
                        placed[g] = now;
                    }
                }
                // Each call then takes its own place, and meets what failed by itself.
                Ok(_) => {
                    tracing::error!(seller_id = %seller, "rate budget answered another number of places; each call takes its own");
                }
                Err(e) => {
                    tracing::warn!(seller_id = %seller, error_kind = e.kind(), error = %e, "places not set aside together; each call takes its own");
                }
            }
        }

        // The data keys of the orders about to be fetched that will come with PII, asked for
        // while they are fetched rather than after: not for an order put off (no fetch).
        let sealing: Vec<(&SellerId, &AmazonOrderId)> = groups
            .iter()
            .zip(&admissions)
            .filter(|(g, a)| {
                !matches!(a, Admission::Later { .. })
                    && g.iter().any(|c| c.change.status.comes_with_pii())
            })
            .map(|(g, _)| (&g[0].change.seller_id, &g[0].change.order_id))
            .collect();

        // Fetch, at most `concurrency` at once; a place too far off puts its order off. Each
        // waits for its place counted from when it was set aside (not from when a slot frees,
        // nor after another seller's places): a place spent late lets Amazon's bucket sit full
        // meanwhile, and that lost refill is taken from later places.
        let fetches = stream::iter(groups.iter().zip(admissions).zip(placed))
            .map(|((members, admission), placed)| async move {
                let c = &members[0].change;
                let fetched = match admission {
                    Admission::OnItsOwn => self.api.get_order(&c.seller_id, &c.order_id).await,
                    Admission::Go { wait } => {
                        if !wait.is_zero() {
                            tokio::time::sleep_until(placed + wait).await;
                        }
                        self.api.get_order_reserved(&c.seller_id, &c.order_id).await
                    }
                    Admission::Later { reserved_at, wait } => {
                        return Fetch::Later { reserved_at, wait };
                    }
                };
                match fetched {
                    Ok(order) => Fetch::Order(Box::new(order)),
                    Err(e) => Fetch::Failed(e.into()),
                }
            })
            .buffered(self.settings.concurrency.max(1))
            .collect::<Vec<Fetch>>();
        let (data_keys, fetches) = futures::join!(self.intake.vault.keys_ahead(&sealing), fetches);
        let mut fetched: Vec<FetchedOrder> = Vec::new();
        let mut storing: Vec<usize> = Vec::new();
        let mut settled: Vec<(usize, Result<Stored, EventFailure>)> = Vec::new();
        for (g, f) in fetches.into_iter().enumerate() {
            match f {
                Fetch::Order(order) => {
                    fetched.push(*order);
                    storing.push(g);
                }
                Fetch::Later { reserved_at, wait } => {
                    for (k, c) in groups[g].iter().enumerate() {
                        // The place set aside goes with the first; the others come back with it.
                        let keep = if k == 0 { reserved_at } else { None };
                        answers[c.at] =
                            Some(self.defer(&messages[c.at], &c.change, keep, wait).await);
                    }
                }
                Fetch::Failed(e) => settled.push((g, Err(e))),
            }
        }

        ClaimedBatch {
            groups,
            data_keys,
            fetched,
            storing,
            settled,
            now,
        }
    }

    /// The message as a change to process, or how it ends at once.
    fn read(&self, m: &QueuedMessage) -> Result<OrderChange, Box<(NotificationOutcome, Ending)>> {
        let change = match parse_order_change(&m.body) {
            Ok(c) => c,
            Err(e) => {
                let letter = self.letter(m, None, "malformed", e.to_string(), 0);
                return Err(Box::new(dead_letter(letter)));
            }
        };
        if change.fulfilled_by == FulfilledBy::Amazon {
            return Err(Box::new((NotificationOutcome::NotOurs, Ending::Done)));
        }
        Ok(change)
    }

    /// A notification of a seller the registry does not hold as active: to the dead-letter
    /// queue (ids only: a later copy, or the sweep, brings the order in once the seller is
    /// added).
    fn unknown_seller(
        &self,
        m: &QueuedMessage,
        change: &OrderChange,
    ) -> (NotificationOutcome, Ending) {
        let reason = format!(
            "seller {} is not an active seller of this suite",
            change.seller_id
        );
        dead_letter(self.letter(m, Some(change), "unknown_seller", reason, 0))
    }

    /// How a claimed message ends once its order was stored or failed.
    /// `first`: the first of its order's notifications in the batch, which alone keeps a place
    /// set aside for the order's fetch.
    async fn settle(
        &self,
        m: &QueuedMessage,
        c: &Claimed,
        result: Result<Stored, &EventFailure>,
        first: bool,
    ) -> (NotificationOutcome, Ending) {
        let change = &c.change;
        let e = match result {
            Ok(stored) => {
                tracing::info!(
                    notification_id = %change.notification_id,
                    seller_id = %change.seller_id,
                    order_id = %change.order_id,
                    change_type = %change.change_type,
                    stored = ?stored,
                    "notification processed"
                );
                return (NotificationOutcome::Stored(stored), Ending::Done);
            }
            Err(e) => e,
        };
        // No place near: the transport set one aside (or the budget is promised too far
        // ahead); back to the queue until then.
        if let EventFailure::Api(AmazonError::BudgetExhausted {
            reserved_at,
            retry_after_ms,
            ..
        }) = e
        {
            // One place was set aside for the order, not one per notification.
            let kept = if first { *reserved_at } else { None };
            return self
                .defer(m, change, kept, Duration::from_millis(*retry_after_ms))
                .await;
        }
        if e.is_permanent() {
            let letter = self.letter(m, Some(change), e.kind(), e.to_string(), c.failures + 1);
            return dead_letter(letter);
        }
        let failures = match self
            .claims
            .fail(&change.notification_id, &m.message_id)
            .await
        {
            Ok(f) => f,
            Err(_) => c.failures + 1,
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
            let letter = self.letter(m, Some(change), e.kind(), e.to_string(), failures);
            return dead_letter(letter);
        }
        // Try again after a backoff rather than the queue's long visibility timeout.
        let backoff = RETRY_BASE * (1u32 << failures.saturating_sub(1).min(6));
        (
            NotificationOutcome::Retry,
            Ending::Retry(Some(backoff.min(self.settings.max_defer))),
        )
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
