//! Stock: what moves it. Today the changes orders cause (a reservation when an order first
//! appears while it still needs its goods, a release when one that held them is canceled),
//! published as ids and quantities for the stock function to turn into movements.

use crate::kernel::{AmazonOrderId, OrderItemId, QueueError, SellerId, Sku};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockChangeKind {
    Reserve,
    Release,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChangeLine {
    pub order_item_id: OrderItemId,
    /// Amazon may omit the SKU of a line; the stock function reports such lines.
    pub sku: Option<Sku>,
    pub quantity: u32,
}

/// One message to the stock queue. `change_id` is the same every time the same change is
/// announced, so the consumer applies it once however often it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChange {
    pub change_id: String,
    pub kind: StockChangeKind,
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub lines: Vec<StockChangeLine>,
    /// Amazon's last update of the order that caused the change.
    pub order_updated_at: DateTime<Utc>,
}

/// Where stock-change messages go (the stock queue). Ids and quantities only.
#[async_trait]
pub trait StockEvents: Send + Sync {
    async fn publish(&self, change: &StockChange) -> Result<(), QueueError>;
}
