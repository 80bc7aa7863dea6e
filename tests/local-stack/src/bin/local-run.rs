//! `make run`: one day of the suite on the local stack. Prints a readable summary; the last
//! line is one JSON object.

use local_stack::day::{DayOptions, run_day};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let opts = DayOptions {
        hold_api: std::env::var("LOCAL_RUN_HOLD").is_ok_and(|v| v == "1"),
        ..DayOptions::default()
    };
    eprintln!(
        "local stack: moto server, SP-API simulator ({} sellers x {} orders, {} more each during the day), CloudTrail stand-in, the API gateway stand-in, order-sync, order-events, label-worker, shipment-tracker, stock-sync, api, pii-redactor and audit-report under cargo lambda watch",
        opts.sellers, opts.orders_per_seller, opts.new_orders_per_seller
    );
    match run_day(&opts).await {
        Ok(s) => {
            eprintln!("orders seeded by the simulator : {}", s.orders_seeded);
            eprintln!("orders at Amazon by evening    : {}", s.orders_at_amazon);
            eprintln!("orders ingested (orders table) : {}", s.orders_ingested);
            eprintln!(
                "  by morning sweep             : {}",
                s.orders_ingested_by_morning_sweep
            );
            eprintln!(
                "order changes during the day   : {}",
                s.order_changes_during_day
            );
            eprintln!(
                "notifications published / delivered / dropped: {} / {} / {}",
                s.notifications_published, s.notifications_delivered, s.notifications_dropped
            );
            eprintln!(
                "notifications processed / duplicates ignored / deferred / dead-lettered: {} / {} / {} / {}",
                s.notifications_processed,
                s.duplicate_notifications_ignored,
                s.notifications_deferred,
                s.notifications_dead_lettered
            );
            eprintln!(
                "orders recovered by evening sweep: {}",
                s.orders_recovered_by_evening_sweep
            );
            eprintln!(
                "stock reservations / releases  : {} / {}",
                s.stock_reservations, s.stock_releases
            );
            eprintln!(
                "getOrder calls / 429s received : {} / {}",
                s.get_order_calls, s.throttled_requests
            );
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
                "labels bought / voided / bought twice: {} / {} / {}",
                s.labels_purchased, s.labels_voided, s.duplicate_purchases
            );
            eprintln!("own-carrier packages confirmed : {}", s.shipments_confirmed);
            eprintln!(
                "label jobs dead-lettered / parcels tracked: {} / {}",
                s.label_jobs_dead_lettered, s.parcels_tracked
            );
            eprintln!(
                "staff API: requests / packed / shipped (own carrier): {} / {} / {}",
                s.api_requests, s.api_orders_packed, s.api_orders_shipped
            );
            eprintln!(
                "staff API: PII answers / reads audited / refused by role / PII leaks: {} / {} / {} / {}",
                s.api_pii_answers,
                s.api_pii_reads_audited,
                s.api_requests_refused_by_role,
                s.api_pii_leaks
            );
            for u in &s.api_unexpected {
                eprintln!("staff API: unexpected answer: {u}");
            }
            eprintln!(
                "stock movements / pushes / low-stock alerts: {} / {} / {}",
                s.stock_movements, s.stock_pushes, s.low_stock_alerts
            );
            eprintln!(
                "stock: orders reserved / released / picked / shipped: {} / {} / {} / {}",
                s.stock_reservations, s.stock_releases, s.stock_picks, s.stock_shipments
            );
            eprintln!(
                "stock mismatches with Amazon / messages dead-lettered: {} / {}",
                s.stock_mismatches, s.stock_messages_dead_lettered
            );
            eprintln!(
                "night, 60 days on: orders purged / PII past due / items left: {} / {} / {}",
                s.pii_purged, s.pii_past_due, s.pii_items_after_purge
            );
            eprintln!(
                "deletion requests completed    : {}",
                s.deletion_requests_completed
            );
            eprintln!(
                "audit report: KMS opens / purges: {} / {} (audit-report.json, .csv)",
                s.audit_report_pii_opens, s.audit_report_purges
            );
            eprintln!(
                "seeded PII values found in logs: {} of {} checked",
                s.pii_values_found_in_logs, s.pii_values_checked
            );
            for f in &s.log_files {
                eprintln!("log: {f}");
            }
            eprintln!("elapsed: {} s", s.elapsed_s);
            let ok = s.orders_ingested == s.orders_at_amazon
                && s.notifications_dead_lettered == 0
                && s.pii_values_found_in_logs == 0
                && s.pii_items_with_readable_attributes == 0
                && s.pii_past_due == 0
                && s.pii_items_after_purge == 0
                && s.deletion_requests_completed == 2
                && s.labels_purchased > 0
                && s.duplicate_purchases == 0
                && s.label_jobs_dead_lettered == 0
                && s.stock_pushes > 0
                && s.stock_mismatches == 0
                && s.stock_messages_dead_lettered == 0
                && s.api_orders_packed > 0
                && s.api_orders_shipped > 0
                && s.api_pii_leaks == 0
                && s.api_pii_answers > 0
                && s.api_pii_reads_audited == s.api_pii_answers
                && s.api_unexpected.is_empty();
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
