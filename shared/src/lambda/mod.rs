//! The Lambda side: configuration from the environment (`env`), telemetry, deadlines, and per
//! function its configuration, its wiring (adapters built once per cold start) and its event
//! translation. Each function's `main.rs` builds one handler from here and hands it every event.

#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "report")]
pub mod audit_report;
pub mod batch;
pub mod deadline;
pub mod env;
#[cfg(any(feature = "intake", feature = "labels"))]
pub mod intake;
#[cfg(feature = "labels")]
pub mod label_worker;
#[cfg(feature = "intake")]
pub mod order_events;
#[cfg(feature = "intake")]
pub mod order_sync;
#[cfg(feature = "redactor")]
pub mod pii_redactor;
#[cfg(feature = "labels")]
pub mod shipment_tracker;
#[cfg(feature = "spapi")]
pub mod spapi;
#[cfg(feature = "stock")]
pub mod stock_sync;
pub mod telemetry;

pub use env::{ConfigError, Env};
