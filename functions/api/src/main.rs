//! `api`: the staff and auditor HTTP API behind API Gateway. Wiring only; the routes are in
//! `shared::api`.

use lambda_http::{Error, run, service_fn};
use shared::lambda::Env;
use shared::lambda::api::{ApiConfig, ApiHandler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::lambda::telemetry::init();
    // Bad configuration stops the function here.
    let config = ApiConfig::from_env(&Env::from_process())
        .inspect_err(|e| tracing::error!(error = %e, "refusing to start: bad configuration"))?;
    let sdk = shared::aws::aws_sdk_config().await;
    let handler = ApiHandler::new(config, &sdk);
    run(service_fn(|event| handler.handle(event))).await
}
