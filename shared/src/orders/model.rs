//! An order as the warehouse sees it: facts without PII.

use crate::kernel::{AmazonOrderId, MarketplaceId, OrderItemId, SellerId, Sku};
use crate::pii::RetentionFacts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an order stands. Amazon's statuses map onto the first and last steps; the steps in
/// between (picking, packing, labeling) are the warehouse's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
pub struct Money {
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub enum PackageState {
    Pending,
    InTransit,
    Shipped,
    Delivered,
    Cancelled,
    Undeliverable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentPackage {
    pub package_reference_id: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub ship_time: Option<DateTime<Utc>>,
    pub state: Option<PackageState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// A label blocked: the reason (ids and SKUs only) and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
