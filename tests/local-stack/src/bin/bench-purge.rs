//! `make bench-purge`: `pii-redactor`'s purge throughput. Readable lines on stderr; the last
//! line on stdout is one JSON object.

use local_stack::bench_purge::{PurgeBenchOptions, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut opts = PurgeBenchOptions::default();
    if let Some(n) = std::env::var("PURGE_BENCH_ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        opts.orders = n;
    }
    if let Some(s) = std::env::var("PURGE_BENCH_RUN_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        opts.run_seconds = s;
    }
    eprintln!(
        "pii-redactor purge bench: {} due orders (2 sealed items each) across {} sellers, the release binary as one Lambda process ({} s runs) against moto",
        opts.orders, opts.sellers, opts.run_seconds
    );
    match run(&opts).await {
        Ok(f) => {
            eprintln!("seeding                  : {} s", f.seed_s);
            eprintln!(
                "purged                   : {} orders, {} items in {} run(s), {} s ({} failures retried)",
                f.orders_purged, f.pii_items_deleted, f.runs, f.purge_wall_s, f.failures
            );
            eprintln!("orders per second        : {}", f.orders_per_s);
            eprintln!(
                "CPU per order            : {} µs ({} of it in the kernel)",
                f.cpu_us_per_order, f.cpu_sys_share
            );
            eprintln!("DynamoDB calls per order : {}", f.dynamodb_calls_per_order);
            eprintln!("peak RSS                 : {} MiB", f.peak_rss_mib);
            eprintln!(
                "after: PII past due {}, items left {}",
                f.pii_past_due_after, f.pii_items_left
            );
            #[allow(clippy::print_stdout)] // the figures line is this program's output
            {
                println!("{}", serde_json::to_string(&f).expect("figures serialize"));
            }
            if f.pii_past_due_after == 0 && f.pii_items_left == 0 {
                std::process::ExitCode::SUCCESS
            } else {
                eprintln!("purge bench FAILED: PII left past its date");
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("purge bench failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
