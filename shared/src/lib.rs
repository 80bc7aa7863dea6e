//! The FBM fulfillment suite's library: domain types and rules, the ports they need, and the
//! adapters (DynamoDB, KMS, Secrets Manager, SP-API) that implement those ports.
//!
//! Dependencies point inward: `domain` knows nothing of AWS or HTTP; services such as
//! [`sync`] take ports; the function binaries only read config, build adapters and call in.

pub mod adapters;
pub mod audit_report;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod intake;
pub mod order_events;
pub mod ports;
pub mod redaction;
pub mod spapi;
pub mod sync;
pub mod telemetry;
