//! What the label flow needs of Amazon's Buy Shipping.

use super::error::ShippingError;
use super::model::{
    LabelDocument, LabelFormat, LabelRecord, OwnCarrierShipment, PurchaseAttempt, PurchaseEntry,
    PurchasedLabel, Quote, Rate, RateRequest,
};
use super::tracking::{TrackingReport, WatchedParcel};
use crate::kernel::{AmazonOrderId, MarketplaceId, PackageId, SellerId, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What marking a label voided came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidWrite {
    /// This write voided it.
    Voided,
    /// Another process voided the same label first.
    AlreadyVoided,
    /// The record holds something else (another attempt, an own-carrier package).
    Other,
}

#[async_trait]
pub trait Shipping: Send + Sync {
    /// The rates Amazon offers for one package of an Amazon order.
    async fn quote(&self, seller: &SellerId, request: &RateRequest)
    -> Result<Quote, ShippingError>;

    /// Buy `rate` of `quote` as a 4x6 label in `format`. `idempotency_key` makes every repeat
    /// (a retry, a worker that died before it recorded the answer) return the first purchase
    /// instead of buying again: one key per package purchase, kept until it is done.
    async fn purchase(
        &self,
        seller: &SellerId,
        quote: &Quote,
        rate: &Rate,
        format: LabelFormat,
        idempotency_key: &str,
    ) -> Result<PurchasedLabel, ShippingError>;

    /// Void the label `label` (Amazon refunds it) while Amazon allows it: until the carrier
    /// has the parcel. A repeat of a void that went through succeeds again.
    async fn cancel(&self, seller: &SellerId, label: &LabelRecord) -> Result<(), ShippingError>;

    /// The label document of package `package` of shipment `shipment_id` again, in `format`
    /// (a label bought under an attempt whose answer never came back).
    async fn documents(
        &self,
        seller: &SellerId,
        business: &str,
        shipment_id: &str,
        package: &PackageId,
        format: LabelFormat,
    ) -> Result<LabelDocument, ShippingError>;

    /// What the carrier's tracking of `parcel` says so far.
    async fn track(
        &self,
        seller: &SellerId,
        parcel: &WatchedParcel,
    ) -> Result<TrackingReport, ShippingError>;
}

/// Orders v0 `confirmShipment`: a package the operator shipped on its own carrier account,
/// told to Amazon. Sending the same `package_reference_id` again edits that package.
#[async_trait]
pub trait ShipmentConfirmations: Send + Sync {
    async fn confirm(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        order: &AmazonOrderId,
        shipment: &OwnCarrierShipment,
    ) -> Result<(), ShippingError>;
}

/// One record per package of an order: its purchase in progress (the attempt, with its key) or
/// done (the label on record). Every write is conditional on what was read.
#[async_trait]
pub trait PurchaseLedger: Send + Sync {
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
    ) -> Result<Option<PurchaseEntry>, StoreError>;

    /// Every package of the order on record.
    async fn entries(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Vec<(PackageId, PurchaseEntry)>, StoreError>;

    /// Put `attempt` on record if the package has none (`replacing: None`) or if its attempt
    /// in progress, its voided label or its abandoned attempt is still the one with key
    /// `replacing`. `false`:
    /// another writer came first.
    async fn start(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        attempt: &PurchaseAttempt,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Take the attempt `key` in hand to send it: `holder` holds it until `lease_until`, and
    /// it is marked sent (at `now`, if not before). `false`: it is not the attempt on record,
    /// or another holder's lease is still running.
    #[allow(clippy::too_many_arguments)]
    async fn claim(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        key: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The attempt with `record.idempotency_key` bought `record`. Done already with the same
    /// key is success too (two processes finishing one attempt); `false`: the record holds
    /// another attempt.
    async fn complete(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        record: &LabelRecord,
    ) -> Result<bool, StoreError>;

    /// The attempt in progress with key `key` bought nothing (the operator's finding): given
    /// up, so that the next purchase takes the next key. `false`: it is not the attempt on
    /// record.
    async fn abandon(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        key: &str,
    ) -> Result<bool, StoreError>;

    /// The label bought under `key` is voided (at `at`).
    async fn void(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<VoidWrite, StoreError>;

    /// The next package reference of the order for Amazon (a positive number, never handed
    /// out twice, above `floor` the first time).
    async fn next_package_reference(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        floor: u64,
    ) -> Result<u64, StoreError>;

    /// Put the own-carrier `shipment` on record, before Amazon is told: if the package has no
    /// record (`replacing: None`), or its voided label or its own-carrier shipment not yet
    /// confirmed is still the one with key `replacing` (`own#<package reference>`).
    /// `false`: another writer came first.
    async fn start_own_carrier(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        shipment: &OwnCarrierShipment,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Amazon took the package's own-carrier confirmation (at `at`). Marked already is
    /// success too; `false`: the record holds no own-carrier shipment.
    async fn own_carrier_confirmed(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// The label-jobs queue, as the staff API sends it jobs.
#[async_trait]
pub trait ShipmentJobs: Send + Sync {
    async fn send(&self, job: &super::ShipmentJob) -> Result<(), crate::kernel::QueueError>;
}
