//! `order-sync` through its real handler and adapters, against moto and the SP-API simulator.

use crate::common::{run_sync, s, stack};
use serde_json::json;
use shared::aws::DynamoRateBudget;
use shared::kernel::SystemClock;
use shared::orders::CheckpointStore;
use shared::orders::sweep::SweepOutcome;
use shared::rate::RateBudget;
use shared::rate::UsagePlan;
use spapi_sim::{Faults, SimConfig};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_sweep_stores_every_order_once_and_seals_pii_of_held_orders_only() {
    let t = stack("sweep", SimConfig::demo(3, 40, 7)).await;
    let handler = t.order_sync(15);

    let report = run_sync(&handler, json!({})).await;
    assert_eq!(report.sellers_failed, 0, "{report:?}");
    assert!(
        report
            .sellers
            .iter()
            .all(|r| r.outcome == SweepOutcome::Complete),
        "{report:?}"
    );

    let orders = t.scan("orders").await;
    assert_eq!(orders.len(), 120, "every seeded order is stored once");
    for i in 0..3 {
        let seller = t.seller(i).to_string();
        let stored = orders
            .iter()
            .filter(|o| s(o, "seller_id") == seller)
            .count();
        assert_eq!(stored, t.sim.order_count(&seller), "seller {seller}");
    }
    // 40 orders at 15 a page: 3 pages per seller, each fetched once.
    assert_eq!(t.calls("searchOrders"), 9);

    let pii = t.scan("pii").await;
    assert_eq!(report.pii_items_sealed as usize, pii.len());
    let held: BTreeSet<String> = orders
        .iter()
        .filter(|o| s(o, "pii_state") == "held")
        .map(|o| format!("{}#{}", s(o, "seller_id"), s(o, "order_id")))
        .collect();
    let sealed: BTreeSet<String> = pii.iter().map(|i| s(i, "seller_order")).collect();
    assert!(!held.is_empty());
    assert_eq!(
        held, sealed,
        "PII is sealed exactly for the orders that say they hold it"
    );
    for o in orders.iter().filter(|o| s(o, "status") == "canceled") {
        assert_eq!(s(o, "pii_state"), "none", "canceled orders purge at once");
    }

    // Running again finds nothing new and changes nothing.
    let again = run_sync(&handler, json!({})).await;
    assert_eq!(again.orders_stored, 0, "{again:?}");
    assert_eq!(t.scan("orders").await.len(), 120);
    assert_eq!(t.scan("pii").await.len(), pii.len());
}

#[tokio::test]
async fn a_paused_sweep_resumes_from_its_checkpoint_without_gaps_or_refetching() {
    let t = stack("resume", SimConfig::demo(1, 50, 11)).await;
    let handler = t.order_sync(10);

    let first = run_sync(&handler, json!({"max_pages": 2})).await;
    assert_eq!(first.sellers[0].outcome, SweepOutcome::Paused);
    assert_eq!(t.scan("orders").await.len(), 20);

    let second = run_sync(&handler, json!({})).await;
    assert_eq!(second.sellers[0].outcome, SweepOutcome::Complete);
    assert_eq!(t.scan("orders").await.len(), 50);
    // Five pages in all: the second run started at page three, not at page one.
    assert_eq!(t.calls("searchOrders"), 5);
}

