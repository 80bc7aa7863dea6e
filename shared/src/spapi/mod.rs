//! The Selling Partner API: one transport (retry, the shared rate budget, LWA, HTTP; see
//! `transport`) and one module per API on top of it, each implementing its capability's port
//! and mapping HTTP failures into that capability's error.

mod budget;
mod confirm;
mod error;
mod feeds;
mod listings;
mod lwa;
mod orders;
mod shipping;
mod transport;

pub use budget::{Later, Place};
pub use confirm::ConfirmationsApi;
pub use error::CallError;
pub use feeds::{FEED_CONTENT_TYPE, FeedsApi};
pub use listings::{DEFAULT_CHANNEL, ListingsApi};
pub use orders::OrdersApi;
pub use shipping::ShippingApi;
pub use transport::{Method, Request, RetryPolicy, Transport};

/// The operations the suite calls, with their official default rate (requests/s) and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    SearchOrders,
    GetOrder,
    GetRates,
    PurchaseShipment,
    CancelShipment,
    GetShipmentDocuments,
    GetTracking,
    /// Orders v0, the one v0 operation the suite calls (own-carrier shipments).
    ConfirmShipment,
    GetListingsItem,
    PatchListingsItem,
    SearchListingsItems,
    CreateFeedDocument,
    CreateFeed,
    GetFeed,
    GetFeedDocument,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::SearchOrders => "searchOrders",
            Operation::GetOrder => "getOrder",
            Operation::GetRates => "getRates",
            Operation::PurchaseShipment => "purchaseShipment",
            Operation::CancelShipment => "cancelShipment",
            Operation::GetShipmentDocuments => "getShipmentDocuments",
            Operation::GetTracking => "getTracking",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::GetListingsItem => "getListingsItem",
            Operation::PatchListingsItem => "patchListingsItem",
            Operation::SearchListingsItems => "searchListingsItems",
            Operation::CreateFeedDocument => "createFeedDocument",
            Operation::CreateFeed => "createFeed",
            Operation::GetFeed => "getFeed",
            Operation::GetFeedDocument => "getFeedDocument",
        }
    }

    /// Whether a request that finds no place sets one aside (and waits for it, or is deferred
    /// to it) rather than asking again. `getOrder` work waits on its queue for its place; a
    /// `searchOrders` place set aside by a sweep that then pauses would be three minutes of
    /// quota lost, so sweeps ask again on their next run.
    pub fn reserves(self) -> bool {
        matches!(self, Operation::GetOrder)
    }

    /// `(rate per second, burst)` from the official models (Orders 2026-01-01 and v0, Shipping
    /// v2, Listings Items 2021-08-01, Feeds 2021-06-30).
    pub fn default_quota(self) -> (f64, u32) {
        match self {
            Operation::SearchOrders => (0.0056, 20),
            Operation::GetOrder => (0.5, 30),
            Operation::GetRates
            | Operation::PurchaseShipment
            | Operation::CancelShipment
            | Operation::GetShipmentDocuments
            | Operation::GetTracking => (80.0, 100),
            Operation::ConfirmShipment => (2.0, 10),
            Operation::GetListingsItem => (5.0, 10),
            Operation::PatchListingsItem | Operation::SearchListingsItems => (5.0, 5),
            Operation::CreateFeedDocument => (0.5, 15),
            Operation::CreateFeed => (0.0083, 15),
            Operation::GetFeed => (2.0, 15),
            Operation::GetFeedDocument => (0.0222, 10),
        }
    }
}
