//! PII after intake: the purge on the day (retention), deletion on request (by order, or a
//! seller's offboarding) with a written confirmation, the self-check, and the audited way to
//! open PII. Every purge, deletion, credential change and read leaves an audit event.
//!
//! Safe beside intake: a retention purge deletes only sealed items whose own date has passed
//! and marks the order only while its date is still past, so PII that intake re-sealed with a
//! later date stays. TTL is the backstop, never the rule: nothing here waits for it.

use super::error::VaultError;
use super::model::{DeletionConfirmation, DeletionRequest, DeletionScope, PurgeReason};
use super::ports::{
    DeletionLedger, DeletionStart, Marked, PiiRecords, PurgeScope, SealedFilter, SealedItems,
};
use crate::kernel::{
    AmazonOrderId, AuditEvent, AuditKind, AuditLog, Clock, PiiKind, SellerId, StoreError,
};
use crate::sellers::{Credentials, CredentialsError, SellerRegistry};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;
use std::collections::BTreeSet;

/// The actor name the redactor writes in the audit log.
pub const REDACTOR: &str = "pii-redactor";
/// Orders read from the index at a time: one query per thousand orders (its answer, ids and
/// dates, stays far below DynamoDB's 1 MB page).
const PAGE: u32 = 1000;
/// Orders purged at once: each is a handful of small DynamoDB calls, mostly waiting.
const CONCURRENCY: usize = 16;
/// Passes over an offboarded seller's PII: intake already under way when the registry entry
/// went can still seal one more order.
const SELLER_PASSES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum RedactorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("deletion request {request_id} reuses an id already used for another scope")]
    RequestIdReused { request_id: String },
}

impl RedactorError {
    pub fn kind(&self) -> &'static str {
        match self {
            RedactorError::Store(_) => "store",
            RedactorError::Vault(_) => "vault",
            RedactorError::Credentials(_) => "credentials",
            RedactorError::RequestIdReused { .. } => "request_id_reused",
        }
    }
}

/// One purge run's figures.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PurgeReport {
    pub sellers: u32,
    /// Orders whose PII the run purged (items deleted, record marked).
    pub orders_purged: u64,
    pub pii_items_deleted: u64,
    /// Past-due items found in the pii table but not through the orders index (a record
    /// never written, a seller no longer registered).
    pub stragglers_purged: u64,
    /// Orders intake moved to a later date while the run looked at them: left held.
    pub orders_moved_on: u64,
    pub failures: u64,
    /// The self-check after the run: sealed items still past their date. Must be 0.
    pub pii_past_due: u64,
    /// False when the run stopped at its time limit; the next run goes on from there.
    pub complete: bool,
}

/// What became of a deletion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionOutcome {
    Completed(DeletionConfirmation),
    /// Carried out before (a redelivery, or asked twice): its confirmation stands.
    AlreadyCompleted(DeletionConfirmation),
}

pub struct PiiRedactor<'a> {
    pub records: &'a dyn PiiRecords,
    pub sealed_items: &'a dyn SealedItems,
    pub audit: &'a dyn AuditLog,
    pub sellers: &'a dyn SellerRegistry,
    pub clock: &'a dyn Clock,
}

