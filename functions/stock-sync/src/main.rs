//! `stock-sync`: the stock queue, on-demand stock commands and the daily reconciliation.
//! Wiring only; the logic is in `shared::stock`.

use lambda_runtime::{Error, run, service_fn};
use shared::lambda::Env;
use shared::lambda::stock_sync::StockSyncHandler;
use shared::lambda::stock_sync::config::StockSyncConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::lambda::telemetry::init();
    // Bad configuration stops the function here.
    let env = Env::from_process();
    let config = StockSyncConfig::from_env(&env)
        .and_then(|c| Ok((c, env.clock()?)))
        .inspect_err(|e| tracing::error!(error = %e, "refusing to start: bad configuration"));
    let (config, clock) = config?;
    let sdk = shared::aws::aws_sdk_config().await;
    let handler = StockSyncHandler::with_clock(config, &sdk, clock);
    run(service_fn(|event| handler.handle(event))).await
}
