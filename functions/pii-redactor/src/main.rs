//! `pii-redactor`: purge runs (schedule, on demand) and deletion requests (SQS). Wiring only;
//! the logic is in `shared::redaction`.

use lambda_runtime::{Error, run, service_fn};
use shared::config::{Env, PiiRedactorConfig};
use shared::handlers::pii_redactor::PiiRedactorHandler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Bad configuration (RETENTION_DAYS above 30 among it) stops the function here.
    let config = PiiRedactorConfig::from_env(&Env::from_process()).inspect_err(|e| {
        tracing::error!(error = %e, "refusing to start: bad configuration");
    })?;
    let sdk = shared::adapters::aws_sdk_config().await;
    let handler = PiiRedactorHandler::new(config, &sdk);
    run(service_fn(|event| handler.handle(event))).await
}
