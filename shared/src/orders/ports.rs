//! The ports of order intake: the order records, Amazon's Orders API, the sweep's checkpoints
//! and records, notification claims.

use super::error::AmazonError;
use super::model::Order;
use crate::kernel::{
    Address, AmazonOrderId, MarketplaceId, OrderPii, Revisioned, SellerId, StoreError,
};
use crate::pii::{PiiStatus, VaultError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An order as stored: the facts, their revision, and where its PII stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub order: Order,
    /// Bumped by every write (intake, warehouse, redactor); writes are conditional on it.
    pub revision: u64,
    pub pii: PiiStatus,
}

/// Puts the ship-to its buyer corrected (a data-subject request) in place of the one Amazon
/// sent.
#[async_trait]
pub trait ShipToCorrector: Send + Sync {
    /// Seal `ship_to` as the order's recipient under a new data key bound to the order, and
    /// write `corrected` (the order as read, its PII status now naming the correction) over
    /// the revision read, in one transaction: both or neither, so nothing that moved the order
    /// on in between (packing buys its label) is overtaken, and only over a ship-to still held
    /// (a deletion that has begun is never undone). Intake never seals Amazon's ship-to over a
    /// corrected one.
    async fn correct_ship_to(
        &self,
        corrected: &StoredOrder,
        ship_to: &Address,
    ) -> Result<Correction, VaultError>;
}

/// What a correction's transaction came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// Written: the record's new revision.
    Written(u64),
    /// The record had moved on: nothing written; read it again.
    RecordMoved,
    /// No ship-to is held any more (purged or deleted meanwhile): nothing written.
    ShipToGone,
}

#[async_trait]
pub trait OrderStore: Send + Sync {
    /// The stored order with its revision, for a write conditional on it.
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<StoredOrder>, StoreError>;

    /// Write `order` if the stored revision is still `expected` (`None`: nothing stored yet).
    /// `Ok(None)`: another writer came first; load again. `Ok(Some(revision))`: written.
    async fn save(
        &self,
        order: &Order,
        pii: PiiStatus,
        expected: Option<u64>,
    ) -> Result<Option<u64>, StoreError>;

    async fn get(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<Order>, StoreError> {
        Ok(self.load(seller, order).await?.map(|v| v.order))
    }

    /// Many orders (distinct) as `load` reads each, in one read where the store can; the
    /// answers in the order asked, each apart.
    async fn load_many(
        &self,
        keys: &[(SellerId, AmazonOrderId)],
    ) -> Vec<Result<Option<StoredOrder>, StoreError>> {
        let mut answers = Vec::with_capacity(keys.len());
        for (seller, order) in keys {
            answers.push(self.load(seller, order).await);
        }
        answers
    }

    /// Many writes of distinct orders, each conditional on its own revision as `save`, in one
    /// request where the store can; the answers in the order given, each apart (one write
    /// that lost its race never holds up the others).
    async fn save_many(&self, writes: &[OrderWrite]) -> Vec<Result<Option<u64>, StoreError>> {
        let mut answers = Vec::with_capacity(writes.len());
        for w in writes {
            answers.push(self.save(&w.order, w.pii.clone(), w.expected).await);
        }
        answers
    }
}

/// One conditional write of an order's record (`OrderStore::save_many`).
#[derive(Debug, Clone)]
pub struct OrderWrite {
    pub order: Order,
    pub pii: PiiStatus,
    /// The revision read (`None`: nothing stored yet).
    pub expected: Option<u64>,
}

/// Where a seller's catch-up sweep stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SweepCheckpoint {
    /// Every order updated before this instant is stored.
    pub synced_until: Option<DateTime<Utc>>,
    /// A sweep that has started and not finished.
    pub in_progress: Option<SweepWindow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepWindow {
    pub updated_after: DateTime<Utc>,
    pub updated_before: DateTime<Utc>,
    /// The page to fetch next; `None` before the first page is stored.
    pub next_page: Option<String>,
    pub pages_stored: u32,
}

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    async fn load(
        &self,
        seller: &SellerId,
    ) -> Result<Option<Revisioned<SweepCheckpoint>>, StoreError>;
    /// Write if the stored revision is still `expected` (`None`: nothing stored yet).
    /// Returns the new revision; [`StoreError::Conflict`] if another writer came first.
    async fn save(
        &self,
        seller: &SellerId,
        checkpoint: &SweepCheckpoint,
        expected: Option<u64>,
    ) -> Result<u64, StoreError>;
}

