//! JSON logs to stdout, one object per line, for CloudWatch (and the local stack's log files).
//! Only ids, counts, statuses and latencies are logged; never a request or response body.

use tracing_subscriber::{EnvFilter, fmt};

/// Install the global subscriber. Level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else info.
pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| EnvFilter::new(l.to_lowercase()))
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}
