//! Labels: a package's shipping label bought from Amazon's Buy Shipping (Shipping API v2) for
//! an Amazon order. Amazon supplies the ship-to address (`channelType: AMAZON`), so nothing
//! here reads PII; the label document that comes back names the recipient and is PII.
//!
//! What is here so far: the model (packages, rates, the seller's rate policy, formats), the
//! `Shipping` port and its error, the purchase ledger port and [`LabelPurchase`], which buys a
//! package's label at most once. The worker (jobs, sealing the document, the order's state)
//! and own-carrier shipments come next.

mod error;
mod model;
mod ports;
mod purchase;

pub use crate::kernel::PackageId;
pub use error::ShippingError;
pub use model::{
    Charge, Dimensions, LabelFormat, LabelRecord, PackageItem, PackageSpec, PurchaseAttempt,
    PurchaseEntry, PurchasedLabel, Quote, Rate, RatePolicy, RateRequest, ShipFrom,
};
pub use ports::{PurchaseLedger, Shipping};
pub use purchase::{Bought, LabelError, LabelOrder, LabelPurchase};