/// An order as fetched from Amazon: facts and PII apart from the start.
#[derive(Debug, Clone)]
pub struct FetchedOrder {
    pub order: Order,
    pub pii: OrderPii,
}

/// A `searchOrders` request by last update.
#[derive(Debug, Clone)]
pub struct OrderSearch {
    pub marketplace_ids: Vec<MarketplaceId>,
    pub updated_after: DateTime<Utc>,
    pub updated_before: DateTime<Utc>,
    pub page_size: u8,
    pub page: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OrdersPage {
    pub orders: Vec<FetchedOrder>,
    /// Orders of the page the suite could not read: each one alone, never the whole page.
    pub unreadable: Vec<UnreadableOrder>,
    pub next_page: Option<String>,
}

/// An order Amazon served that does not read as its model says (a field missing, a status
/// no model knows): its id, when it has a readable one, and why. Ids and field names only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableOrder {
    pub order_id: Option<AmazonOrderId>,
    pub reason: String,
}

/// An unreadable order on record, to be fetched again by itself until it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableOnRecord {
    pub order_id: AmazonOrderId,
    pub reason: String,
    pub first_seen: DateTime<Utc>,
    /// Times the sweep met it unreadable, in pages and fetched by itself.
    pub seen: u32,
}

/// The sweep's record of unreadable orders (control table), per seller.
#[async_trait]
pub trait UnreadableOrders: Send + Sync {
    /// Record (or count again) an unreadable order. One without an id is recorded under the
    /// window it came from, for the operator; it cannot be fetched by itself.
    async fn record(
        &self,
        seller: &SellerId,
        order: &UnreadableOrder,
        window_start: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Up to `limit` recorded orders with ids, oldest record first.
    async fn pending(
        &self,
        seller: &SellerId,
        limit: usize,
    ) -> Result<Vec<UnreadableOnRecord>, StoreError>;
    /// The order read at last (stored), or is gone at Amazon: off the record.
    async fn resolve(&self, seller: &SellerId, order: &AmazonOrderId) -> Result<(), StoreError>;
}

/// How one `getOrder` of a batch stands in the shared rate budget, set aside for the whole
/// batch at once (`AmazonOrders::reserve_get_orders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Nothing set aside: the call takes its own place (`get_order`).
    OnItsOwn,
    /// A place is set aside: call `get_order_reserved` after `wait` (short, slept out).
    Go { wait: std::time::Duration },
    /// No place near: put the work off for `wait` (real time), keeping the place set aside
    /// for `reserved_at`, if any.
    Later {
        reserved_at: Option<DateTime<Utc>>,
        wait: std::time::Duration,
    },
}

/// Amazon's Orders API (2026-01-01) as the suite uses it.
#[async_trait]
pub trait AmazonOrders: Send + Sync {
    /// Set aside `count` `getOrder` places of `seller` in one step, in the order they fall due.
    /// The default sets nothing aside: each call takes its own.
    async fn reserve_get_orders(
        &self,
        seller: &SellerId,
        count: usize,
    ) -> Result<Vec<Admission>, AmazonError> {
        let _ = seller;
        Ok(vec![Admission::OnItsOwn; count])
    }

    async fn search_orders(
        &self,
        seller: &SellerId,
        search: &OrderSearch,
    ) -> Result<OrdersPage, AmazonError>;
    async fn get_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, AmazonError>;
    /// `getOrder` on a place set aside earlier: the first attempt takes nothing more.
    async fn get_order_reserved(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, AmazonError>;
}

/// What a claim on a notification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This message may process the notification; `failures` earlier attempts failed;
    /// `reserved_at`: a `getOrder` place was set aside for it for then.
    Claimed {
        failures: u32,
        reserved_at: Option<DateTime<Utc>>,
    },
    /// Another copy already processed it.
    AlreadyDone,
    /// Another copy holds a live claim; if that copy fails, its own redelivery retries.
    InFlight,
}

