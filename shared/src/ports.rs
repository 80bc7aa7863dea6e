//! The small traits services need. Services take `&dyn Port`; adapters implement them.

use crate::adapters::{QueueError, SecretsError, StoreError, TrailError, VaultError};
use crate::domain::{
    Address, AmazonOrderId, AuditEvent, BuyerPii, DeletionConfirmation, DeletionRequest,
    DeletionRequestId, MarketplaceId, Order, OrderPii, PiiKind, PiiState, PurgeReason, SellerId,
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

/// The wall clock moved by a fixed offset: the local stack's time travel (configured only
/// there; see `Env::clock`).
pub struct OffsetClock(pub chrono::Duration);

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

/// A clock that moves only when told to: tests and the harness set the day they run on.
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(t))
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where the order's PII stands and the date it must be gone by (kept for reports even when
/// nothing is held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiStatus {
    pub state: PiiState,
    pub purge_at: DateTime<Utc>,
    /// The pii table's sort keys (`buyer`, `recipient`, label documents) of the items held:
    /// the redactor deletes exactly these. Empty when none are held, or for records written
    /// before the list existed (the vault then looks them up).
    pub sealed_kinds: Vec<String>,
}

/// An order as stored: the facts, their revision, and where its PII stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub order: Order,
    /// Bumped by every write (intake, warehouse, redactor); writes are conditional on it.
    pub version: u64,
    pub pii: PiiStatus,
}

/// An order whose PII is held, with its purge date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPii {
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub purge_at: DateTime<Utc>,
    pub sealed_kinds: Vec<String>,
}

/// What marking an order's PII purged found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    Purged,
    /// Another writer moved the order on (intake re-sealed it with a later date): left as is.
    Moved,
    /// No business record for the order (PII sealed, record never written).
    NoRecord,
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

    /// Up to `limit` of the seller's orders holding PII with a purge date at or before
    /// `until`, earliest first (the sparse `pii_due` index).
    async fn held_pii(
        &self,
        seller: &SellerId,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HeldPii>, StoreError>;

    /// Record that the order's PII is gone. For [`PurgeReason::Retention`] only while its
    /// purge date is still at or before `at` (intake may have moved it on); a deletion request
    /// marks it whatever the date. Bumps the revision.
    async fn mark_pii_purged(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        reason: PurgeReason,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError>;
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

    /// Delete the order's sealed items: every one (`PurgeScope::All`), or those whose own
    /// purge date has passed (`PastDue`: an item intake re-sealed with a later date stays).
    /// Returns how many were deleted.
    async fn purge(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        scope: PurgeScope,
    ) -> Result<usize, VaultError>;

    /// The orders that have sealed items matching `filter`, read from the pii table itself
    /// (not the orders table's index): what the self-check counts and the sweep for
    /// stragglers works from.
    async fn sealed_orders(&self, filter: SealedFilter) -> Result<Vec<SealedOrder>, VaultError>;

    /// Sealed items whose purge date is at or before `now`, counted in the pii table itself
    /// (DynamoDB counts; no item is read into memory, however large the backlog).
    async fn count_past_due(&self, now: DateTime<Utc>) -> Result<u64, VaultError>;

    /// Every sealed item still held, counted in the pii table itself: how many, how many past
    /// their date at `now`, and the one sealed longest ago (the auditor report's "oldest PII
    /// held").
    async fn held(&self, now: DateTime<Utc>) -> Result<HeldPiiSummary, VaultError>;

    /// Open one sealed item. Every call is a KMS `Decrypt` that CloudTrail records with the
    /// order's encryption context.
    async fn open(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kind: PiiKind,
    ) -> Result<Option<OpenedPii>, VaultError>;
}

/// Which of an order's sealed items a purge deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeScope {
    /// Every item, looked up in the pii table (a deletion request, a cancel).
    All,
    /// Items whose own date is at or before `now`. `kinds`: the items the order's record
    /// lists, deleted by key with no lookup; empty: look them up.
    PastDue {
        now: DateTime<Utc>,
        kinds: Vec<String>,
    },
}

/// Which sealed items [`PiiVault::sealed_orders`] looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedFilter {
    /// Items whose purge date is at or before this instant.
    PastDue(DateTime<Utc>),
    /// Every item of one seller.
    Seller(SellerId),
}

/// An order with sealed items matching a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedOrder {
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    /// The matching items' sort keys.
    pub kinds: Vec<String>,
}

/// What the pii table holds at a moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HeldPiiSummary {
    pub items: u64,
    pub orders: u64,
    pub items_past_due: u64,
    pub oldest: Option<HeldItem>,
}

/// One sealed item, by ids and dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldItem {
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub kind: String,
    pub sealed_at: DateTime<Utc>,
    pub purge_at: DateTime<Utc>,
}

/// One KMS `Decrypt` of an order's data key, as CloudTrail recorded it: who, when, which
/// order (the encryption context), and whether KMS allowed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOpen {
    pub event_id: String,
    pub at: DateTime<Utc>,
    /// The caller's IAM identity (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    pub principal: String,
    pub source_ip: Option<String>,
    /// The encryption context's ids as recorded; `None` when the call carried none (not
    /// one of the vault's opens: the report flags it).
    pub seller_id: Option<String>,
    pub order_id: Option<String>,
    /// CloudTrail's `errorCode` when KMS refused (`AccessDenied`, ...); `None`: the key opened.
    pub error_code: Option<String>,
}

/// What the trail returned for a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailRead {
    pub opens: Vec<KeyOpen>,
    /// The earliest instant the trail could answer for (CloudTrail's event history keeps 90
    /// days); opens before it are only in the trail's bucket.
    pub covered_from: Option<DateTime<Utc>>,
    /// Stopped at the read limit: later opens in the range were not read.
    pub truncated: bool,
}

/// CloudTrail's record of the PII key: every `Decrypt` with an order's encryption context.
#[async_trait]
pub trait AccessTrail: Send + Sync {
    async fn pii_key_opens(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<TrailRead, TrailError>;
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
    /// Every registered seller id, active or not (the redactor purges for all of them).
    async fn all_sellers(&self) -> Result<Vec<SellerId>, StoreError>;
    /// Offboarding: the seller's registry entry and sweep checkpoint go; no route syncs its
    /// orders any more. `Ok(false)`: there was no entry.
    async fn remove(&self, seller: &SellerId) -> Result<bool, StoreError>;
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
    /// Offboarding: delete the seller's refresh token at once, with no recovery window.
    /// `Ok(false)`: there was none.
    async fn delete_refresh_token(&self, seller: &SellerId) -> Result<bool, SecretsError>;
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

/// The append-only audit log: who touched which order's PII, purges, deletions, credential
/// changes. No PII.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Append one event; never overwrites one.
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Every event from `from` up to (not including) `to`, oldest first.
    async fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}

/// What starting a deletion request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionStart {
    /// New, or an earlier attempt stopped before completing: carry it out.
    Proceed(DeletionConfirmation),
    /// Carried out already: its confirmation stands.
    Completed(DeletionConfirmation),
    /// The id was used for another scope: refused.
    Conflict,
}

/// Deletion requests and their written confirmations, readable back by request id.
#[async_trait]
pub trait DeletionLedger: Send + Sync {
    async fn begin(
        &self,
        request: &DeletionRequest,
        received_at: DateTime<Utc>,
    ) -> Result<DeletionStart, StoreError>;
    async fn complete(&self, confirmation: &DeletionConfirmation) -> Result<(), StoreError>;
    async fn confirmation(
        &self,
        id: &DeletionRequestId,
    ) -> Result<Option<DeletionConfirmation>, StoreError>;
}
