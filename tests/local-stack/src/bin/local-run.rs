//! `make run`: one day of the suite on the local stack. Prints a readable summary; the last
//! line is one JSON object.

use local_stack::day::{DayOptions, run_day};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let opts = DayOptions::default();
    eprintln!(
        "local stack: moto server, SP-API simulator ({} sellers x {} orders), order-sync under cargo lambda watch",
        opts.sellers, opts.orders_per_seller
    );
    match run_day(&opts).await {
        Ok(s) => {
            eprintln!("orders seeded by the simulator : {}", s.orders_seeded);
            eprintln!("orders ingested (orders table) : {}", s.orders_ingested);
            eprintln!(
                "orders holding sealed PII      : {}",
                s.orders_with_pii_held
            );
            eprintln!("sealed PII items (pii table)   : {}", s.pii_sealed);
            eprintln!(
                "  with readable attributes     : {}",
                s.pii_items_with_readable_attributes
            );
            eprintln!("order-sync invocations         : {}", s.invocations);
            eprintln!(
                "searchOrders / LWA token calls : {} / {}",
                s.search_orders_calls, s.lwa_token_calls
            );
            eprintln!(
                "seeded PII values found in logs: {} of {} checked",
                s.pii_values_found_in_logs, s.pii_values_checked
            );
            for f in &s.log_files {
                eprintln!("log: {f}");
            }
            eprintln!("elapsed: {} s", s.elapsed_s);
            let ok = s.orders_ingested == s.orders_seeded
                && s.pii_values_found_in_logs == 0
                && s.pii_items_with_readable_attributes == 0;
            #[allow(clippy::print_stdout)] // the summary line is this program's output
            {
                println!("{}", serde_json::to_string(&s).expect("summary serializes"));
            }
            if ok {
                std::process::ExitCode::SUCCESS
            } else {
                eprintln!("local run FAILED its own checks (see the figures above)");
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("local run failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
