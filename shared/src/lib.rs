//! The FBM fulfillment suite's library, one module per capability (see the README's layout).
//!
//! Dependencies point inward: capabilities (`orders`, `pii`, `audit`, `rate`, `sellers`,
//! `stock`, `labels`) depend on `kernel` and on each other's models and ports, never on `aws`, `spapi`
//! or `lambda`; the adapters (`aws`, `spapi`) implement the capabilities' ports; `lambda`
//! wires both for each function.

#[cfg(feature = "api")]
pub mod api;
pub mod audit;
pub mod aws;
pub mod kernel;
pub mod labels;
pub mod lambda;
pub mod orders;
pub mod pii;
pub mod rate;
pub mod sellers;
#[cfg(feature = "spapi")]
pub mod spapi;
pub mod stock;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
