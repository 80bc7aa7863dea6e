//! Labels: a package's shipping label bought from Amazon's Buy Shipping (Shipping API v2) for
//! an Amazon order. Amazon supplies the ship-to address (`channelType: AMAZON`), so nothing
//! here reads PII; the label document that comes back names the recipient and is PII.
//!
//! What is here so far: the model (packages, rates, the seller's rate policy, formats), the
//! `Shipping` port and its error. The purchase ledger, the worker and own-carrier shipments
//! come next.

mod error;
mod model;
mod ports;

pub use error::ShippingError;
pub use model::{
    Charge, Dimensions, LabelFormat, PackageId, PackageItem, PackageSpec, PurchasedLabel, Quote,
    Rate, RatePolicy, RateRequest, ShipFrom,
};
pub use ports::Shipping;
