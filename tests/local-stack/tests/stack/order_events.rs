//! `order-events` against moto (DynamoDB, KMS, SQS, Secrets Manager) and the SP-API simulator:
//! notifications delivered by the simulator to the local notifications queue, handed over in
//! batches as Lambda's event source mapping would.

use crate::common::{s, stack};
use chrono::Duration;
use serde_json::Value;
use shared::aws::DynamoOrderStore;
use shared::kernel::AmazonOrderId;
use shared::orders::OrderStatus;
use shared::orders::OrderStore;
use spapi_sim::{DeliveryKnobs, OrderEvent, SimConfig};
use std::collections::BTreeSet;

/// Sellers with no seeded orders. The suite runs on the simulator's clock (see `common`).
fn config(sellers: usize, seed: u64) -> SimConfig {
    SimConfig::demo(sellers, 0, seed)
}

/// Amazon serves an order to searches two minutes after it changed: move time past that.
fn let_search_catch_up(t: &crate::common::TestStack) {
    t.sim.advance_clock(Duration::minutes(3));
}

fn change_ids(stock: &[Value], kind: &str) -> BTreeSet<String> {
    stock
        .iter()
        .filter(|c| c["kind"] == kind)
        .map(|c| c["change_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_notification_delivered_three_times_yields_one_record_and_one_get_order() {
    let t = stack("triple", config(1, 31)).await;
    let seller = t.sim_config.sellers[0].seller_id.clone();
    t.sim.set_delivery(DeliveryKnobs {
        duplicate_share: 1.0,
        copies: 3,
        shuffle: true,
        ..Default::default()
    });
    let placed = t.sim.place_orders(&seller, 20);
    let delivery = t.deliver().await;
    assert_eq!((delivery.published, delivery.bodies.len()), (20, 60));

    let handler = t.order_events(&[]);
    let report = t.pump(&handler, false).await;
    assert_eq!(report.messages, 60);
    assert_eq!(report.notifications_processed, 20);
    assert_eq!(report.duplicate_notifications_ignored, 40);
    assert_eq!(report.orders_inserted, 20);
    assert!(report.keep.is_empty(), "{report:?}");
    assert_eq!(t.calls("getOrder"), 20, "one getOrder per notification");

    let orders = t.scan("orders").await;
    assert_eq!(orders.len(), 20);
    let stored: BTreeSet<String> = orders.iter().map(|o| s(o, "order_id")).collect();
    assert_eq!(stored, placed.iter().cloned().collect());
    assert!(orders.iter().all(|o| s(o, "pii_state") == "held"));
    // Buyer and recipient sealed once per order.
    assert_eq!(t.scan("pii").await.len(), 40);
    let stock = t.queue_bodies("stock").await;
    assert_eq!(change_ids(&stock, "reserve").len(), 20);
    assert!(
        stock
            .iter()
            .all(|c| c["lines"].as_array().is_some_and(|l| !l.is_empty()))
    );

    // The same notifications sent again a day later (new messages, as Amazon's retries are):
    // each is a copy of one already done, so nothing changes and nothing is fetched.
    t.sim.advance_clock(Duration::days(1));
    for body in &delivery.bodies {
        t.sqs()
            .send_message()
            .queue_url(t.stack.queue("notifications"))
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let again = t.pump(&handler, false).await;
    assert_eq!(again.messages, 60);
    assert_eq!(again.duplicate_notifications_ignored, 60, "{again:?}");
    assert_eq!(again.notifications_processed, 0);
    assert_eq!(t.calls("getOrder"), 20, "nothing fetched again");
    assert_eq!(t.scan("orders").await.len(), 20);
    assert!(
        t.queue_bodies("stock").await.is_empty(),
        "no stock change again"
    );
    t.sim.set_delivery(DeliveryKnobs::default());
    assert!(t.queue_bodies("notifications-dlq").await.is_empty());
}

#[tokio::test]
async fn malformed_notifications_land_in_the_dlq_with_a_reason_and_nothing_else_is_lost() {
    let t = stack("malformed", config(1, 32)).await;
    let seller = t.sim_config.sellers[0].seller_id.clone();
    t.sim.place_orders(&seller, 3);
    t.deliver().await;
    let sqs = t.sqs();
    let queue = t.stack.queue("notifications");
    let good: Value = {
        // A well-formed notification for a seller this suite does not serve.
        t.sim.place_orders(&seller, 1);
        let d = t.sim.take_notifications();
        let mut n: Value = serde_json::from_str(&d.bodies[0]).unwrap();
        n["Payload"]["OrderChangeNotification"]["SellerId"] = "A9UNKNOWNSELLER".into();
        n
    };
    let mut wrong_type = good.clone();
    wrong_type["NotificationType"] = "ANY_OFFER_CHANGED".into();
    let mut no_items = good.clone();
    no_items["Payload"]["OrderChangeNotification"]["Summary"]
        .as_object_mut()
        .unwrap()
        .remove("OrderItems");
    let bad = [
        "Marisol Okonkwo-Hale, 4410 Quillfeather Lane".to_owned(),
        wrong_type.to_string(),
        no_items.to_string(),
        good.to_string(),
    ];
    for body in &bad {
        sqs.send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    let report = t.pump(&t.order_events(&[]), false).await;
    assert_eq!(report.notifications_processed, 3, "{report:?}");
    assert_eq!(report.dead_lettered, 4);
    assert_eq!(t.scan("orders").await.len(), 3, "the good ones are stored");

    let letters = t.queue_bodies("notifications-dlq").await;
    let kinds: BTreeSet<&str> = letters
        .iter()
        .map(|l| l["reason_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["malformed", "unknown_seller"]));
    for l in &letters {
        assert!(l["message_id"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(!l["reason"].as_str().unwrap().is_empty());
        let text = l.to_string();
        assert!(
            !text.contains("Marisol") && !text.contains("Quillfeather"),
            "a dead letter carries ids and reasons, never the body: {text}"
        );
    }
    let unknown = letters
        .iter()
        .find(|l| l["reason_kind"] == "unknown_seller")
        .unwrap();
    assert_eq!(unknown["seller_id"], "A9UNKNOWNSELLER");
    assert!(unknown["order_id"].is_string() && unknown["notification_id"].is_string());
    // Nothing left behind on the source queue.
    assert!(t.queue_bodies("notifications").await.is_empty());
}

#[tokio::test]
async fn a_seller_with_a_revoked_token_does_not_stop_the_others() {
    let t = stack("revoked-events", config(3, 33)).await;
    let ids: Vec<String> = t
        .sim_config
        .sellers
        .iter()
        .map(|s| s.seller_id.clone())
        .collect();
    for id in &ids {
        t.sim.place_orders(id, 5);
    }
    t.sim.revoke_seller(&ids[1]);
    t.deliver().await;

    // Two tries each; kept messages come straight back (as after their visibility timeout).
    let handler = t.order_events(&[("NOTIFICATION_MAX_FAILURES", "2")]);
    let report = t.pump(&handler, true).await;
    assert_eq!(report.notifications_processed, 10, "{report:?}");
    assert_eq!(report.retried, 5, "the revoked seller's first tries");
    assert_eq!(report.dead_lettered, 5, "and then the dead-letter queue");

    let orders = t.scan("orders").await;
    let per_seller = |id: &str| orders.iter().filter(|o| s(o, "seller_id") == id).count();
    assert_eq!(
        (
            per_seller(&ids[0]),
            per_seller(&ids[1]),
            per_seller(&ids[2])
        ),
        (5, 0, 5)
    );
    let letters = t.queue_bodies("notifications-dlq").await;
    assert_eq!(letters.len(), 5);
    for l in &letters {
        assert_eq!(l["seller_id"], ids[1].as_str());
        assert_eq!(l["reason_kind"], "lwa", "{l}");
        assert_eq!(l["attempts"], 2);
    }
}

#[tokio::test]
async fn dropped_notifications_are_recovered_by_the_catch_up_sweep() {
    let t = stack("dropped", config(1, 34)).await;
    let seller = t.sim_config.sellers[0].seller_id.clone();
    t.sim.set_delivery(DeliveryKnobs {
        drop_share: 0.5,
        ..Default::default()
    });
    let placed = t.sim.place_orders(&seller, 16);
    let delivery = t.deliver().await;
    assert!(
        delivery.dropped > 0 && delivery.dropped < 16,
        "{delivery:?}"
    );
    let report = t.pump(&t.order_events(&[]), false).await;
    assert_eq!(
        u64::from(report.notifications_processed),
        16 - delivery.dropped
    );
    assert_eq!(t.scan("orders").await.len() as u64, 16 - delivery.dropped);

    let_search_catch_up(&t);
    let sweep = crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    assert_eq!(sweep.sellers_failed, 0);
    assert_eq!(u64::from(sweep.orders_stored), delivery.dropped);
    assert_eq!(
        u64::from(sweep.sellers[0].orders_unchanged),
        16 - delivery.dropped,
        "orders already taken in by notification are read, not rewritten"
    );
    let stored: BTreeSet<String> = t
        .scan("orders")
        .await
        .iter()
        .map(|o| s(o, "order_id"))
        .collect();
    assert_eq!(stored, placed.iter().cloned().collect());
    // Each order reserved its stock once, whichever route brought it in.
    let stock = t.queue_bodies("stock").await;
    assert_eq!(stock.len(), 16);
    assert_eq!(change_ids(&stock, "reserve").len(), 16);
}

#[tokio::test]
async fn amazon_updates_never_undo_warehouse_work_and_a_cancel_releases_stock_and_pii() {
    let t = stack("lifecycle", config(1, 35)).await;
    let seller_id = t.sim_config.sellers[0].seller_id.clone();
    let placed = t.sim.place_orders(&seller_id, 2);
    t.deliver().await;
    let handler = t.order_events(&[]);
    t.pump(&handler, false).await;
    t.queue_bodies("stock").await;

    // The warehouse starts picking both orders.
    let store = DynamoOrderStore::new(t.dynamo(), t.stack.table("orders"));
    let seller = t.seller(0);
    for id in &placed {
        let id = AmazonOrderId::parse(id.clone()).unwrap();
        let stored = store.load(&seller, &id).await.unwrap().unwrap();
        let mut order = stored.order.clone();
        order.status = order.status.advance_to(OrderStatus::Picking).unwrap();
        assert!(
            store
                .save(&order, stored.pii, Some(stored.revision))
                .await
                .unwrap()
                .is_some()
        );
    }
    // Amazon still says "unshipped" for both: a sweep re-reads them and moves nothing back.
    let_search_catch_up(&t);
    let sweep = crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    assert_eq!(sweep.sellers[0].orders_unchanged, 2, "{sweep:?}");
    let get = |i: usize| {
        let store = &store;
        let seller = &seller;
        let id = AmazonOrderId::parse(placed[i].clone()).unwrap();
        async move { store.get(seller, &id).await.unwrap().unwrap() }
    };
    assert_eq!(get(0).await.status, OrderStatus::Picking);

    // Then the buyer cancels one order and the other ships.
    assert!(
        t.sim
            .change_order(&seller_id, &placed[0], OrderEvent::Cancel)
    );
    assert!(t.sim.change_order(&seller_id, &placed[1], OrderEvent::Ship));
    t.deliver().await;
    let report = t.pump(&handler, false).await;
    assert_eq!(report.orders_updated, 2, "{report:?}");

    assert_eq!(get(0).await.status, OrderStatus::Canceled);
    assert_eq!(get(1).await.status, OrderStatus::Shipped);
    // One release for the canceled order, one shipment for the shipped one.
    let mut stock = t.queue_bodies("stock").await;
    stock.sort_by_key(|c| c["kind"].as_str().unwrap().to_owned());
    assert_eq!(stock.len(), 2, "{stock:?}");
    assert_eq!(
        (&stock[0]["kind"], &stock[0]["order_id"]),
        (&"release".into(), &placed[0].as_str().into())
    );
    assert_eq!(
        (&stock[1]["kind"], &stock[1]["order_id"]),
        (&"ship".into(), &placed[1].as_str().into())
    );
    // The canceled order's PII is gone at once; the shipped one keeps its own.
    let pii = t.scan("pii").await;
    let of = |i: usize| {
        pii.iter()
            .filter(|p| s(p, "seller_order").ends_with(&placed[i]))
            .count()
    };
    assert_eq!((of(0), of(1)), (0, 2));
    // The purge is on record: intake, the reason, the order, the items; nothing for the other.
    use shared::kernel::AuditLog;
    let audit = shared::aws::DynamoAuditLog::new(t.dynamo(), t.stack.table("audit"));
    let now = chrono::Utc::now();
    let events = audit
        .between(
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    let purges: Vec<_> = events
        .iter()
        .filter(|e| e.kind == shared::kernel::AuditKind::PiiPurge)
        .collect();
    assert_eq!(purges.len(), 1, "{events:?}");
    assert_eq!(
        (purges[0].actor.as_str(), purges[0].purpose.as_str()),
        (shared::orders::intake::INTAKE, "canceled")
    );
    assert_eq!(
        purges[0].order_id.as_ref().map(|o| o.as_str()),
        Some(placed[0].as_str())
    );
    assert_eq!(purges[0].count, Some(2));
}

#[tokio::test]
async fn a_backlog_beyond_the_burst_is_deferred_on_its_queue_and_never_throttled() {
    // getOrder's burst is 30 (29 spent: one held back) at 0.5/s. Amazon's clock, which the
    // suite shares, stands still until the first pump is over, so what is deferred does not
    // depend on the machine's speed: with no wait spent in place, the 9 orders beyond the
    // burst each set a place aside (2 s apart) and go back to the queue until it is due.
    let t = stack(
        "backlog",
        SimConfig {
            clock_speed: 0.0,
            ..config(1, 36)
        },
    )
    .await;
    let seller = t.sim_config.sellers[0].seller_id.clone();
    t.sim.place_orders(&seller, 38);
    t.deliver().await;
    let handler = t.order_events(&[("SPAPI_BUDGET_WAIT_MS", "0")]);
    let started = std::time::Instant::now();
    let mut total = t.pump(&handler, false).await;
    // Exactly the burst at that instant; a deferred message that comes back while Amazon's
    // time still stands is sent back again, so "at least" the 9.
    assert_eq!(total.notifications_processed, 29, "{total:?}");
    assert!(total.deferred >= 9, "{total:?}");
    // Then Amazon's time runs at twice the real time since the start: a deferred message
    // comes back after its wait in real time, so its place is due by the next pump.
    let mut moved = Duration::zero();
    for _ in 0..120 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let due = Duration::from_std(started.elapsed() * 2).unwrap();
        t.sim.advance_clock(due - moved);
        moved = due;
        total.merge(t.pump(&handler, false).await);
        if total.notifications_processed == 38 {
            break;
        }
    }
    assert_eq!(total.notifications_processed, 38, "{total:?}");
    // Every message received beyond the 38 was one sent back to wait for its place.
    assert_eq!(total.messages, 38 + total.deferred, "{total:?}");
    assert_eq!(total.dead_lettered, 0);
    assert_eq!(
        t.sim.stats().throttled_by_quota,
        0,
        "Amazon never had to say 429"
    );
    assert_eq!(t.calls("getOrder"), 38);
    assert_eq!(t.scan("orders").await.len(), 38);
}
