//! `make bench`: `order-events`' figures. Readable lines on stderr; the last line on stdout
//! is one JSON object.

use local_stack::bench_order_events::{BenchOptions, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut opts = BenchOptions::default();
    if let Some(speed) = std::env::var("BENCH_CLOCK_SPEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        opts.clock_speed = speed;
    }
    opts.skip_drain = std::env::var("BENCH_ONLY").as_deref() == Ok("process");
    if std::env::var("BENCH_ONLY").as_deref() == Ok("drain") {
        let r = local_stack::bench_order_events::run_drain(&opts).await;
        eprintln!("drain (sim s, bound s, 429s, messages received): {r:?}");
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!(
        "order-events bench: {} orders through the release binary, {} cold starts, a {}-order backlog at the official getOrder plan on a {}x clock with {} workers",
        opts.process_orders, opts.cold_starts, opts.backlog_orders, opts.clock_speed, opts.workers
    );
    match run(&opts).await {
        Ok(f) => {
            eprintln!("zip size                 : {} bytes", f.zip_bytes);
            eprintln!(
                "cold start (exec → first Runtime API poll): median {} ms of {:?}",
                f.cold_start_ms_median, f.cold_start_ms_runs
            );
            eprintln!(
                "CPU per order            : {} µs ({} of it in the kernel)",
                f.cpu_us_per_order, f.cpu_sys_share
            );
            eprintln!("peak RSS                 : {} MiB", f.peak_rss_mib);
            eprintln!(
                "calls per order          : DynamoDB {}, KMS {}, SQS {}",
                f.dynamodb_calls_per_order, f.kms_calls_per_order, f.sqs_calls_per_order
            );
            eprintln!(
                "backlog drain            : {} s simulated vs {} s quota bound = {} of the bound",
                f.drain_sim_s, f.quota_bound_sim_s, f.drain_share_of_quota_bound
            );
            eprintln!(
                "429s                     : {} of {} getOrder calls ({} per 100)",
                f.throttled_429, f.get_order_calls, f.throttled_per_100_requests
            );
            #[allow(clippy::print_stdout)] // the figures line is this program's output
            {
                println!("{}", serde_json::to_string(&f).expect("figures serialize"));
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
