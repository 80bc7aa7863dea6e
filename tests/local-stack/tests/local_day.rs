//! The local run end to end: the real `order-sync` binary under `cargo lambda watch`, moto and
//! the simulator; then every log file is scanned for every seeded PII value.

use local_stack::day::{DayOptions, run_day};

#[tokio::test]
async fn a_local_day_through_the_real_binary_ingests_every_order_and_logs_no_pii() {
    let opts = DayOptions {
        run_name: "test-day".into(),
        sellers: 3,
        orders_per_seller: 30,
        page_size: 20,
        seed: 5,
    };
    let summary = run_day(&opts).await.expect("the local day runs");
    assert_eq!(summary.orders_ingested, 90, "{summary:?}");
    assert_eq!(summary.orders_seeded, 90);
    assert!(summary.pii_sealed > 0);
    assert_eq!(summary.pii_items_with_readable_attributes, 0);
    assert!(summary.pii_values_checked >= 90, "{summary:?}");
    assert_eq!(summary.pii_values_found_in_logs, 0, "{summary:?}");
    // The function really ran and logged its SP-API calls.
    let log = std::fs::read_to_string(
        summary
            .log_files
            .iter()
            .find(|f| f.ends_with("order-sync.log"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        log.contains("\"operation\":\"searchOrders\""),
        "no SP-API call logged by the function"
    );
}
