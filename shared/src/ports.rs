//! The small traits services need. Services take `&dyn Port`; adapters implement them.

use crate::adapters::{QueueError, SecretsError, StoreError, VaultError};
use crate::domain::{
    Address, AmazonOrderId, BuyerPii, MarketplaceId, Order, OrderPii, PiiKind, SellerId,
    StockChange, UsagePlan,
};
use crate::spapi::SpApiError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// How long `d` of this clock's time lasts in real time (sleeps, queue delays). The same,
    /// except for a sped-up simulated clock in tests and benchmarks.
    fn real(&self, d: chrono::Duration) -> std::time::Duration {
        d.to_std().unwrap_or_default()
    }
}

/// Wall-clock time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Whether the order's PII is held in the pii table, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiiHolding {
    pub held: bool,
    pub purge_at: DateTime<Utc>,
}

#[async_trait]
pub trait OrderStore: Send + Sync {
    /// The stored order with its revision (bumped by every write, Amazon's or the
    /// warehouse's), for a write conditional on it.
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<Versioned<Order>>, StoreError>;

    /// Write `order` if the stored revision is still `expected` (`None`: nothing stored yet).
    /// `Ok(None)`: another writer came first; load again. `Ok(Some(revision))`: written.
    async fn save(
        &self,
        order: &Order,
        pii: PiiHolding,
        expected: Option<u64>,
    ) -> Result<Option<u64>, StoreError>;

    async fn get(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<Order>, StoreError> {
        Ok(self.load(seller, order).await?.map(|v| v.value))
    }
}

/// Where stock-change messages go (the stock queue). Ids and quantities only.
#[async_trait]
pub trait StockEvents: Send + Sync {
    async fn publish(&self, change: &StockChange) -> Result<(), QueueError>;
}

/// One opened PII item.
#[derive(Debug)]
pub enum OpenedPii {
    Buyer(BuyerPii),
    Recipient(Address),
}

#[async_trait]
pub trait PiiVault: Send + Sync {
    /// Seal every part of `pii` under one data key bound to `{seller_id, order_id}` and store
    /// it with its purge date. Idempotent; never replaces PII of a newer order version.
    /// Returns the number of sealed items written.
    async fn seal(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        order_version: DateTime<Utc>,
        pii: &OrderPii,
        purge_at: DateTime<Utc>,
    ) -> Result<usize, VaultError>;

    /// Delete every sealed item of the order. Returns how many there were.
    async fn purge(&self, seller: &SellerId, order: &AmazonOrderId) -> Result<usize, VaultError>;

    /// Open one sealed item. Every call is a KMS `Decrypt` that CloudTrail records with the
    /// order's encryption context.
    async fn open(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kind: PiiKind,
    ) -> Result<Option<OpenedPii>, VaultError>;
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

/// A stored value with the version its conditional write needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

#[async_trait]
pub trait CheckpointStore: Send + Sync {
    async fn load(
        &self,
        seller: &SellerId,
    ) -> Result<Option<Versioned<SweepCheckpoint>>, StoreError>;
    /// Write if the stored version is still `expected` (`None`: nothing stored yet).
    /// Returns the new version; [`StoreError::Conflict`] if another writer came first.
    async fn save(
        &self,
        seller: &SellerId,
        checkpoint: &SweepCheckpoint,
        expected: Option<u64>,
    ) -> Result<u64, StoreError>;
}

/// A seller the suite fulfils for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerAccount {
    pub seller_id: SellerId,
    pub marketplace_ids: Vec<MarketplaceId>,
}

#[async_trait]
pub trait SellerRegistry: Send + Sync {
    async fn active_sellers(&self) -> Result<Vec<SellerAccount>, StoreError>;
}

/// The app's LWA client credentials.
#[derive(Clone)]
pub struct LwaAppCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

#[async_trait]
pub trait Secrets: Send + Sync {
    async fn lwa_app(&self) -> Result<LwaAppCredentials, SecretsError>;
    async fn refresh_token(&self, seller: &SellerId) -> Result<SecretString, SecretsError>;
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
    pub next_page: Option<String>,
}

/// SP-API Orders 2026-01-01 as the suite uses it.
#[async_trait]
pub trait SpApiOrders: Send + Sync {
    async fn search_orders(
        &self,
        seller: &SellerId,
        search: &OrderSearch,
    ) -> Result<OrdersPage, SpApiError>;
    async fn get_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, SpApiError>;
    /// `getOrder` on a token set aside earlier: the first attempt takes nothing more.
    async fn get_order_reserved(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, SpApiError>;
}

/// Where a reservation in the shared budget put a request. `at` is on the budget's clock,
/// `wait` the real time until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A token was free: it is taken, go now.
    Now,
    /// A token is set aside for `at`.
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
    /// Take the token for one request. `Ok(None)`: go now. `Ok(Some(wait))`: no token for
    /// that long (real time); defer the work rather than sleep it out. `plan` is the official default; a
    /// rate Amazon reported earlier for this seller and operation takes its place.
    async fn take(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
    ) -> Result<Option<std::time::Duration>, StoreError>;

    /// Set a token aside for one request at the earliest free moment, behind every token set
    /// aside before, no further ahead than `horizon`.
    async fn reserve(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
        horizon: chrono::Duration,
    ) -> Result<Slot, StoreError>;

    /// Amazon told us this seller's rate for the operation (`x-amzn-RateLimit-Limit`).
    async fn record_reported_rate(
        &self,
        seller: &SellerId,
        operation: &'static str,
        rate_per_second: f64,
    ) -> Result<(), StoreError>;
}

/// What a claim on a notification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This message may process the notification; `failures` earlier attempts failed;
    /// `slot`: a `getOrder` token was set aside for it for then.
    Claimed {
        failures: u32,
        slot: Option<DateTime<Utc>>,
    },
    /// Another copy already processed it.
    AlreadyDone,
    /// Another copy holds a live claim; if that copy fails, its own redelivery retries.
    InFlight,
}

/// Notification dedupe by `NotificationId`: a conditional claim, then done. Entries expire
/// (TTL) long after Amazon stops redelivering.
#[async_trait]
pub trait NotificationLedger: Send + Sync {
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
    /// The attempt failed: count it and drop the claim. Returns the failures so far.
    async fn fail(&self, notification_id: &str, message_id: &str) -> Result<u32, StoreError>;
    /// Put off without failing (no rate-budget token near): drop the claim, keeping the slot
    /// set aside for it, if any, for whichever copy comes back.
    async fn defer(
        &self,
        notification_id: &str,
        message_id: &str,
        slot: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
}

/// Why a message was given up, as the dead-letter queue receives it: ids and reasons only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub message_id: String,
    pub notification_id: Option<String>,
    pub seller_id: Option<SellerId>,
    pub order_id: Option<AmazonOrderId>,
    /// Short machine-readable kind: `malformed`, `unknown_seller`, `not_found`, ...
    pub reason_kind: String,
    pub reason: String,
    pub failures: u32,
    pub dead_lettered_at: DateTime<Utc>,
}

/// The queue a batch came from, for what its handler does to single messages.
#[async_trait]
pub trait NotificationQueue: Send + Sync {
    /// Let the message come back after `delay` (its budget has no token near).
    async fn defer(
        &self,
        receipt_handle: &str,
        delay: std::time::Duration,
    ) -> Result<(), QueueError>;
    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), QueueError>;
}
