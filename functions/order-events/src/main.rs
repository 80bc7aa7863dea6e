//! `order-events`: SP-API `ORDER_CHANGE` notifications from SQS. Wiring only; the logic is in
//! `shared::orders::notifications`.

use lambda_runtime::{Error, run, service_fn};
use shared::lambda::Env;
use shared::lambda::order_events::OrderEventsHandler;
use shared::lambda::order_events::config::OrderEventsConfig;

// The SDK's request pipeline allocates and frees a great deal per call; glibc's malloc took a
// sixth of the CPU (README, Benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: a Lambda instance handles one event at a time and has a fraction of a vCPU;
// a work-stealing pool would spend it on cross-thread wakeups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::lambda::telemetry::init();
    // Bad configuration stops the function here, before it touches anything.
    let config = OrderEventsConfig::from_env(&Env::from_process()).inspect_err(|e| {
        tracing::error!(error = %e, "refusing to start: bad configuration");
    })?;
    let sdk = shared::aws::aws_sdk_config().await;
    let handler = OrderEventsHandler::new(config, &sdk);
    run(service_fn(|event| handler.handle(event))).await
}
