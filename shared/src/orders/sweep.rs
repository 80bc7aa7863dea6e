//! The catch-up sweep: for each active seller, `searchOrders` by last update from the seller's
//! checkpoint, store every order (facts in orders, sealed PII in pii), and advance the
//! checkpoint only after the page is stored. A sweep stopped anywhere resumes from its last
//! stored page: no gap (the window and page token are kept) and no duplicate (stores are
//! idempotent upserts keyed by order). Each new window reaches back `overlap` before the last
//! one ended, for orders Amazon indexes late; the orders read twice are stored unchanged.

use super::intake::{Intake, IntakeError, OrderIntake, Stored};
use crate::kernel::Clock;
use crate::kernel::SellerId;
use crate::kernel::StoreError;
use crate::orders::AmazonError;
use crate::orders::{
    AmazonOrders, CheckpointStore, OrderSearch, SweepCheckpoint, SweepWindow, UnreadableOrder,
    UnreadableOrders,
};
use crate::sellers::{SellerAccount, SellerRegistry};
use chrono::Duration;
use futures::{StreamExt, stream};
use serde::Serialize;
use std::time::Instant;

/// Amazon serves orders no fresher than two minutes before now.
const FRESHNESS_LAG: Duration = Duration::minutes(2);
/// Unreadable orders fetched again by themselves per seller and run (each costs a getOrder).
const UNREADABLE_RETRIES_PER_RUN: usize = 10;
/// Do not start a page with less time than this left before the Lambda deadline.
const PAGE_TIME_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

/// How the sweep reads Amazon and stores what it finds.
#[derive(Debug, Clone, Copy)]
pub struct SweepSettings {
    /// `maxResultsPerPage`, 1 to 100.
    pub page_size: u8,
    /// How far back a seller's first sweep reaches.
    pub first_lookback: Duration,
    /// Sellers swept concurrently.
    pub seller_concurrency: usize,
    /// How far each window reaches back before the last one ended, for late updates.
    pub overlap: Duration,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            page_size: 100,
            first_lookback: Duration::days(7),
            seller_concurrency: 4,
            overlap: Duration::minutes(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] AmazonError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

impl SyncError {
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::Api(e) => e.kind(),
            SyncError::Store(StoreError::Conflict { .. }) => "checkpoint_conflict",
            SyncError::Store(_) => "store",
            SyncError::Intake(e) => e.kind(),
        }
    }
}

/// What to sweep this time.
#[derive(Debug, Clone, Default)]
pub struct SweepRequest {
    /// Only these sellers (on-demand runs); all active sellers when `None`.
    pub only_sellers: Option<Vec<SellerId>>,
    /// Stop starting pages when this is near (the Lambda's deadline).
    pub deadline: Option<Instant>,
    /// Stop after this many pages per seller (bounded runs).
    pub max_pages: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepOutcome {
    /// The window is fully stored; the checkpoint moved to its end.
    Complete,
    /// Stopped for time or page budget; the next run resumes from the checkpoint.
    Paused,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct SellerSweep {
    pub seller_id: SellerId,
    pub outcome: SweepOutcome,
    pub pages: u32,
    pub orders_stored: u32,
    pub orders_unchanged: u32,
    pub orders_stale: u32,
    pub pii_items_sealed: u32,
    pub pii_purged_orders: u32,
    pub stock_changes: u32,
    /// Orders of this run's pages that did not read: recorded, the rest of the page stored.
    pub orders_unreadable: u32,
    /// Orders recorded unreadable earlier that read now and were stored.
    pub unreadable_recovered: u32,
    pub error_kind: Option<&'static str>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub sellers: Vec<SellerSweep>,
    pub orders_stored: u32,
    pub pii_items_sealed: u32,
    pub stock_changes: u32,
    pub orders_unreadable: u32,
    pub sellers_failed: u32,
}

pub struct OrderSync<'a> {
    pub api: &'a dyn AmazonOrders,
    pub intake: OrderIntake<'a>,
    pub checkpoints: &'a dyn CheckpointStore,
    pub sellers: &'a dyn SellerRegistry,
    pub unreadable: &'a dyn UnreadableOrders,
    pub clock: &'a dyn Clock,
    pub settings: SweepSettings,
}

impl OrderSync<'_> {
    /// Sweep every selected seller. One seller's failure is reported and never stops the others.
    pub async fn run(&self, request: &SweepRequest) -> Result<SweepReport, StoreError> {
        let mut sellers = self.sellers.active_sellers().await?;
        if let Some(only) = &request.only_sellers {
            sellers.retain(|s| only.contains(&s.seller_id));
        }
        let mut reports: Vec<SellerSweep> = stream::iter(sellers.iter())
            .map(|s| self.sweep_seller(s, request))
            .buffer_unordered(self.settings.seller_concurrency)
            .collect()
            .await;
        reports.sort_by(|a, b| a.seller_id.cmp(&b.seller_id));
        Ok(SweepReport {
            orders_stored: reports.iter().map(|r| r.orders_stored).sum(),
            pii_items_sealed: reports.iter().map(|r| r.pii_items_sealed).sum(),
            stock_changes: reports.iter().map(|r| r.stock_changes).sum(),
            orders_unreadable: reports.iter().map(|r| r.orders_unreadable).sum(),
            sellers_failed: reports
                .iter()
                .filter(|r| r.outcome == SweepOutcome::Failed)
                .count() as u32,
            sellers: reports,
        })
    }

