//! The ports of the PII lifecycle, each as small as its users need: seal (intake), open (the
//! audited reader), list and delete sealed items (the redactor, the self-check, the report),
//! the orders' PII records, and deletion requests.

use super::error::VaultError;
use super::model::{DeletionConfirmation, DeletionRequest, PurgeReason};
use crate::kernel::{
    Address, AmazonOrderId, BuyerPii, OrderPii, PackageId, Pii, PiiKind, SellerId, StoreError,
    SubjectRequestId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One opened PII item.
#[derive(Debug)]
pub enum OpenedPii {
    Buyer(BuyerPii),
    Recipient(Address),
    /// A package's label document, as Amazon printed it.
    Label(Pii<Vec<u8>>),
}

/// Seals an order's PII (intake).
#[async_trait]
pub trait PiiSealer: Send + Sync {
    /// Seal every part of `pii` under one data key bound to `{seller_id, order_id}` and store
    /// it with its purge date. Idempotent; never replaces PII of a later update of the order
    /// (`order_updated_at`: Amazon's last update of the order the PII came with).
    /// Returns the number of sealed items written.
    async fn seal(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        order_updated_at: DateTime<Utc>,
        pii: &OrderPii,
        purge_at: DateTime<Utc>,
    ) -> Result<usize, VaultError>;

    /// Seal many orders' PII (distinct orders) as `seal` does each: one data key per order
    /// still (its encryption context is the audit trail), taken from `ahead` where one was
    /// asked for there, the sealed items written together where the store can; the answers
    /// in the order given, each apart.
    async fn seal_many(
        &self,
        requests: &[SealRequest<'_>],
        _ahead: &mut KeysAhead,
    ) -> Vec<Result<usize, VaultError>> {
        let mut answers = Vec::with_capacity(requests.len());
        for r in requests {
            answers.push(
                self.seal(r.seller, r.order, r.order_updated_at, r.pii, r.purge_at)
                    .await,
            );
        }
        answers
    }

    /// Data keys for `orders` whose PII is on its way (a batch's orders while Amazon is asked
    /// for them), asked for now so that sealing them waits for no key. None by default. Where
    /// no key could be had, sealing that order fails as asking for it then would have.
    async fn keys_ahead(&self, _orders: &[(&SellerId, &AmazonOrderId)]) -> KeysAhead {
        KeysAhead::none()
    }

    /// Seal one package's label document (it names the recipient) under a data key bound to
    /// the order, with the order's purge date, as the item `label#<package>`. Sealed once:
    /// `false` when that package's label is sealed already (kept as it is).
    async fn seal_label(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        document: &Pii<Vec<u8>>,
        purge_at: DateTime<Utc>,
    ) -> Result<bool, VaultError>;
}

/// Data keys asked for before the PII they will seal is in hand (`PiiSealer::keys_ahead`), one
/// per order and bound to it as sealing binds it, readable only by the sealer that made them.
/// Sealing takes an order's key from here; a key not taken (its order turned out to need none:
/// unchanged, cancelled, without PII) is dropped with this, its plaintext zeroed, never used.
#[derive(Default)]
pub struct KeysAhead(Option<Box<dyn std::any::Any + Send + Sync>>);

impl KeysAhead {
    pub fn none() -> Self {
        Self(None)
    }

    /// A sealer's own keys, in its own form.
    pub fn new<T: std::any::Any + Send + Sync>(keys: T) -> Self {
        Self(Some(Box::new(keys)))
    }

    /// The keys, when they are of the form `T` (another sealer's are not).
    pub fn of<T: std::any::Any>(&mut self) -> Option<&mut T> {
        self.0.as_mut()?.downcast_mut()
    }
}

/// One order's PII to seal (`PiiSealer::seal_many`), as `seal` takes it.
#[derive(Clone, Copy)]
pub struct SealRequest<'a> {
    pub seller: &'a SellerId,
    pub order: &'a AmazonOrderId,
    pub order_updated_at: DateTime<Utc>,
    pub pii: &'a OrderPii,
    pub purge_at: DateTime<Utc>,
}

/// Opens one sealed item: the only way to PII after intake.
#[async_trait]
pub trait PiiOpener: Send + Sync {
    /// Every call is a KMS `Decrypt` that CloudTrail records with the order's encryption
    /// context.
    async fn open(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kind: PiiKind,
    ) -> Result<Option<OpenedPii>, VaultError>;
}

/// The sealed items as the pii table holds them: listed, counted and deleted by key, never
/// opened (no key needed).
#[async_trait]
pub trait SealedItems: Send + Sync {
    /// Delete the order's sealed items: every one (`PurgeScope::All`), or those whose own
    /// purge date has passed (`PastDue`: an item intake re-sealed with a later date stays).
    /// Returns how many were deleted.
    async fn purge(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        scope: PurgeScope,
    ) -> Result<usize, VaultError>;

    /// The order's items of `kinds` purged at `at` instead of their later date (the order was
    /// delivered before its promised date). An item already due sooner keeps its date.
    /// Returns how many were brought forward.
    async fn bring_forward(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kinds: &[PiiKind],
        at: DateTime<Utc>,
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
}

/// Which of an order's sealed items a purge deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeScope {
    /// Every item, looked up in the pii table (a deletion request, a cancel).
    All,
    /// These items, by key, whatever their date (a voided label's document).
    Kinds(Vec<PiiKind>),
    /// Items whose own date is at or before `now`. `kinds`: the items the order's record
    /// lists, deleted by key with no lookup; empty: look them up.
    PastDue {
        now: DateTime<Utc>,
        kinds: Vec<PiiKind>,
    },
}

/// Which sealed items [`SealedItems::sealed_orders`] looks for.
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
    /// The matching items' kinds.
    pub kinds: Vec<PiiKind>,
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
    pub kind: PiiKind,
    pub sealed_at: DateTime<Utc>,
    pub purge_at: DateTime<Utc>,
}

/// An order whose PII is held, with its purge date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPii {
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub purge_at: DateTime<Utc>,
    pub sealed_kinds: Vec<PiiKind>,
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

/// What the orders' business records say of their PII: which orders hold PII due by a date,
/// and the mark that it is gone.
#[async_trait]
pub trait PiiRecords: Send + Sync {
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
        id: &SubjectRequestId,
    ) -> Result<Option<DeletionConfirmation>, StoreError>;
}

/// Where deletion requests are handed in (the deletion-requests queue, worked by the
/// redactor, which confirms each in writing).
#[async_trait]
pub trait DeletionInbox: Send + Sync {
    async fn submit(&self, request: &DeletionRequest) -> Result<(), crate::kernel::QueueError>;
}
