//! `make bench-stock`: `stock-sync`'s figures. Readable lines on stderr; the last line on
//! stdout is one JSON object.

use local_stack::bench_stock::{BenchOptions, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut opts = BenchOptions::default();
    if let Some(skus) = std::env::var("BENCH_STOCK_SKUS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        opts.skus = skus;
    }
    eprintln!(
        "stock-sync bench: a reconciliation of {} SKUs × {} locations by the release binary at the official plans; one SKU from {} workers",
        opts.skus, opts.locations, opts.hot_workers
    );
    match run(&opts).await {
        Ok(f) => {
            eprintln!(
                "reconciliation ({})  : {} s wall vs {} s minimum (Amazon's processing) = {} of it; the read path's quota bound: {} s",
                f.path, f.wall_s, f.quota_bound_s, f.wall_share_of_bound, f.read_path_quota_bound_s
            );
            eprintln!(
                "calls per SKU            : DynamoDB {}, SQS {}, SP-API {} ({:?}); 429s {}",
                f.dynamodb_calls_per_sku,
                f.sqs_calls_per_sku,
                f.spapi_calls_per_sku,
                f.spapi_calls_by_operation,
                f.throttled_429
            );
            eprintln!(
                "CPU per SKU / peak RSS   : {} µs / {} MiB",
                f.cpu_us_per_sku, f.peak_rss_mib
            );
            eprintln!(
                "after                    : {} of {} SKUs differ at Amazon ({} drifted before)",
                f.mismatches_after, f.skus, f.drifted_skus
            );
            eprintln!(
                "hot SKU, {} workers       : {} movements/s ({} applied, {} refused), {} conflicts retried, {} pushes overtaken",
                f.hot_workers,
                f.hot_movements_per_s,
                f.hot_movements_applied,
                f.hot_movements_refused,
                f.hot_conflicts_retried,
                f.hot_pushes_overtaken
            );
            #[allow(clippy::print_stdout)] // the figures line is this program's output
            {
                println!("{}", serde_json::to_string(&f).expect("figures serialize"));
            }
            if f.mismatches_after > 0 {
                eprintln!("bench failed: Amazon does not hold the ledger's quantities");
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
