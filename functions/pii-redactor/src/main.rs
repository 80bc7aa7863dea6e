//! `pii-redactor`: purge runs (schedule, on demand) and deletion requests (SQS). Wiring only;
//! the logic is in `shared::pii::redactor`.

use lambda_runtime::{Error, run, service_fn};
use shared::lambda::Env;
use shared::lambda::pii_redactor::PiiRedactorHandler;
use shared::lambda::pii_redactor::config::PiiRedactorConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::lambda::telemetry::init();
    // Bad configuration (RETENTION_DAYS above 30 among it) stops the function here.
    // The clock moves only on the local stack (its time travel); anywhere else it is refused.
    let env = Env::from_process();
    let config = PiiRedactorConfig::from_env(&env)
        .and_then(|c| Ok((c, env.clock()?)))
        .inspect_err(|e| tracing::error!(error = %e, "refusing to start: bad configuration"));
    let (config, clock) = config?;
    let sdk = shared::aws::aws_sdk_config().await;
    let handler = PiiRedactorHandler::with_clock(config, &sdk, clock);
    run(service_fn(|event| handler.handle(event))).await
}
