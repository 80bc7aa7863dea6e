//! `pii-redactor`: purge runs (schedule, on demand) and deletion requests (SQS). Wiring only;
//! the logic is in `shared::redaction`.

use lambda_runtime::{Error, run, service_fn};
use shared::config::{Env, PiiRedactorConfig};
use shared::handlers::pii_redactor::PiiRedactorHandler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Bad configuration (RETENTION_DAYS above 30 among it) stops the function here.
    // The clock moves only on the local stack (its time travel); anywhere else it is refused.
    let env = Env::from_process();
    let config = PiiRedactorConfig::from_env(&env)
        .and_then(|c| Ok((c, env.clock()?)))
        .inspect_err(|e| tracing::error!(error = %e, "refusing to start: bad configuration"));
    let (config, clock) = config?;
    let sdk = shared::adapters::aws_sdk_config().await;
    let handler = PiiRedactorHandler::with_clock(config, &sdk, clock);
    run(service_fn(|event| handler.handle(event))).await
}
