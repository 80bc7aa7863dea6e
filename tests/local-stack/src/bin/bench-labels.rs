//! `make bench-labels`: `label-worker`'s figures. Readable lines on stderr; the last line on
//! stdout is one JSON object.

use local_stack::bench_labels::{BenchOptions, run};

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
    eprintln!(
        "label-worker bench: {} labels through the release binary, {} cold starts, {} label jobs at the official Shipping v2 plan on a {}x clock with {} workers",
        opts.process_labels, opts.cold_starts, opts.backlog_labels, opts.clock_speed, opts.workers
    );
    match run(&opts).await {
        Ok(f) => {
            eprintln!("zip size                 : {} bytes", f.zip_bytes);
            eprintln!(
                "cold start (exec → first Runtime API poll): median {} ms of {:?}",
                f.cold_start_ms_median, f.cold_start_ms_runs
            );
            eprintln!(
                "CPU per label            : {} µs ({} of it in the kernel)",
                f.cpu_us_per_label, f.cpu_sys_share
            );
            eprintln!("peak RSS                 : {} MiB", f.peak_rss_mib);
            eprintln!(
                "calls per label          : DynamoDB {}, KMS {}, SQS {}, SP-API {} ({:?})",
                f.dynamodb_calls_per_label,
                f.kms_calls_per_label,
                f.sqs_calls_per_label,
                f.spapi_calls_per_label,
                f.spapi_calls_by_operation
            );
            eprintln!(
                "backlog drain            : {} s simulated vs {} s quota bound = {} of the bound",
                f.drain_sim_s, f.quota_bound_sim_s, f.drain_share_of_quota_bound
            );
            eprintln!(
                "429s / duplicate labels  : {} of {} Shipping calls / {}",
                f.throttled_429, f.shipping_calls, f.duplicate_purchases
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
