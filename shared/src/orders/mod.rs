//! Orders: the warehouse's view of an order (facts without PII), its lifecycle, and intake by
//! both routes: notifications (`notifications`) and the catch-up sweep (`sweep`), which share
//! one store step (`intake`).

pub mod error;
pub mod intake;
mod lifecycle;
pub mod model;
pub mod notifications;
pub mod order_change;
pub mod ports;
mod stock;
pub mod sweep;

pub use error::AmazonError;
pub use intake::{Intake, IntakeError, OrderIntake, Stored};
pub use lifecycle::LifecycleError;
pub use model::{
    LabelBlock, Money, Order, OrderLine, OrderStatus, PackageState, Parcel, ShipmentPackage,
    ShippedBy,
};
pub use order_change::{
    ChangedLine, FulfilledBy, NotificationError, NotifiedStatus, OrderChange, parse_order_change,
};
pub use ports::*;
pub use stock::{announce, stock_change};