#[tokio::test]
async fn a_sweep_killed_mid_page_resumes_with_no_gaps_and_no_duplicates() {
    let t = stack("killed", SimConfig::demo(1, 60, 13)).await;
    // Every SP-API answer takes 300 ms, so 900 ms cannot cover more than 3 of the 6 pages.
    t.sim.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let handler = t.order_sync(10);
    let killed =
        tokio::time::timeout(Duration::from_millis(900), run_sync(&handler, json!({}))).await;
    assert!(killed.is_err(), "the first run was cut off");
    let after_kill = t.scan("orders").await.len();
    assert!(after_kill < 60, "stored {after_kill} before the kill");

    t.sim.set_faults(Faults::default());
    let report = run_sync(&handler, json!({})).await;
    assert_eq!(
        report.sellers[0].outcome,
        SweepOutcome::Complete,
        "{report:?}"
    );
    let orders = t.scan("orders").await;
    let ids: BTreeSet<String> = orders.iter().map(|o| s(o, "order_id")).collect();
    assert_eq!(orders.len(), 60);
    assert_eq!(ids.len(), 60);
    // At most the page in flight at the kill is fetched twice.
    assert!(
        t.calls("searchOrders") <= 7,
        "searchOrders calls: {}",
        t.calls("searchOrders")
    );

    let control = shared::aws::DynamoControl::new(t.dynamo(), t.stack.table("control"));
    let checkpoint = control.load(&t.seller(0)).await.unwrap().unwrap().value;
    assert!(checkpoint.in_progress.is_none());
    assert!(checkpoint.synced_until.is_some());
}

#[tokio::test]
async fn a_burst_of_429s_is_ridden_out() {
    let t = stack("throttled", SimConfig::demo(1, 20, 17)).await;
    t.sim.set_faults(Faults {
        throttle_share: 1.0,
        max_faults: Some(4),
        ..Faults::default()
    });
    let handler = t.order_sync(20);
    let report = run_sync(&handler, json!({})).await;
    assert_eq!(
        report.sellers[0].outcome,
        SweepOutcome::Complete,
        "{report:?}"
    );
    assert_eq!(t.scan("orders").await.len(), 20);
    let stats = serde_json::to_value(t.sim.stats()).unwrap();
    assert_eq!(stats["throttled_injected"], 4, "{stats}");
}

#[tokio::test]
async fn a_seller_whose_authorization_is_revoked_does_not_stop_the_others() {
    let t = stack("revoked", SimConfig::demo(3, 10, 19)).await;
    let revoked = t.seller(1);
    t.sim.revoke_seller(revoked.as_str());
    let handler = t.order_sync(20);
    let report = run_sync(&handler, json!({})).await;
    assert_eq!(report.sellers_failed, 1);
    for r in &report.sellers {
        if r.seller_id == revoked {
            assert_eq!(r.outcome, SweepOutcome::Failed);
            assert_eq!(r.error_kind, Some("lwa"));
            assert!(
                r.error
                    .as_deref()
                    .unwrap_or("")
                    .contains("RefreshTokenRejected"),
                "{r:?}"
            );
        } else {
            assert_eq!(r.outcome, SweepOutcome::Complete, "{r:?}");
            assert_eq!(r.orders_stored, 10);
        }
    }
    assert_eq!(t.scan("orders").await.len(), 20);
}

#[tokio::test]
async fn a_spent_rate_budget_pauses_the_sweep_before_amazon_throttles() {
    let t = stack("budget-spent", SimConfig::demo(1, 50, 23)).await;
    let seller = t.seller(0);
    // Other instances already spent 18 of searchOrders' burst of 20 for this seller.
    let budget = DynamoRateBudget::new(t.dynamo(), t.stack.table("control"), Arc::new(SystemClock));
    let plan = UsagePlan::new(0.0056, 20);
    for _ in 0..18 {
        assert!(
            budget
                .take(&seller, "searchOrders", plan)
                .await
                .unwrap()
                .is_none()
        );
    }
    let handler = t.order_sync(10);
    let first = run_sync(&handler, json!({})).await;
    assert_eq!(first.sellers[0].outcome, SweepOutcome::Paused, "{first:?}");
    assert_eq!(first.sellers[0].error_kind, Some("budget_exhausted"));
    assert_eq!(first.sellers_failed, 0);
    // Two of Amazon's 20 were left; the client holds one back (headroom): one page.
    assert_eq!(
        t.scan("orders").await.len(),
        10,
        "one page, as many as the budget had less the token held back"
    );
    assert_eq!(t.calls("searchOrders"), 1);
    let stats = serde_json::to_value(t.sim.stats()).unwrap();
    assert_eq!(
        stats["throttled_by_quota"], 0,
        "Amazon never had to say 429: {stats}"
    );
}

