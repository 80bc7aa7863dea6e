//! An order as the warehouse sees it: facts without PII.

use crate::kernel::{AmazonOrderId, MarketplaceId, OrderItemId, PackageId, SellerId, Sku};
use crate::pii::RetentionFacts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an order stands. Amazon's statuses map onto the first and last steps; the steps in
/// between (picking, packing, labeling) are the warehouse's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub enum OrderStatus {
    /// Placed, payment not yet authorized: not to be picked.
    Pending,
    Unshipped,
    Picking,
    Packed,
    Labeled,
    Shipped,
    Delivered,
    Canceled,
    Unfulfillable,
}

impl OrderStatus {
    /// Open orders are the ones the warehouse still has to ship.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::Unshipped
                | OrderStatus::Picking
                | OrderStatus::Packed
                | OrderStatus::Labeled
        )
    }
}

/// A price as Amazon sends it: a decimal string, never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct Money {
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct OrderLine {
    pub order_item_id: OrderItemId,
    pub sku: Option<Sku>,
    pub asin: Option<String>,
    pub title: Option<String>,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
    pub unit_price: Option<Money>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub enum PackageState {
    Pending,
    InTransit,
    Shipped,
    Delivered,
    Cancelled,
    Undeliverable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct ShipmentPackage {
    pub package_reference_id: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub ship_time: Option<DateTime<Utc>>,
    pub state: Option<PackageState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct Order {
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub marketplace_id: Option<MarketplaceId>,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    /// Amazon's `lastUpdatedTime`: an earlier update of the order never replaces a later one.
    /// (The write `revision` of the stored record is a different count: every writer bumps it.)
    pub last_updated_at: DateTime<Utc>,
    pub ship_by: Option<DateTime<Utc>>,
    pub deliver_by: Option<DateTime<Utc>>,
    pub service_level: Option<String>,
    pub programs: Vec<String>,
    pub lines: Vec<OrderLine>,
    pub packages: Vec<ShipmentPackage>,
    /// When the carrier delivered the last parcel, from tracking (Amazon's order does not
    /// say): the purge anchor. Kept across Amazon's updates.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// Why no label can be bought for it now (a SKU the seller's catalog does not know),
    /// until a label is. Kept across Amazon's updates.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label_blocked: Option<LabelBlock>,
    /// The packages the warehouse sent or is about to: how each ships and who told Amazon.
    /// Kept across Amazon's updates.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub parcels: Vec<Parcel>,
}

/// One package of the order as the warehouse ships it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct Parcel {
    pub package_id: PackageId,
    /// Amazon's carrier id (Buy Shipping) or carrier code (own carrier).
    pub carrier: String,
    /// The carrier's service (Buy Shipping) or the shipping method given (own carrier).
    pub service: Option<String>,
    pub tracking_id: Option<String>,
    pub shipped_by: ShippedBy,
}

/// How a parcel's shipment reached Amazon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub enum ShippedBy {
    /// A Buy Shipping label: Amazon confirms the shipment itself (never confirmed again).
    BuyShipping {
        shipment_id: String,
        /// What the label cost, in the currency's minor unit.
        cost_minor: i64,
        currency: String,
        /// The carrier's promised delivery window.
        promise: Option<(DateTime<Utc>, DateTime<Utc>)>,
    },
    /// The operator's own carrier account, confirmed with `confirmShipment` under Amazon's
    /// package reference.
    OwnCarrier {
        package_reference_id: String,
        ship_date: DateTime<Utc>,
    },
}

impl Order {
    /// Put `parcel` on the order in place of any parcel of the same package.
    pub fn record_parcel(&mut self, parcel: Parcel) {
        self.parcels.retain(|p| p.package_id != parcel.package_id);
        self.parcels.push(parcel);
        self.parcels.sort_by(|a, b| a.package_id.cmp(&b.package_id));
    }
}

/// A label blocked: the reason (ids and SKUs only) and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct LabelBlock {
    pub reason: String,
    pub since: DateTime<Utc>,
}

impl Order {
    pub fn is_delivered(&self) -> bool {
        !self.packages.is_empty()
            && self
                .packages
                .iter()
                .all(|p| p.state == Some(PackageState::Delivered))
    }

    /// The first time a package left, else the promised latest ship date.
    pub fn ship_date(&self) -> Option<DateTime<Utc>> {
        self.packages
            .iter()
            .filter_map(|p| p.ship_time)
            .min()
            .or(self.ship_by)
    }

    pub fn retention_facts(&self, now: DateTime<Utc>) -> RetentionFacts {
        RetentionFacts {
            canceled: self.status == OrderStatus::Canceled,
            delivered: self.is_delivered() || self.status == OrderStatus::Delivered,
            delivered_at: self.delivered_at,
            latest_delivery: self.deliver_by,
            ship_date: self.ship_date(),
            last_updated: self.last_updated_at,
            now,
        }
    }

    pub fn units(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity_ordered).sum()
    }
}
