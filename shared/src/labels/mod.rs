//! Labels: a package's shipping label bought from Amazon's Buy Shipping (Shipping API v2) for
//! an Amazon order. Amazon supplies the ship-to address (`channelType: AMAZON`), so nothing
//! here reads PII; the label document that comes back names the recipient and is PII.
//!
//! Here: the model (packages, rates, the seller's rate policy, formats), the `Shipping` port
//! and its error, the purchase ledger port, [`LabelPurchase`] (a package's label bought at most
//! once, its document sealed) and [`LabelWorker`] (a job's packages checked against the stored
//! order, each bought once, the order Labeled; a job without packages gets one from the seller's
//! SKU catalog, or is blocked); a bought label voided, a package shipped on the operator's
//! own carrier confirmed with Orders v0 (`shipments`); every bought label's parcel tracked
//! until it is delivered (`tracking`).

mod carriers;
mod error;
mod jobs;
mod model;
mod ports;
mod purchase;
mod shipments;
mod tracking;
mod worker;

pub use crate::kernel::PackageId;
pub use carriers::Carrier;
pub use error::ShippingError;
pub use jobs::{ShipJob, ShipmentJob, VoidJob};
pub use model::{
    Charge, Dimensions, LabelDocument, LabelFormat, LabelRecord, OwnCarrierShipment, PackageItem,
    PackageSpec, PurchaseAttempt, PurchaseEntry, PurchasedLabel, Quote, Rate, RatePolicy,
    RateRequest, ShipFrom, VoidedLabel,
};
pub use ports::{PurchaseLedger, ShipmentConfirmations, ShipmentJobs, Shipping, VoidWrite};
pub use purchase::{Bought, LabelError, LabelOrder, LabelPurchase};
pub use tracking::{
    FIRST_SCAN_DUE, ShipmentTracker, TrackingReport, TrackingRun, TrackingWatch, WatchedParcel,
};
pub use worker::{
    CATALOG_PACKAGE_ID, JobError, JobOutcome, JobPackage, LabelJob, LabelSettings,
    LabelSettingsStore, LabelWorker, SkuFacts, catalog_package,
};