#[tokio::test]
async fn a_checkpoint_whose_page_token_expired_rereads_its_window() {
    let t = stack("token-expired", SimConfig::demo(1, 50, 29)).await;
    let handler = t.order_sync(10);
    let first = run_sync(&handler, json!({"max_pages": 2})).await;
    assert_eq!(first.sellers[0].outcome, SweepOutcome::Paused);
    // The sweep waits more than a day (revoked seller, outage): Amazon's token is dead.
    t.sim.advance_clock(chrono::Duration::hours(25));
    t.sim.expire_access_tokens();
    let handler = t.order_sync(10);
    let second = run_sync(&handler, json!({})).await;
    assert_eq!(
        second.sellers[0].outcome,
        SweepOutcome::Complete,
        "{second:?}"
    );
    assert_eq!(t.scan("orders").await.len(), 50);
    // 2 pages, 1 refused token, then all 5 pages of the window again.
    assert_eq!(t.calls("searchOrders"), 8);
    assert_eq!(t.sim.stats().count("searchOrders", 400), 1);
}

#[tokio::test]
async fn one_unreadable_order_is_recorded_and_fetched_again_by_itself_while_its_page_is_stored() {
    let t = stack("unreadable", SimConfig::demo(1, 30, 13)).await;
    let seller = t.seller(0);
    let poison = t.sim.orders_in(seller.as_str(), "UNSHIPPED")[0].clone();
    assert!(t.sim.garble_order(seller.as_str(), &poison, true));
    let handler = t.order_sync(10);
    let on_record = || async {
        t.scan("control")
            .await
            .into_iter()
            .filter(|i| s(i, "pk") == format!("unreadable#{seller}"))
            .collect::<Vec<_>>()
    };

    // The page with the unreadable order is stored but for it, and the sweep moves on.
    let first = run_sync(&handler, json!({})).await;
    let r = &first.sellers[0];
    assert_eq!(r.outcome, SweepOutcome::Complete, "{first:?}");
    assert_eq!((r.orders_unreadable, r.orders_stored), (1, 29), "{first:?}");
    let orders = t.scan("orders").await;
    assert_eq!(orders.len(), 29);
    assert!(orders.iter().all(|o| s(o, "order_id") != poison));
    let control = shared::aws::DynamoControl::new(t.dynamo(), t.stack.table("control"));
    let checkpoint = control.load(&seller).await.unwrap().unwrap().value;
    assert!(checkpoint.in_progress.is_none() && checkpoint.synced_until.is_some());
    // On record by its id, with a reason that names the field.
    let records = on_record().await;
    assert_eq!(records.len(), 1);
    assert_eq!(s(&records[0], "sk"), poison);
    assert!(
        s(&records[0], "reason").contains("fulfillmentStatus"),
        "{:?}",
        records[0]
    );

    // The next run fetches it alone (its window has passed): still unreadable, seen twice.
    let gets = t.calls("getOrder");
    let second = run_sync(&handler, json!({})).await;
    assert_eq!(second.sellers[0].unreadable_recovered, 0, "{second:?}");
    assert_eq!(t.calls("getOrder"), gets + 1);
    let records = on_record().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["seen"].as_n().unwrap(), "2");

    // Amazon serves it readable again: stored, off the record.
    assert!(t.sim.garble_order(seller.as_str(), &poison, false));
    let third = run_sync(&handler, json!({})).await;
    assert_eq!(third.sellers[0].unreadable_recovered, 1, "{third:?}");
    assert_eq!(t.scan("orders").await.len(), 30);
    assert!(on_record().await.is_empty());
    let fourth = run_sync(&handler, json!({})).await;
    assert_eq!(fourth.sellers[0].unreadable_recovered, 0);
    assert_eq!(
        t.calls("getOrder"),
        gets + 2,
        "nothing fetched once it read"
    );
}