impl PiiRedactor<'_> {
    /// Purge every order's PII whose date has passed, then count what is still past due.
    /// `out_of_time` is asked between orders; when it says yes the run stops where it is
    /// (every order it touched is done) and reports `complete: false`.
    pub async fn purge_due(
        &self,
        out_of_time: &(dyn Fn() -> bool + Sync),
    ) -> Result<PurgeReport, RedactorError> {
        let now = self.clock.now();
        let mut report = PurgeReport {
            complete: true,
            ..PurgeReport::default()
        };
        let sellers = self.sellers.all_sellers().await?;
        report.sellers = sellers.len() as u32;
        'sellers: for seller in &sellers {
            let mut seen = BTreeSet::new();
            loop {
                let due = self.records.held_pii(seller, now, PAGE).await?;
                let fresh: Vec<_> = due
                    .into_iter()
                    .filter(|d| seen.insert(d.order_id.clone()))
                    .map(|d| (d.seller_id, d.order_id, d.sealed_kinds))
                    .collect();
                if fresh.is_empty() {
                    break;
                }
                if !self
                    .purge_batch(fresh, now, &mut report, false, out_of_time)
                    .await
                {
                    report.complete = false;
                    break 'sellers;
                }
            }
        }
        if report.complete {
            let stragglers = self
                .sealed_items
                .sealed_orders(SealedFilter::PastDue(now))
                .await?
                .into_iter()
                .map(|s| (s.seller_id, s.order_id, s.kinds))
                .collect();
            if !self
                .purge_batch(stragglers, now, &mut report, true, out_of_time)
                .await
            {
                report.complete = false;
            }
        }
        report.pii_past_due = self.self_check(now).await?;
        Ok(report)
    }

    /// Sealed items past their date, counted in the pii table itself. Non-zero leaves an
    /// audit event and an error log line the alarm counts.
    pub async fn self_check(&self, now: DateTime<Utc>) -> Result<u64, RedactorError> {
        let past_due = self.sealed_items.count_past_due(now).await?;
        if past_due > 0 {
            tracing::error!(pii_past_due = past_due, "PII held past its purge date");
            self.audit
                .record(
                    &AuditEvent::new(AuditKind::PiiPastDue, REDACTOR, "self-check", now)
                        .count(past_due),
                )
                .await?;
        }
        Ok(past_due)
    }

    /// Purge a batch of orders, [`CONCURRENCY`] at a time. Returns false when it stopped
    /// for time (orders it had started are finished; the rest wait for the next run).
    async fn purge_batch(
        &self,
        batch: Vec<(SellerId, AmazonOrderId, Vec<PiiKind>)>,
        now: DateTime<Utc>,
        report: &mut PurgeReport,
        straggler: bool,
        out_of_time: &(dyn Fn() -> bool + Sync),
    ) -> bool {
        let outcomes: Vec<_> = stream::iter(batch)
            .map(|(seller, order, kinds)| async move {
                if out_of_time() {
                    return None;
                }
                let outcome = self.purge_order(&seller, &order, kinds, now).await;
                if let Err(e) = &outcome {
                    // Counted and left for the next run; the self-check reports it if it stays.
                    tracing::warn!(seller_id = %seller, order_id = %order, error_kind = e.kind(), error = %e, "purge of one order failed");
                }
                Some(outcome)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut finished = true;
        for outcome in outcomes {
            match outcome {
                None => finished = false,
                Some(Ok((deleted, marked))) => {
                    report.pii_items_deleted += deleted as u64;
                    match marked {
                        Marked::Moved if deleted == 0 => report.orders_moved_on += 1,
                        // Nothing held and no record: nothing was purged.
                        Marked::NoRecord if deleted == 0 => {}
                        _ if straggler => report.stragglers_purged += 1,
                        _ => report.orders_purged += 1,
                    }
                }
                Some(Err(_)) => report.failures += 1,
            }
        }
        finished
    }

    /// Retention purge of one order: past-due items, then the record, then the audit event.
    async fn purge_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kinds: Vec<PiiKind>,
        now: DateTime<Utc>,
    ) -> Result<(usize, Marked), RedactorError> {
        let deleted = self
            .sealed_items
            .purge(seller, order, PurgeScope::PastDue { now, kinds })
            .await?;
        let marked = self
            .records
            .mark_pii_purged(seller, order, PurgeReason::Retention, now)
            .await?;
        if deleted > 0 || marked == Marked::Purged {
            self.audit
                .record(
                    &AuditEvent::new(AuditKind::PiiPurge, REDACTOR, "retention", now)
                        .order(seller, order)
                        .count(deleted as u64),
                )
                .await?;
        }
        // The audit event is the record; the log keeps the run's totals (one line per run).
        tracing::debug!(seller_id = %seller, order_id = %order, items_deleted = deleted, marked = ?marked, "PII purged");
        Ok((deleted, marked))
    }

    /// Carry out a deletion request at once and write its confirmation. Idempotent: a
    /// request carried out before is answered with its confirmation; one that stopped half-way
    /// is carried out again (every step is).
    pub async fn delete(
        &self,
        request: &DeletionRequest,
        ledger: &dyn DeletionLedger,
        credentials: &dyn Credentials,
    ) -> Result<DeletionOutcome, RedactorError> {
        let now = self.clock.now();
        let mut c = match ledger.begin(request, now).await? {
            DeletionStart::Completed(c) => return Ok(DeletionOutcome::AlreadyCompleted(c)),
            DeletionStart::Conflict => {
                return Err(RedactorError::RequestIdReused {
                    request_id: request.request_id.to_string(),
                });
            }
            DeletionStart::Proceed(c) => c,
        };
        let actor = request.requested_by.as_str();
        self.audit
            .record(
                &AuditEvent::new(
                    AuditKind::DeletionRequested,
                    actor,
                    request.scope.kind(),
                    now,
                )
                .seller(request.scope.seller_id())
                .request(&request.request_id),
            )
            .await?;
        match &request.scope {
            DeletionScope::Order {
                seller_id,
                order_id,
            } => {
                let (deleted, touched) = self.delete_order(request, seller_id, order_id).await?;
                c.pii_items_deleted += deleted;
                c.orders_purged += u64::from(touched);
            }
            DeletionScope::Seller { seller_id } => {
                // Stop syncing first, so that no new PII arrives while it is deleted.
                c.registry_entry_removed |= self.sellers.remove(seller_id).await?;
                if credentials.delete_refresh_token(seller_id).await? {
                    c.refresh_token_deleted = true;
                    self.audit
                        .record(
                            &AuditEvent::new(
                                AuditKind::CredentialChange,
                                actor,
                                "seller offboarding: refresh token deleted",
                                now,
                            )
                            .seller(seller_id)
                            .request(&request.request_id),
                        )
                        .await?;
                }
                let mut purged = BTreeSet::new();
                for _ in 0..SELLER_PASSES {
                    let orders = self.seller_pii(seller_id).await?;
                    if orders.is_empty() {
                        break;
                    }
                    for order_id in orders {
                        let (deleted, touched) =
                            self.delete_order(request, seller_id, &order_id).await?;
                        c.pii_items_deleted += deleted;
                        if touched {
                            purged.insert(order_id);
                        }
                    }
                }
                c.orders_purged += purged.len() as u64;
            }
        }
        c.completed_at = Some(self.clock.now());
        ledger.complete(&c).await?;
        self.audit
            .record(
                &AuditEvent::new(
                    AuditKind::DeletionCompleted,
                    actor,
                    request.scope.kind(),
                    self.clock.now(),
                )
                .seller(request.scope.seller_id())
                .request(&request.request_id)
                .count(c.pii_items_deleted),
            )
            .await?;
        tracing::info!(request_id = %request.request_id, scope = request.scope.kind(), seller_id = %request.scope.seller_id(), orders_purged = c.orders_purged, pii_items_deleted = c.pii_items_deleted, "deletion request completed");
        Ok(DeletionOutcome::Completed(c))
    }

    /// Every order of the seller with PII: by the pii table (every sealed item), and by the
    /// index (records still saying held, a page per pass; marked ones drop out between passes).
    async fn seller_pii(
        &self,
        seller: &SellerId,
    ) -> Result<BTreeSet<AmazonOrderId>, RedactorError> {
        let mut orders: BTreeSet<AmazonOrderId> = self
            .records
            .held_pii(seller, DateTime::<Utc>::MAX_UTC, PAGE)
            .await?
            .into_iter()
            .map(|h| h.order_id)
            .collect();
        for s in self
            .sealed_items
            .sealed_orders(SealedFilter::Seller(seller.clone()))
            .await?
        {
            orders.insert(s.order_id);
        }
        Ok(orders)
    }

    /// All of one order's PII on request; the record says so and intake never seals it again.
    /// Returns items deleted and whether anything changed.
    async fn delete_order(
        &self,
        request: &DeletionRequest,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<(u64, bool), RedactorError> {
        let now = self.clock.now();
        let deleted = self
            .sealed_items
            .purge(seller, order, PurgeScope::All)
            .await? as u64;
        let marked = self
            .records
            .mark_pii_purged(seller, order, PurgeReason::DeletionRequest, now)
            .await?;
        self.audit
            .record(
                &AuditEvent::new(
                    AuditKind::PiiDeletion,
                    &request.requested_by,
                    "deletion request",
                    now,
                )
                .order(seller, order)
                .request(&request.request_id)
                .count(deleted),
            )
            .await?;
        Ok((deleted, deleted > 0 || marked == Marked::Purged))
    }
}
