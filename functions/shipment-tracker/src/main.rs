//! `shipment-tracker`: every watched parcel's tracking, on a schedule. Wiring only; the logic
//! is in `shared::labels`.

use lambda_runtime::{Error, run, service_fn};
use shared::lambda::Env;
use shared::lambda::shipment_tracker::{ShipmentTrackerConfig, ShipmentTrackerHandler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::lambda::telemetry::init();
    // Bad configuration stops the function here.
    let env = Env::from_process();
    let config = ShipmentTrackerConfig::from_env(&env)
        .and_then(|c| Ok((c, env.clock()?)))
        .inspect_err(|e| tracing::error!(error = %e, "refusing to start: bad configuration"));
    let (config, clock) = config?;
    let sdk = shared::aws::aws_sdk_config().await;
    let handler = ShipmentTrackerHandler::with_clock(config, &sdk, clock);
    run(service_fn(|event| handler.handle(event))).await
}