    async fn sweep_seller(&self, seller: &SellerAccount, request: &SweepRequest) -> SellerSweep {
        let mut report = SellerSweep {
            seller_id: seller.seller_id.clone(),
            outcome: SweepOutcome::Failed,
            pages: 0,
            orders_stored: 0,
            orders_unchanged: 0,
            orders_stale: 0,
            pii_items_sealed: 0,
            pii_purged_orders: 0,
            stock_changes: 0,
            orders_unreadable: 0,
            unreadable_recovered: 0,
            error_kind: None,
            error: None,
        };
        self.fetch_unreadable_again(&seller.seller_id, &mut report)
            .await;
        match self.sweep_pages(seller, request, &mut report).await {
            Ok(outcome) => report.outcome = outcome,
            // The shared budget is spent (other instances, or notifications, used it): the
            // checkpoint holds, the next scheduled run continues.
            Err(SyncError::Api(e @ AmazonError::BudgetExhausted { .. })) => {
                tracing::info!(
                    seller_id = %seller.seller_id,
                    error = %e,
                    pages = report.pages,
                    "seller sweep paused: rate budget spent"
                );
                report.outcome = SweepOutcome::Paused;
                report.error_kind = Some(e.kind());
            }
            Err(e) => {
                tracing::warn!(
                    seller_id = %seller.seller_id,
                    error_kind = e.kind(),
                    error = %e,
                    pages = report.pages,
                    "seller sweep failed; other sellers continue, this one resumes from its checkpoint"
                );
                report.error_kind = Some(e.kind());
                report.error = Some(e.to_string());
            }
        }
        tracing::info!(
            seller_id = %seller.seller_id,
            outcome = ?report.outcome,
            pages = report.pages,
            orders_stored = report.orders_stored,
            orders_stale = report.orders_stale,
            orders_unreadable = report.orders_unreadable,
            unreadable_recovered = report.unreadable_recovered,
            pii_items_sealed = report.pii_items_sealed,
            "seller sweep finished"
        );
        report
    }

    /// Put an unreadable order on record and say so (the alarm counts these lines).
    async fn record_unreadable(
        &self,
        seller: &SellerId,
        order: &UnreadableOrder,
        window_start: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        tracing::warn!(
            seller_id = %seller,
            order_id = order.order_id.as_ref().map(|o| o.as_str()),
            error_kind = "order_unreadable",
            reason = %order.reason,
            "order unreadable; recorded, the rest of its page stored, fetched again by itself later"
        );
        self.unreadable
            .record(seller, order, window_start, self.clock.now())
            .await
    }

