//! Stock across a seller's warehouse locations: the model (locations and their kinds, on hand,
//! what open orders hold, the buffer, what is available to sell), the append-only movement
//! ledger, each movement planned as pure logic (`plan`) and applied once in a conditional
//! transaction, and the available quantity pushed to Amazon's `DEFAULT` channel only when it
//! differs from what Amazon last accepted (`sync`).
//!
//! Messages in: the changes orders cause (intake: a reservation when an order first appears
//! while it still needs its goods, a release when one that held them is canceled, a shipment
//! when it ships), published as ids and quantities, and staff movements.

mod kits;
mod messages;
mod model;
mod plan;
mod ports;
mod sync;

pub use kits::{KitComponent, KitRefusal, Kits, MAX_COMPONENTS, Warehouse, kit_available};
pub use messages::{
    FeedCheck, QUANTITY_CHANGE, QuantityNotice, StaffMovement, StockMessage, StockMessageError,
};
pub use model::{
    Hold, HoldState, ListingState, Location, LocationId, LocationKind, Locations, Movement,
    MovementId, MovementKind, SkuPosition, SkuSettings,
};
pub use plan::{HoldWrite, Plan, Planned, plan};
pub use ports::{
    Applied, FeedEntry, FeedLine, FeedProgress, FeedRecord, Listed, ListingAnswer, ListingError,
    ListingFeeds, Listings, SEARCH_SKUS, StockLedger,
};
pub use sync::{
    FeedSettled, FeedSubmitted, MovementOutcome, PushOutcome, Pushed, Reconciled, StockError,
    StockSync, alert, apply_movement, standing,
};

use crate::kernel::{AmazonOrderId, OrderItemId, QueueError, SellerId, Sku};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockChangeKind {
    Reserve,
    Release,
    /// The order's units taken from the shelves (its label bought).
    Pick,
    /// The order left: its units leave on hand.
    Ship,
}

impl StockChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            StockChangeKind::Reserve => "reserve",
            StockChangeKind::Release => "release",
            StockChangeKind::Pick => "pick",
            StockChangeKind::Ship => "ship",
        }
    }
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
    /// Many changes as `publish` sends each, in one request where the queue can; the answers
    /// in the order given, each apart.
    async fn publish_many(&self, changes: &[StockChange]) -> Vec<Result<(), QueueError>> {
        let mut answers = Vec::with_capacity(changes.len());
        for c in changes {
            answers.push(self.publish(c).await);
        }
        answers
    }
    /// A staff movement the API has applied, for stock-sync to find applied (a repeat of
    /// the same id) and push the SKU's quantity to Amazon.
    async fn publish_movement(&self, movement: &StaffMovement) -> Result<(), QueueError>;
}
