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
    if let Some(n) = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        opts.process_orders = n;
    }
    opts.skip_drain = std::env::var("BENCH_ONLY").as_deref() == Ok("process");
    if let Some(ms) = std::env::var("BENCH_AWS_LATENCY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        opts.aws_latency_ms = ms;
    }
    opts.peer_figures = std::env::var_os("PEER_FIGURES").map(std::path::PathBuf::from);
    opts.baseline_figures = std::env::var_os("BASELINE_FIGURES").map(std::path::PathBuf::from);
    if std::env::var("BENCH_ONLY").as_deref() == Ok("drain") {
        // The in-process workers' logs, when asked for (AWS_LAMBDA_LOG_LEVEL, as in Lambda).
        if std::env::var_os("AWS_LAMBDA_LOG_LEVEL").is_some() {
            shared::lambda::telemetry::init();
        }
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
                "calls per order          : {} (DynamoDB {}, KMS {}, SQS {})",
                f.aws_calls_per_order,
                f.dynamodb_calls_per_order,
                f.kms_calls_per_order,
                f.sqs_calls_per_order
            );
            eprintln!(
                "billed per batch of 10   : {} ms ({} ms per order); with every AWS call {} ms slower: {} ms ({} ms per order, CPU {} µs per order)",
                f.billed_ms_per_batch,
                f.billed_ms_per_order,
                f.aws_latency_ms,
                f.billed_ms_per_batch_at_latency,
                f.billed_ms_per_order_at_latency,
                f.cpu_us_per_order_at_latency
            );
            match &f.peer {
                Some(p) => eprintln!(
                    "Python peer, same sitting: CPU {} µs per order ({}x ours), cold start {} ms ({}x), peak RSS {} MiB ({}x), {} AWS calls per order ({}x)",
                    p.peer_cpu_us_per_order,
                    p.cpu_ratio,
                    p.peer_cold_start_ms_median,
                    p.cold_start_ratio,
                    p.peer_peak_rss_mib,
                    p.rss_ratio,
                    p.peer_aws_calls_per_order,
                    p.aws_calls_ratio
                ),
                None => eprintln!("Python peer              : not measured in this sitting"),
            }
            match &f.baseline {
                Some(b) => eprintln!(
                    "per-order design, same sitting: {} AWS calls per order, CPU {} µs, billed {} ms per order, {} ms at {} ms per call; ours take {}, {}, {} and {} of it",
                    b.baseline_aws_calls_per_order,
                    b.baseline_cpu_us_per_order,
                    b.baseline_billed_ms_per_order,
                    b.baseline_billed_ms_per_order_at_latency,
                    f.aws_latency_ms,
                    b.aws_calls_share,
                    b.cpu_share,
                    b.billed_share,
                    b.billed_share_at_latency
                ),
                None => eprintln!("per-order design         : not measured in this sitting"),
            }
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
