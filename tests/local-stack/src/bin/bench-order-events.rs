//! `make bench`: `order-events`' figures. Readable lines on stderr; the last line on stdout
//! is one JSON object.

use local_stack::bench_order_events::{BenchOptions, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let opts = BenchOptions::default();
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
            eprintln!("CPU per order            : {} µs", f.cpu_us_per_order);
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
