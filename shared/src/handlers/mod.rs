//! Lambda handlers: translate an event into a service call. Each function's `main.rs` builds
//! one of these at cold start and hands it every event.

pub mod order_sync;