/// One notification to claim for one SQS message (`NotificationClaims::claim_many`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimAsk {
    pub notification_id: String,
    pub message_id: String,
}

/// Notification dedupe by `NotificationId`: a conditional claim, then done. Entries expire
/// (TTL) long after Amazon stops redelivering.
#[async_trait]
pub trait NotificationClaims: Send + Sync {
    /// Claim the notification for the SQS message `message_id` until `lease_until`. A
    /// redelivery of the same message, or a claim whose lease ran out, may claim again.
    async fn claim(
        &self,
        notification_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;
    /// Processed: later copies are duplicates.
    async fn complete(&self, notification_id: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Claim many distinct notifications as `claim` does each, in one request where the
    /// store can; the answers in the order asked, each apart.
    async fn claim_many(
        &self,
        asks: &[ClaimAsk],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Vec<Result<Claim, StoreError>> {
        let mut answers = Vec::with_capacity(asks.len());
        for a in asks {
            answers.push(
                self.claim(&a.notification_id, &a.message_id, now, lease_until)
                    .await,
            );
        }
        answers
    }
    /// Mark many notifications processed as `complete` does each; the answers each apart.
    async fn complete_many(
        &self,
        notification_ids: &[String],
        now: DateTime<Utc>,
    ) -> Vec<Result<(), StoreError>> {
        let mut answers = Vec::with_capacity(notification_ids.len());
        for n in notification_ids {
            answers.push(self.complete(n, now).await);
        }
        answers
    }
    /// A claim taken for nothing (its seller turned out not to be active): gone, as if never
    /// taken, so that a later copy of the notification, once the seller is added, is not taken
    /// for one in flight. Only while `message_id` holds it (none held: nothing to do).
    async fn release(&self, notification_id: &str, message_id: &str) -> Result<(), StoreError>;
    /// The attempt failed: count it and drop the claim. Returns the failures so far.
    async fn fail(&self, notification_id: &str, message_id: &str) -> Result<u32, StoreError>;
    /// Put off without failing (no rate-budget place near): drop the claim, keeping the place
    /// set aside for it, if any, for whichever copy comes back.
    async fn defer(
        &self,
        notification_id: &str,
        message_id: &str,
        reserved_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
}

/// Which of a seller's orders a listing wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderFilter {
    /// Open orders (those of `statuses`, every open one when empty), earliest ship-by first,
    /// due by `ship_by_before` when given: the `open_by_ship_by` index.
    Open {
        statuses: Vec<super::OrderStatus>,
        ship_by_before: Option<DateTime<Utc>>,
    },
    /// Orders in one status (open or not), by order id.
    Status(super::OrderStatus),
    /// Every order of the seller, by order id.
    All,
}

/// Where a listing stopped: the store's own key of the last order read, names and values as
/// text. Opaque to callers; the API hands it out encoded and checks it on the way back.
pub type PageKey = std::collections::BTreeMap<String, String>;

#[derive(Debug, Clone)]
pub struct OrderListPage {
    pub orders: Vec<StoredOrder>,
    /// Absent on the last page. A page may hold fewer than asked and still have a next one
    /// (the filter is applied after the store reads `limit` orders).
    pub next: Option<PageKey>,
}

/// A seller's orders, page by page.
#[async_trait]
pub trait OrderListing: Send + Sync {
    /// Up to `limit` orders matching `filter`, after `after` (a page's `next`).
    async fn list(
        &self,
        seller: &SellerId,
        filter: &OrderFilter,
        limit: u32,
        after: Option<&PageKey>,
    ) -> Result<OrderListPage, StoreError>;

    /// The key names a page key of `filter` may hold (a cursor naming others is forged).
    fn page_key_names(&self, filter: &OrderFilter) -> &'static [&'static str];
}
