//! `order-events`: SP-API `ORDER_CHANGE` notifications from SQS. Wiring only; the logic is in
//! `shared::order_events`.

use lambda_runtime::{Error, run, service_fn};
use shared::config::{Env, OrderEventsConfig};
use shared::handlers::order_events::OrderEventsHandler;

// One thread: a Lambda instance handles one event at a time and has a fraction of a vCPU;
// a work-stealing pool would spend it on cross-thread wakeups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Bad configuration stops the function here, before it touches anything.
    let config = OrderEventsConfig::from_env(&Env::from_process()).inspect_err(|e| {
        tracing::error!(error = %e, "refusing to start: bad configuration");
    })?;
    let sdk = shared::adapters::aws_sdk_config().await;
    let handler = OrderEventsHandler::new(config, &sdk);
    run(service_fn(|event| handler.handle(event))).await
}