    /// Orders recorded unreadable, fetched again one by one: stored and off the record once
    /// they read, counted again while they do not. Never fails the sweep: what is left waits
    /// for the next run.
    async fn fetch_unreadable_again(&self, seller: &SellerId, report: &mut SellerSweep) {
        let pending = match self
            .unreadable
            .pending(seller, UNREADABLE_RETRIES_PER_RUN)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(seller_id = %seller, error = %e, "unreadable orders not listed; next run");
                return;
            }
        };
        for on_record in pending {
            let id = &on_record.order_id;
            let outcome = match self.api.get_order(seller, id).await {
                Ok(fetched) => match self.intake.store(&fetched).await {
                    Ok(_) => self.unreadable.resolve(seller, id).await.map(|()| true),
                    Err(e) => {
                        tracing::warn!(seller_id = %seller, order_id = %id, error = %e, "unreadable order reads now, not stored yet; next run");
                        Ok(false)
                    }
                },
                Err(AmazonError::Unreadable { reason, .. }) => {
                    let again = UnreadableOrder {
                        order_id: Some(id.clone()),
                        reason,
                    };
                    self.record_unreadable(seller, &again, on_record.first_seen)
                        .await
                        .map(|()| false)
                }
                Err(AmazonError::NotFound { .. }) => {
                    tracing::warn!(seller_id = %seller, order_id = %id, "unreadable order no longer found at Amazon; off the record");
                    self.unreadable.resolve(seller, id).await.map(|()| false)
                }
                Err(e) => {
                    tracing::info!(seller_id = %seller, order_id = %id, error_kind = e.kind(), "unreadable orders not fetched again this run");
                    return;
                }
            };
            match outcome {
                Ok(true) => report.unreadable_recovered += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(seller_id = %seller, error = %e, "unreadable-order record not updated; next run");
                    return;
                }
            }
        }
    }

    async fn sweep_pages(
        &self,
        seller: &SellerAccount,
        request: &SweepRequest,
        report: &mut SellerSweep,
    ) -> Result<SweepOutcome, SyncError> {
        let id = &seller.seller_id;
        let stored = self.checkpoints.load(id).await?;
        let (mut checkpoint, mut revision) = match stored {
            Some(v) => (v.value, Some(v.revision)),
            None => (SweepCheckpoint::default(), None),
        };
        let mut window = match checkpoint.in_progress.clone() {
            Some(w) => w,
            None => {
                let now = self.clock.now();
                let after = checkpoint
                    .synced_until
                    .map_or(now - self.settings.first_lookback, |t| {
                        t - self.settings.overlap
                    });
                let before = now - FRESHNESS_LAG;
                // Nothing new since the last window ended (its overlap alone is not a window).
                if checkpoint
                    .synced_until
                    .is_some_and(|t| before <= t + chrono::Duration::seconds(1))
                    || before <= after
                {
                    return Ok(SweepOutcome::Complete);
                }
                let window = SweepWindow {
                    updated_after: after,
                    updated_before: before,
                    next_page: None,
                    pages_stored: 0,
                };
                checkpoint.in_progress = Some(window.clone());
                revision = Some(self.checkpoints.save(id, &checkpoint, revision).await?);
                window
            }
        };
        loop {
            if request.max_pages.is_some_and(|m| report.pages >= m)
                || request
                    .deadline
                    .is_some_and(|d| d.saturating_duration_since(Instant::now()) < PAGE_TIME_MARGIN)
            {
                return Ok(SweepOutcome::Paused);
            }
            let search = OrderSearch {
                marketplace_ids: seller.marketplace_ids.clone(),
                updated_after: window.updated_after,
                updated_before: window.updated_before,
                page_size: self.settings.page_size,
                page: window.next_page.clone(),
            };
            let page = match self.api.search_orders(id, &search).await {
                // Amazon's page tokens expire (24 h): a checkpoint that waited longer, behind
                // a revoked token or a spent budget, reads its window again from the start.
                // Orders are upserts, so pages read twice cost calls, not correctness.
                // Only a page token can expire: without one the refusal is an error, not a
                // restart (which would ask the same again for ever).
                Err(AmazonError::PageTokenExpired { .. }) if search.page.is_some() => {
                    tracing::warn!(
                        seller_id = %id,
                        pages_stored = window.pages_stored,
                        "page token refused; the window restarts from its first page"
                    );
                    window.next_page = None;
                    window.pages_stored = 0;
                    checkpoint.in_progress = Some(window.clone());
                    revision = Some(self.checkpoints.save(id, &checkpoint, revision).await?);
                    continue;
                }
                other => other?,
            };
            // The page's orders stored together; the page counts as stored only if every
            // one of them is.
            let results: Vec<Intake> = self
                .intake
                .store_all(&page.orders)
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            report.pages += 1;
            // Before the checkpoint moves past them: recorded, so nothing is lost.
            for u in &page.unreadable {
                self.record_unreadable(id, u, window.updated_after).await?;
                report.orders_unreadable += 1;
            }
            for r in &results {
                match r.stored {
                    Stored::Inserted | Stored::Updated => report.orders_stored += 1,
                    Stored::Unchanged => report.orders_unchanged += 1,
                    Stored::Stale => report.orders_stale += 1,
                }
                report.pii_items_sealed += r.pii_items_sealed;
                report.pii_purged_orders += u32::from(r.pii_purged);
                report.stock_changes += u32::from(r.stock_change.is_some());
            }
            // Only now, with the page stored, does the checkpoint move.
            match page.next_page {
                Some(next) => {
                    window.next_page = Some(next);
                    window.pages_stored += 1;
                    checkpoint.in_progress = Some(window.clone());
                }
                None => {
                    checkpoint.synced_until = Some(window.updated_before);
                    checkpoint.in_progress = None;
                }
            }
            revision = Some(self.checkpoints.save(id, &checkpoint, revision).await?);
            if checkpoint.in_progress.is_none() {
                return Ok(SweepOutcome::Complete);
            }
        }
    }
}
