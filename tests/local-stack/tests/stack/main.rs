//! The integration tests of the local stack, one test binary (one link of the AWS graph):
//! each module is one capability's tests against moto, the SP-API simulator and the real
//! function binaries. Each test process starts its own moto server (see `common`).

mod common;

mod api;
mod api_audit;
mod api_orders;
mod api_subject;
mod audit_report;
mod batches;
mod labels;
mod local_day;
mod order_events;
mod order_sync;
mod pii_lifecycle;
mod pii_vault;
mod rate_budget;
mod shipments;
mod stock;
mod tables;
