//! `audit-report`: the auditor's report for a range, on demand. Wiring only; the logic is in
//! `shared::audit::report`.

use lambda_runtime::{Error, run, service_fn};
use shared::lambda::Env;
use shared::lambda::audit_report::AuditReportHandler;
use shared::lambda::audit_report::config::AuditReportConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::lambda::telemetry::init();
    let env = Env::from_process();
    let config = AuditReportConfig::from_env(&env)
        .and_then(|c| Ok((c, env.clock()?)))
        .inspect_err(|e| tracing::error!(error = %e, "refusing to start: bad configuration"));
    let (config, clock) = config?;
    let sdk = shared::aws::aws_sdk_config().await;
    let handler = AuditReportHandler::new(config, &sdk, clock);
    run(service_fn(|event| handler.handle(event))).await
}
