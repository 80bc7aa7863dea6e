//! Pure types and rules: no I/O, no AWS types.

mod ids;
mod lifecycle;
mod lifecycle_pii;
mod order;
mod pii;
mod rate;
mod refusal;
mod retention;
mod stock;

pub use ids::{
    AmazonOrderId, DeletionRequestId, IdError, MarketplaceId, OrderItemId, SellerId, Sku,
};
pub use lifecycle::LifecycleError;
pub use lifecycle_pii::{
    AuditEvent, AuditKind, DeletionConfirmation, DeletionRequest, DeletionScope, PiiState,
    PurgeReason,
};
pub use order::{Money, Order, OrderLine, OrderStatus, PackageState, ShipmentPackage};
pub use pii::{Address, BuyerPii, OrderPii, Pii, PiiKind};
pub use rate::{Reserve, Take, UsagePlan};
/// The rate plan's schedule functions (`rate::take`, `rate::reserve`, ...).
pub mod schedule {
    pub use super::rate::{place, rescale, reserve, take};
}
pub use refusal::serde_reason;
pub use retention::{MAX_RETENTION_DAYS, RetentionError, RetentionFacts, RetentionPolicy};
pub use stock::{StockChange, StockChangeKind, StockChangeLine, stock_change};
