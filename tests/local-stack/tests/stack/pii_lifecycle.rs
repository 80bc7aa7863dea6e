//! The PII lifecycle on moto and the simulator, on the simulator's clock (which the tests
//! move): the purge on the day, a resumed run, deletion requests by order and by seller,
//! refusals, and the start-up refusal of more than 30 days.

use crate::common::{TestStack, s, stack};
use chrono::Duration;
use shared::aws::{DynamoAuditLog, DynamoControl, DynamoOrderStore};
use shared::kernel::AuditLog;
use shared::kernel::{AmazonOrderId, AuditKind, SubjectRequestId};
use shared::orders::OrderStore;
use shared::pii::DeletionLedger;
use shared::pii::{PiiState, PurgeReason};
use shared::sellers::SellerRegistry;
use spapi_sim::{OrderEvent, SimConfig};
use std::sync::atomic::{AtomicUsize, Ordering};

fn never() -> bool {
    false
}

/// Two sellers' orders taken in by a sweep.
async fn ingested(test: &str) -> TestStack {
    let t = stack(test, SimConfig::demo(2, 30, 4_040)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    t
}

/// `(seller_order, kind, pii_purge_at)` of every sealed item: a raw scan.
async fn sealed(t: &TestStack) -> Vec<(String, String, i64)> {
    let mut items: Vec<_> = t
        .scan("pii")
        .await
        .iter()
        .map(|i| {
            let due = i["pii_purge_at"].as_n().unwrap().parse().unwrap();
            (s(i, "seller_order"), s(i, "kind"), due)
        })
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn at_day_31_nothing_due_is_left_business_records_stay_and_a_second_run_changes_nothing() {
    let t = ingested("purge-day-31").await;
    let clock = t.amazon_time();
    let start = clock.now();
    let orders_before = t.scan("orders").await.len();
    let items_before = sealed(&t).await;
    assert!(!items_before.is_empty());
    // Each held record lists exactly the items the pii table holds for it: the redactor
    // deletes those by key.
    for o in t.scan("orders").await {
        if s(&o, "pii_state") != "held" {
            assert!(!o.contains_key("pii_kinds"));
            continue;
        }
        let key = format!("{}#{}", s(&o, "seller_id"), s(&o, "order_id"));
        let mut listed: Vec<String> = o["pii_kinds"]
            .as_l()
            .unwrap()
            .iter()
            .map(|k| k.as_s().unwrap().clone())
            .collect();
        listed.sort();
        let held: Vec<String> = items_before
            .iter()
            .filter(|(so, _, _)| *so == key)
            .map(|(_, kind, _)| kind.clone())
            .collect();
        assert_eq!(listed, held, "{key}");
    }
    let redactor = t.pii_redactor(clock.clone());

    // Day 0: nothing is due yet.
    let day0 = redactor.purge_run(&never).await.unwrap();
    assert_eq!(day0.orders_purged, 0, "{day0:?}");
    assert_eq!(sealed(&t).await, items_before);

    // Day 31; and orders placed on day 31 whose PII is not due for a month.
    t.sim.clock().advance(Duration::days(31));
    let seller = t.seller(0);
    let fresh = t.sim.place_orders(seller.as_str(), 3);
    for id in &fresh {
        t.sim.change_order(seller.as_str(), id, OrderEvent::Ship);
    }
    t.sim.clock().advance(Duration::minutes(5));
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    let report = redactor.purge_run(&never).await.unwrap();
    assert!(report.complete && report.orders_purged > 0, "{report:?}");
    assert_eq!(report.pii_past_due, 0, "{report:?}");
    assert_eq!(report.failures, 0, "{report:?}");

    // A raw scan: nothing due is left; what is left is the fresh orders' PII.
    let now = clock.now().timestamp();
    let left = sealed(&t).await;
    assert!(left.iter().all(|(_, _, due)| *due > now), "{left:?}");
    for id in &fresh {
        let key = format!("{seller}#{id}");
        assert!(
            left.iter().any(|(so, _, _)| *so == key),
            "{id} kept its PII"
        );
    }
    let were_due = items_before
        .iter()
        .filter(|(_, _, due)| *due <= now)
        .count();
    assert_eq!(report.pii_items_deleted, were_due as u64, "{report:?}");

    // Business records intact: every order, its lines, and the purge written on it.
    let orders = t.scan("orders").await;
    assert_eq!(orders.len(), orders_before + fresh.len());
    let store = DynamoOrderStore::new(t.dynamo(), t.stack.table("orders"));
    let mut purged = 0;
    for item in &orders {
        let (sid, oid) = (s(item, "seller_id"), s(item, "order_id"));
        let stored = store
            .load(
                &shared::kernel::SellerId::parse(sid).unwrap(),
                &AmazonOrderId::parse(oid).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.order.lines.is_empty());
        if let PiiState::Purged { reason, .. } = stored.pii.state {
            purged += 1;
            assert!(!item.contains_key("pii_purge_due"));
            assert!(matches!(
                reason,
                PurgeReason::Retention | PurgeReason::Canceled
            ));
        }
    }
    assert!(purged as u64 >= report.orders_purged);

    // One audit event per order purged.
    let audit = DynamoAuditLog::new(t.dynamo(), t.stack.table("audit"));
    let events = audit
        .between(start, clock.now() + Duration::minutes(1))
        .await
        .unwrap();
    let purges = events
        .iter()
        .filter(|e| e.kind == AuditKind::PiiPurge)
        .count();
    assert_eq!(purges as u64, report.orders_purged);
    assert!(events.iter().all(|e| e.actor == "pii-redactor"));

    // Again: nothing to do.
    let again = redactor.purge_run(&never).await.unwrap();
    assert_eq!(
        (
            again.orders_purged,
            again.pii_items_deleted,
            again.pii_past_due
        ),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(sealed(&t).await, left);
}

#[tokio::test]
async fn a_run_stopped_half_way_is_completed_by_the_next() {
    let t = ingested("purge-resumed").await;
    let clock = t.amazon_time();
    t.sim.clock().advance(Duration::days(45));
    let redactor = t.pii_redactor(clock.clone());
    let asked = AtomicUsize::new(0);
    // Out of time after three orders.
    let stop = || asked.fetch_add(1, Ordering::SeqCst) >= 3;
    let first = redactor.purge_run(&stop).await.unwrap();
    assert!(!first.complete, "{first:?}");
    assert_eq!(first.orders_purged, 3, "{first:?}");
    assert!(
        first.pii_past_due > 0,
        "the self-check sees what is left: {first:?}"
    );

    let second = redactor.purge_run(&never).await.unwrap();
    assert!(second.complete && second.orders_purged > 0, "{second:?}");
    assert_eq!(second.pii_past_due, 0, "{second:?}");
    let now = clock.now().timestamp();
    assert!(sealed(&t).await.iter().all(|(_, _, due)| *due > now));
}

#[tokio::test]
async fn a_seller_deletion_removes_its_pii_token_and_registry_entry_and_confirms_in_writing() {
    let t = ingested("delete-seller").await;
    let (gone, kept) = (t.seller(0), t.seller(1));
    let kept_items: Vec<_> = sealed(&t)
        .await
        .into_iter()
        .filter(|(so, _, _)| so.starts_with(&format!("{kept}#")))
        .collect();
    assert!(!kept_items.is_empty());
    let redactor = t.pii_redactor(t.amazon_time());
    let body = serde_json::json!({
        "request_id": "offboard-1", "scope": "seller", "seller_id": gone.as_str(),
        "requested_by": "operator@example.com",
    })
    .to_string();
    // Asked twice: one deletion, one confirmation.
    t.deliver_deletion_requests(&[body.clone(), body]).await;
    let report = t.pump_deletion_requests(&redactor).await;
    assert_eq!(
        (report.completed, report.already_completed),
        (1, 1),
        "{report:?}"
    );

    let left = sealed(&t).await;
    assert!(
        left.iter()
            .all(|(so, _, _)| !so.starts_with(&format!("{gone}#")))
    );
    assert_eq!(
        left.iter()
            .filter(|(so, _, _)| so.starts_with(&format!("{kept}#")))
            .count(),
        kept_items.len(),
        "the other seller's PII is untouched"
    );
    let secrets = aws_sdk_secretsmanager::Client::new(&t.sdk);
    let token = secrets
        .get_secret_value()
        .secret_id(format!("{}{gone}", t.stack.seller_secret_prefix))
        .send()
        .await;
    assert!(token.is_err(), "refresh token deleted");
    let control = DynamoControl::new(t.dynamo(), t.stack.table("control"));
    let active = control.active_sellers().await.unwrap();
    assert!(active.iter().all(|a| a.seller_id != gone));
    assert!(active.iter().any(|a| a.seller_id == kept));

    let confirmation = control
        .confirmation(&SubjectRequestId::parse("offboard-1").unwrap())
        .await
        .unwrap()
        .expect("confirmation reads back");
    assert!(confirmation.completed_at.is_some());
    assert!(confirmation.refresh_token_deleted && confirmation.registry_entry_removed);
    assert!(confirmation.orders_purged > 0 && confirmation.pii_items_deleted > 0);
    // Its orders' business records stay, marked deleted on request.
    let store = DynamoOrderStore::new(t.dynamo(), t.stack.table("orders"));
    let orders = t.scan("orders").await;
    let theirs: Vec<_> = orders
        .iter()
        .filter(|o| s(o, "seller_id") == gone.as_str())
        .collect();
    assert!(!theirs.is_empty());
    let mut deleted = 0;
    for o in theirs {
        let stored = store
            .load(&gone, &AmazonOrderId::parse(s(o, "order_id")).unwrap())
            .await
            .unwrap()
            .unwrap();
        deleted += usize::from(stored.pii.state.deleted_on_request());
    }
    assert_eq!(deleted as u64, confirmation.orders_purged);
}

#[tokio::test]
async fn an_order_deleted_on_request_is_never_sealed_again_and_bad_requests_reach_the_dlq() {
    let t = ingested("delete-order").await;
    let seller = t.seller(0);
    let held = sealed(&t)
        .await
        .into_iter()
        .find(|(so, _, _)| so.starts_with(&format!("{seller}#")))
        .expect("a sealed order");
    let order_id = held.0.split_once('#').unwrap().1.to_owned();
    let redactor = t.pii_redactor(t.amazon_time());
    t.deliver_deletion_requests(
        &[
            serde_json::json!({"request_id": "buyer-7", "scope": "order", "seller_id": seller.as_str(), "order_id": order_id, "requested_by": "ops"}).to_string(),
            // Not JSON; a field nobody knows (with a value that must not be echoed); the same
            // id for another scope.
            "delete everything of Odalys Brennan".to_owned(),
            serde_json::json!({"request_id": "x-1", "scope": "order", "seller_id": seller.as_str(), "order_id": order_id, "requested_by": "ops", "buyer_name": "Odalys Brennan"}).to_string(),
        ],
    )
    .await;
    let first = t.pump_deletion_requests(&redactor).await;
    assert_eq!((first.completed, first.dead_lettered), (1, 2), "{first:?}");
    t.deliver_deletion_requests(
        &[serde_json::json!({"request_id": "buyer-7", "scope": "seller", "seller_id": seller.as_str(), "requested_by": "ops"}).to_string()],
    )
    .await;
    let second = t.pump_deletion_requests(&redactor).await;
    assert_eq!(second.dead_lettered, 1, "{second:?}");
    let letters = t.queue_bodies("deletion-requests-dlq").await;
    let kinds: Vec<_> = letters
        .iter()
        .map(|l| l["reason_kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "malformed").count(),
        2,
        "{letters:?}"
    );
    assert!(
        kinds.iter().any(|k| k == "request_id_reused"),
        "{letters:?}"
    );
    let text = serde_json::to_string(&letters).unwrap();
    assert!(!text.contains("Odalys"), "{text}");

    let key = format!("{seller}#{order_id}");
    assert!(sealed(&t).await.iter().all(|(so, _, _)| *so != key));
    // Amazon changes the order later; intake takes it in again but seals nothing.
    t.sim
        .change_order(seller.as_str(), &order_id, OrderEvent::Ship);
    t.sim.clock().advance(Duration::minutes(5));
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    assert!(sealed(&t).await.iter().all(|(so, _, _)| *so != key));
}

#[test]
fn more_than_30_retention_days_refuses_to_start() {
    let mut env = vec![
        ("ORDERS_TABLE", "o"),
        ("PII_TABLE", "p"),
        ("CONTROL_TABLE", "c"),
        ("AUDIT_TABLE", "a"),
        ("DELETION_DLQ_URL", "http://127.0.0.1:1/q"),
        ("SELLER_SECRET_PREFIX", "fbm/sellers/"),
        ("RETENTION_DAYS", "30"),
    ];
    assert!(
        shared::lambda::pii_redactor::config::PiiRedactorConfig::from_env(
            &shared::lambda::Env::from_pairs(env.clone())
        )
        .is_ok()
    );
    env.pop();
    env.push(("RETENTION_DAYS", "31"));
    // The real binary, as Lambda would start it.
    let binary = local_stack::repo_root().join("target/debug/pii-redactor");
    let out = std::process::Command::new(&binary)
        .env_clear()
        .envs(env.iter().copied())
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1")
        .output()
        .expect("pii-redactor binary (cargo build --workspace --bins)");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("refusing to start") && text.contains("RETENTION_DAYS"),
        "{text}"
    );
}

#[tokio::test]
async fn a_purge_run_beside_intake_leaves_every_record_agreeing_with_the_pii_table() {
    let t = ingested("purge-beside-intake").await;
    let clock = t.amazon_time();
    // Forty days on, every shipped order's PII is due. Amazon reports parcels delivered only
    // now: intake takes those orders in again (a late delivery never moves the date on, so
    // intake purges their PII itself) while the redactor purges the same orders.
    t.sim.clock().advance(Duration::days(40));
    let mut delivered = Vec::new();
    for i in 0..2 {
        let seller = t.seller(i);
        for o in t
            .sim
            .orders_in(seller.as_str(), "SHIPPED")
            .into_iter()
            .take(8)
        {
            assert!(t.sim.change_order(seller.as_str(), &o, OrderEvent::Deliver));
            delivered.push(format!("{seller}#{o}"));
        }
    }
    assert!(!delivered.is_empty());
    t.sim.clock().advance(Duration::minutes(5));
    let redactor = t.pii_redactor(clock.clone());
    let sync = t.order_sync(100);
    let (run, _) = tokio::join!(
        redactor.purge_run(&never),
        crate::common::run_sync(&sync, serde_json::json!({}))
    );
    let run = run.unwrap();
    assert!(run.orders_purged > 0, "{run:?}");

    // Whatever the interleaving: a record says held exactly when the pii table holds its
    // items, and those are not yet due; a purged record has none.
    let now = clock.now().timestamp();
    let items = sealed(&t).await;
    for o in t.scan("orders").await {
        let key = format!("{}#{}", s(&o, "seller_id"), s(&o, "order_id"));
        let mine: Vec<_> = items.iter().filter(|(so, _, _)| *so == key).collect();
        if s(&o, "pii_state") == "held" {
            assert!(!mine.is_empty(), "{key} says held, holds nothing");
            assert!(mine.iter().all(|(_, _, due)| *due > now), "{key}: {mine:?}");
        } else {
            assert!(
                mine.is_empty(),
                "{key} says {}, holds {mine:?}",
                s(&o, "pii_state")
            );
        }
    }
    // The orders both writers went for: purged once, business record intact and delivered.
    let orders = t.scan("orders").await;
    for key in &delivered {
        assert!(
            items.iter().all(|(so, _, _)| so != key),
            "{key} still holds PII"
        );
        let o = orders
            .iter()
            .find(|o| format!("{}#{}", s(o, "seller_id"), s(o, "order_id")) == *key)
            .expect("business record kept");
        assert_eq!(s(o, "pii_state"), "purged", "{key}");
        assert!(o.contains_key("lines"), "{key}");
    }
    let again = redactor.purge_run(&never).await.unwrap();
    assert_eq!(
        (again.orders_purged, again.pii_past_due),
        (0, 0),
        "{again:?}"
    );
}
