//! Labels: a package's shipping label bought from Amazon's Buy Shipping (Shipping API v2) for
//! an Amazon order. Amazon supplies the ship-to address (`channelType: AMAZON`), so nothing
//! here reads PII; the label document that comes back names the recipient and is PII.
//!
//! Here: the model (packages, rates, the seller's rate policy, formats), the `Shipping` port
//! and its error, the purchase ledger port, [`LabelPurchase`] (a package's label bought at most
//! once, its document sealed) and [`LabelWorker`] (a job's packages checked against the stored
//! order, each bought once, the order Labeled; a job without packages gets one from the seller's
//! SKU catalog, or is blocked). Not yet: own-carrier shipments, tracking and void.

mod error;
mod model;
mod ports;
mod purchase;
mod worker;

pub use crate::kernel::PackageId;
pub use error::ShippingError;
pub use model::{
    Charge, Dimensions, LabelFormat, LabelRecord, PackageItem, PackageSpec, PurchaseAttempt,
    PurchaseEntry, PurchasedLabel, Quote, Rate, RatePolicy, RateRequest, ShipFrom,
};
pub use ports::{PurchaseLedger, Shipping};
pub use purchase::{Bought, LabelError, LabelOrder, LabelPurchase};
pub use worker::{
    CATALOG_PACKAGE_ID, JobError, JobOutcome, JobPackage, LabelJob, LabelSettings,
    LabelSettingsStore, LabelWorker, SkuFacts, catalog_package,
};
