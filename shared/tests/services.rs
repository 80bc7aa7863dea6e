//! The services against the in-memory ports of `shared::testkit`: intake, the catch-up sweep,
//! the notification handler and the PII redactor. No AWS, no network.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Duration, TimeZone, Utc};
use shared::kernel::{
    Address, AmazonOrderId, AuditKind, BuyerPii, MarketplaceId, OrderItemId, OrderPii, PiiKind,
    SellerId, Sku, StoreError, SubjectRequestId,
};
use shared::lambda::order_events::handle_notifications;
use shared::orders::notifications::EventSettings;
use shared::orders::sweep::{SweepOutcome, SweepRequest, SweepSettings};
use shared::orders::{
    AmazonError, FetchedOrder, Intake, Order, OrderLine, OrderStatus, Stored, StoredOrder,
};
use shared::pii::{
    DeletionLedger, DeletionOutcome, DeletionRequest, DeletionScope, HeldPii, Marked, OpenedPii,
    PiiOpener, PiiRecords, PiiRedactor, PiiState, PurgeReason, RedactorError,
};
use shared::sellers::SellerAccount;
use shared::stock::StockChangeKind;
use shared::testkit::{AmazonOp, BatchStep, Kit};
use std::sync::Mutex;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn seller(s: &str) -> SellerId {
    SellerId::parse(s).unwrap()
}

fn oid(n: u32) -> AmazonOrderId {
    AmazonOrderId::parse(format!("113-{n:07}-1234567")).unwrap()
}

fn account(s: &SellerId) -> SellerAccount {
    SellerAccount {
        seller_id: s.clone(),
        marketplace_ids: vec![MarketplaceId::parse("ATVPDKIKX0DER").unwrap()],
    }
}

/// An order last updated at `at`: ship by a day later, deliver by five days later, 2 units.
fn order(s: &SellerId, id: AmazonOrderId, status: OrderStatus, at: DateTime<Utc>) -> Order {
    Order {
        seller_id: s.clone(),
        order_id: id,
        marketplace_id: Some(MarketplaceId::parse("ATVPDKIKX0DER").unwrap()),
        status,
        created_at: at - Duration::hours(1),
        last_updated_at: at,
        ship_by: Some(at + Duration::days(1)),
        deliver_by: Some(at + Duration::days(5)),
        service_level: Some("Standard".into()),
        programs: vec![],
        lines: vec![OrderLine {
            order_item_id: OrderItemId::parse("OIID34853450").unwrap(),
            sku: Some(Sku::parse("SKU-CHAIR-1").unwrap()),
            asin: None,
            title: None,
            quantity_ordered: 2,
            quantity_shipped: 0,
            unit_price: None,
        }],
        packages: vec![],
        delivered_at: None,
        label_blocked: None,
        parcels: vec![],
    }
}

fn with_pii(order: Order) -> FetchedOrder {
    FetchedOrder {
        order,
        pii: OrderPii {
            buyer: Some(BuyerPii {
                name: Some("Harriet Q. Okafor".into()),
                email: Some("hq@example.org".into()),
                company_name: None,
            }),
            recipient: Some(Address {
                name: Some("Harriet Q. Okafor".into()),
                address_line1: Some("4821 Larkspur Ave".into()),
                city: Some("Seattle".into()),
                postal_code: Some("98101-4321".into()),
                country_code: Some("US".into()),
                ..Address::default()
            }),
        },
    }
}

fn stored(kit: &Kit, s: &SellerId, o: &AmazonOrderId) -> StoredOrder {
    kit.orders.stored(s, o).expect("order stored")
}

// ---------------------------------------------------------------------------------------
// Intake
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn intake_stores_a_new_order_seals_its_pii_and_reserves_stock_once() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    let o = order(
        &a,
        oid(1),
        OrderStatus::Unshipped,
        t0() - Duration::hours(1),
    );
    let fetched = with_pii(o.clone());

    let first = kit.intake().store(&fetched).await.unwrap();
    assert_eq!(first.stored, Stored::Inserted);
    assert_eq!(first.pii_items_sealed, 2);
    assert_eq!(first.stock_change, Some(StockChangeKind::Reserve));

    // The retention rule: 30 days after the latest promised delivery.
    let purge_at = o.deliver_by.unwrap() + Duration::days(30);
    let record = stored(&kit, &a, &o.order_id);
    assert_eq!(record.pii.state, PiiState::Held);
    assert_eq!(record.pii.purge_at, purge_at);
    assert_eq!(
        record.pii.sealed_kinds,
        vec![PiiKind::Buyer, PiiKind::Recipient]
    );
    assert_eq!(
        kit.vault.items(&a, &o.order_id),
        vec![(PiiKind::Buyer, purge_at), (PiiKind::Recipient, purge_at)]
    );
    let Some(OpenedPii::Recipient(to)) = kit
        .vault
        .open(&a, &o.order_id, PiiKind::Recipient)
        .await
        .unwrap()
    else {
        panic!("recipient not sealed")
    };
    assert_eq!(to.address_line1.unwrap().expose(), "4821 Larkspur Ave");

    let stock = kit.stock.published();
    assert_eq!(stock.len(), 1);
    assert_eq!(stock[0].kind, StockChangeKind::Reserve);
    assert_eq!(stock[0].lines[0].quantity, 2);
    assert_eq!(stock[0].change_id, "A1SELLER#113-0000001-1234567#reserve");

    // The same fetched order again, later: nothing changes.
    kit.clock.advance(Duration::hours(1));
    let again = kit.intake().store(&fetched).await.unwrap();
    assert_eq!(
        again,
        Intake {
            stored: Stored::Unchanged,
            pii_items_sealed: 0,
            pii_purged: false,
            stock_change: None,
        }
    );
    assert_eq!(stored(&kit, &a, &o.order_id), record, "record untouched");
    assert_eq!(kit.stock.published().len(), 1, "no second stock change");
    assert_eq!(kit.vault.seal_calls(), 1, "not sealed again");
    assert!(kit.audit.events().is_empty());
}

#[tokio::test]
async fn intake_of_a_cancel_purges_the_pii_releases_stock_and_audits_the_purge() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    let o = order(
        &a,
        oid(1),
        OrderStatus::Unshipped,
        t0() - Duration::hours(1),
    );
    kit.intake().store(&with_pii(o.clone())).await.unwrap();

    kit.clock.advance(Duration::hours(2));
    let canceled = Order {
        status: OrderStatus::Canceled,
        last_updated_at: t0() + Duration::hours(1),
        lines: vec![OrderLine {
            quantity_ordered: 1,
            ..o.lines[0].clone()
        }],
        ..o.clone()
    };
    // Amazon still sends the PII with the cancel: it is not sealed.
    let r = kit
        .intake()
        .store(&with_pii(canceled.clone()))
        .await
        .unwrap();
    assert_eq!(r.stored, Stored::Updated);
    assert!(r.pii_purged);
    assert_eq!(r.pii_items_sealed, 0);
    assert_eq!(r.stock_change, Some(StockChangeKind::Release));

    let now = kit.now();
    let record = stored(&kit, &a, &o.order_id);
    assert_eq!(record.order.status, OrderStatus::Canceled);
    assert_eq!(
        record.pii.state,
        PiiState::Purged {
            at: now,
            reason: PurgeReason::Canceled
        }
    );
    assert_eq!(record.pii.purge_at, now, "canceled orders purge at once");
    assert!(kit.vault.items(&a, &o.order_id).is_empty());

    let stock = kit.stock.published();
    assert_eq!(stock.len(), 2);
    assert_eq!(stock[1].kind, StockChangeKind::Release);
    assert_eq!(
        stock[1].lines[0].quantity, 2,
        "what was reserved comes back"
    );
    assert_eq!(stock[1].change_id, "A1SELLER#113-0000001-1234567#release");

    let purges = kit.audit.of_kind(AuditKind::PiiPurge);
    assert_eq!(purges.len(), 1);
    assert_eq!(purges[0].actor, "order-intake");
    assert_eq!(purges[0].purpose, "canceled");
    assert_eq!(purges[0].order_id.as_ref(), Some(&o.order_id));
    assert_eq!(purges[0].count, Some(2));

    // The cancel read again: no second release, no second purge event.
    kit.clock.advance(Duration::hours(1));
    let again = kit.intake().store(&with_pii(canceled)).await.unwrap();
    assert_eq!(again.stored, Stored::Unchanged);
    assert_eq!(kit.stock.published().len(), 2);
    assert_eq!(kit.audit.of_kind(AuditKind::PiiPurge).len(), 1);
}

#[tokio::test]
async fn intake_never_seals_again_the_pii_of_an_order_deleted_on_request() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    let o = order(
        &a,
        oid(1),
        OrderStatus::Unshipped,
        t0() - Duration::hours(1),
    );
    kit.intake().store(&with_pii(o.clone())).await.unwrap();
    let outcome = kit
        .redactor()
        .delete(
            &deletion("del-1", &a, &o.order_id),
            &kit.deletions,
            &kit.credentials,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, DeletionOutcome::Completed(_)));
    assert!(kit.vault.items(&a, &o.order_id).is_empty());

    // Amazon sends a later version, PII and all.
    kit.clock.advance(Duration::days(1));
    let shipped = Order {
        status: OrderStatus::Shipped,
        last_updated_at: kit.now() - Duration::hours(1),
        ..o.clone()
    };
    let r = kit.intake().store(&with_pii(shipped)).await.unwrap();
    assert_eq!(r.stored, Stored::Updated);
    assert_eq!(r.pii_items_sealed, 0);
    assert!(kit.vault.items(&a, &o.order_id).is_empty());
    assert_eq!(kit.vault.seal_calls(), 1, "only the first intake sealed");
    let record = stored(&kit, &a, &o.order_id);
    assert_eq!(record.order.status, OrderStatus::Shipped);
    assert!(record.pii.state.deleted_on_request(), "{:?}", record.pii);
    assert!(kit.audit.of_kind(AuditKind::PiiPurge).is_empty());
}

// ---------------------------------------------------------------------------------------
// The catch-up sweep
// ---------------------------------------------------------------------------------------

fn sweep_settings() -> SweepSettings {
    SweepSettings {
        page_size: 2,
        first_lookback: Duration::days(7),
        seller_concurrency: 2,
        overlap: Duration::minutes(10),
    }
}

/// Five orders of `s` updated 1 to 5 hours ago (ids `first..first+5`).
fn five_orders(kit: &Kit, s: &SellerId, first: u32) {
    for i in 0..5 {
        let at = t0() - Duration::hours(i64::from(i) + 1);
        kit.amazon.put(with_pii(order(
            s,
            oid(first + i),
            OrderStatus::Unshipped,
            at,
        )));
    }
}

fn pages(n: u32) -> SweepRequest {
    SweepRequest {
        max_pages: Some(n),
        ..SweepRequest::default()
    }
}

#[tokio::test]
async fn a_first_sweep_stores_every_order_of_the_lookback_window_and_completes() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    five_orders(&kit, &a, 1);
    // Before the lookback, and too fresh for Amazon to serve yet.
    let old = order(&a, oid(6), OrderStatus::Unshipped, t0() - Duration::days(8));
    let fresh = order(
        &a,
        oid(7),
        OrderStatus::Unshipped,
        t0() - Duration::minutes(1),
    );
    kit.amazon.put(with_pii(old));
    kit.amazon.put(with_pii(fresh));

    let report = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    let s = &report.sellers[0];
    assert_eq!(s.outcome, SweepOutcome::Complete);
    assert_eq!((s.pages, s.orders_stored), (3, 5));
    assert_eq!((s.pii_items_sealed, s.stock_changes), (10, 5));
    assert_eq!(report.sellers_failed, 0);
    for i in 1..=5 {
        assert!(kit.orders.stored(&a, &oid(i)).is_some(), "order {i}");
    }
    assert!(kit.orders.stored(&a, &oid(6)).is_none());
    assert!(kit.orders.stored(&a, &oid(7)).is_none());

    let searches = kit.amazon.searches(&a);
    assert_eq!(searches.len(), 3);
    assert_eq!(searches[0].updated_after, t0() - Duration::days(7));
    assert_eq!(searches[0].updated_before, t0() - Duration::minutes(2));
    assert_eq!(searches[0].page, None);
    let cp = kit.checkpoints.get(&a).unwrap().value;
    assert_eq!(cp.synced_until, Some(t0() - Duration::minutes(2)));
    assert_eq!(cp.in_progress, None);

    // At once again: nothing new, not even a call.
    let again = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    assert_eq!(again.sellers[0].outcome, SweepOutcome::Complete);
    assert_eq!(kit.amazon.calls(AmazonOp::SearchOrders), 3);

    // An hour on: the next window reaches back its overlap and takes the order that was too
    // fresh, and nothing older.
    kit.clock.advance(Duration::hours(1));
    let later = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    assert_eq!(later.sellers[0].orders_stored, 1);
    assert!(kit.orders.stored(&a, &oid(7)).is_some());
    let last = kit.amazon.searches(&a).pop().unwrap();
    assert_eq!(
        last.updated_after,
        t0() - Duration::minutes(2) - Duration::minutes(10)
    );
    assert_eq!(kit.stock.published().len(), 6, "no order reserved twice");
}

#[tokio::test]
async fn a_sweep_cut_by_max_pages_pauses_and_the_next_run_resumes_from_the_stored_page() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    five_orders(&kit, &a, 1);

    let first = kit.sweep(sweep_settings()).run(&pages(1)).await.unwrap();
    let s = &first.sellers[0];
    assert_eq!(s.outcome, SweepOutcome::Paused);
    assert_eq!((s.pages, s.orders_stored), (1, 2));
    let cp = kit.checkpoints.get(&a).unwrap().value;
    assert_eq!(cp.synced_until, None);
    let window = cp.in_progress.expect("a window in progress");
    assert_eq!(window.pages_stored, 1);
    let token = window.next_page.clone().expect("the next page kept");

    // Later, the same window goes on from the stored page.
    kit.clock.advance(Duration::minutes(30));
    let second = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    let s = &second.sellers[0];
    assert_eq!(s.outcome, SweepOutcome::Complete);
    assert_eq!((s.pages, s.orders_stored, s.orders_unchanged), (2, 3, 0));

    let searches = kit.amazon.searches(&a);
    assert_eq!(searches.len(), 3, "no page read twice");
    assert_eq!(searches[1].page.as_ref(), Some(&token));
    assert_eq!(searches[1].updated_after, window.updated_after);
    assert_eq!(searches[1].updated_before, window.updated_before);
    assert_eq!(kit.orders.len(), 5);
    assert_eq!(kit.stock.published().len(), 5);
    let cp = kit.checkpoints.get(&a).unwrap().value;
    assert_eq!(cp.synced_until, Some(window.updated_before));
    assert_eq!(cp.in_progress, None);
}

#[tokio::test]
async fn an_expired_page_token_restarts_the_window_from_its_first_page() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    five_orders(&kit, &a, 1);
    kit.sweep(sweep_settings()).run(&pages(1)).await.unwrap();
    let window = kit.checkpoints.get(&a).unwrap().value.in_progress.unwrap();

    // A day later Amazon no longer knows the token.
    kit.clock.advance(Duration::hours(25));
    kit.amazon.expire_page_tokens();
    let report = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    let s = &report.sellers[0];
    assert_eq!(s.outcome, SweepOutcome::Complete);
    assert_eq!(s.pages, 3, "the whole window read again");
    assert_eq!(
        (s.orders_stored, s.orders_unchanged),
        (3, 2),
        "the first page's orders come back unchanged"
    );

    let searches = kit.amazon.searches(&a);
    assert_eq!(searches.len(), 5);
    assert_eq!(searches[1].page, window.next_page, "the refused token");
    assert_eq!(searches[2].page, None, "then the first page");
    assert_eq!(searches[2].updated_after, window.updated_after);
    assert_eq!(searches[2].updated_before, window.updated_before);
    let cp = kit.checkpoints.get(&a).unwrap().value;
    assert_eq!(cp.synced_until, Some(window.updated_before));
    assert_eq!(kit.stock.published().len(), 5, "no order reserved twice");
}

#[tokio::test]
async fn a_spent_rate_budget_pauses_its_seller_and_the_others_complete() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    let b = seller("B1SELLER");
    kit.sellers.add(account(&a));
    kit.sellers.add(account(&b));
    five_orders(&kit, &a, 1);
    five_orders(&kit, &b, 11);
    kit.amazon.fail_next(
        AmazonOp::SearchOrders,
        &a,
        AmazonError::BudgetExhausted {
            operation: "searchOrders",
            seller_id: a.clone(),
            retry_after_ms: 60_000,
            reserved_at: None,
        },
    );

    let report = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    assert_eq!(report.sellers_failed, 0);
    let (ra, rb) = (&report.sellers[0], &report.sellers[1]);
    assert_eq!(ra.seller_id, a);
    assert_eq!(ra.outcome, SweepOutcome::Paused);
    assert_eq!(ra.error_kind, Some("budget_exhausted"));
    assert_eq!((ra.pages, ra.orders_stored), (0, 0));
    assert_eq!(rb.outcome, SweepOutcome::Complete);
    assert_eq!(rb.orders_stored, 5);
    // A's window holds for the next run.
    let held = kit.checkpoints.get(&a).unwrap().value;
    assert_eq!(held.synced_until, None);
    let window = held.in_progress.expect("window kept");
    assert_eq!(window.next_page, None);

    let next = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    assert_eq!(next.sellers[0].outcome, SweepOutcome::Complete);
    assert_eq!(next.sellers[0].orders_stored, 5);
    let last = kit.amazon.searches(&a).pop().unwrap();
    assert_eq!(last.updated_after, window.updated_after);
}

#[tokio::test]
async fn a_failing_seller_is_reported_failed_and_never_stops_the_others() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    let b = seller("B1SELLER");
    kit.sellers.add(account(&a));
    kit.sellers.add(account(&b));
    five_orders(&kit, &b, 11);
    kit.amazon.fail_next(
        AmazonOp::SearchOrders,
        &a,
        AmazonError::Transient {
            operation: "searchOrders",
            seller_id: a.clone(),
            detail: "HTTP 503".into(),
            attempts: 3,
        },
    );
    let report = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    assert_eq!(report.sellers_failed, 1);
    assert_eq!(report.sellers[0].outcome, SweepOutcome::Failed);
    assert_eq!(report.sellers[0].error_kind, Some("transient"));
    assert_eq!(report.sellers[1].outcome, SweepOutcome::Complete);
    assert_eq!(report.orders_stored, 5);
}

#[tokio::test]
async fn a_refused_first_page_fails_its_seller_instead_of_asking_again_for_ever() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    five_orders(&kit, &a, 1);
    // Only a page token can expire; this refusal comes with none.
    kit.amazon.fail_next(
        AmazonOp::SearchOrders,
        &a,
        AmazonError::PageTokenExpired {
            seller_id: a.clone(),
        },
    );
    let report = kit
        .sweep(sweep_settings())
        .run(&SweepRequest::default())
        .await
        .unwrap();
    assert_eq!(report.sellers[0].outcome, SweepOutcome::Failed);
    assert_eq!(report.sellers[0].error_kind, Some("page_token_expired"));
    assert_eq!(kit.amazon.calls(AmazonOp::SearchOrders), 1);
}

// ---------------------------------------------------------------------------------------
// ORDER_CHANGE notifications
// ---------------------------------------------------------------------------------------

const NOTIFIED_SELLER: &str = "A3TH9S8BH6GOGM";
const NOTIFIED_ORDER: &str = "903-8868176-2219830";

/// A message body as `parse_order_change` reads it (its own tests' one sample).
fn body(notification_id: &str, seller_id: &str, order_id: &str, status: &str) -> String {
    shared::orders::order_change::sample(notification_id, seller_id, order_id, status).to_string()
}

fn message(id: &str, body: String) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.into());
    m.receipt_handle = Some(format!("rh-{id}"));
    m.body = Some(body);
    m
}

/// A kit with the notified seller registered and its order at Amazon.
fn notified_kit() -> (Kit, SellerId, AmazonOrderId) {
    let kit = Kit::at(t0());
    let s = seller(NOTIFIED_SELLER);
    let o = AmazonOrderId::parse(NOTIFIED_ORDER).unwrap();
    kit.sellers.add(account(&s));
    kit.amazon.put(with_pii(order(
        &s,
        o.clone(),
        OrderStatus::Unshipped,
        t0() - Duration::hours(1),
    )));
    (kit, s, o)
}

#[tokio::test]
async fn a_duplicate_notification_is_processed_once() {
    let (kit, s, o) = notified_kit();
    let n = "d0e9e693-c3ad-4373-979f-ed4ec98dd746";
    // Amazon delivered the notification twice: two SQS messages, one NotificationId.
    let copies = [
        message("m-1", body(n, NOTIFIED_SELLER, NOTIFIED_ORDER, "Unshipped")),
        message("m-2", body(n, NOTIFIED_SELLER, NOTIFIED_ORDER, "Unshipped")),
    ];
    let report = handle_notifications(
        &kit.events(EventSettings::default()),
        &kit.queue,
        copies.to_vec(),
    )
    .await;
    assert_eq!(report.messages, 2);
    assert_eq!(report.notifications_processed, 1);
    assert_eq!(report.orders_inserted, 1);
    assert_eq!(report.duplicate_notifications_ignored, 1);
    assert!(report.keep.is_empty());
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrder), 1);
    assert!(kit.claims.get(n).unwrap().done);
    assert!(kit.orders.stored(&s, &o).is_some());

    // SQS redelivers the first copy later: still a duplicate.
    kit.clock.advance(Duration::minutes(10));
    let again = handle_notifications(
        &kit.events(EventSettings::default()),
        &kit.queue,
        copies[..1].to_vec(),
    )
    .await;
    assert_eq!(again.duplicate_notifications_ignored, 1);
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrder), 1);
    assert_eq!(kit.stock.published().len(), 1);
}

#[tokio::test]
async fn malformed_bodies_and_unknown_sellers_are_dead_lettered_with_ids_only() {
    let (kit, _, _) = notified_kit();
    let batch = [
        message(
            "m-bad",
            r#"{"NotificationType": "ORDER_CHANGE", "Secret": "Marisol"#.into(),
        ),
        message(
            "m-stranger",
            body("n-2", "A9STRANGER", NOTIFIED_ORDER, "Unshipped"),
        ),
    ];
    let report = handle_notifications(
        &kit.events(EventSettings::default()),
        &kit.queue,
        batch.to_vec(),
    )
    .await;
    assert_eq!(report.dead_lettered, 2);
    assert!(
        report.keep.is_empty(),
        "dead-lettered messages leave the queue"
    );
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrder), 0);
    assert_eq!(
        kit.claims.get("n-2"),
        None,
        "no claim for an unknown seller"
    );

    let letters = kit.queue.dead_letters();
    let letter = |id: &str| letters.iter().find(|l| l.message_id == id).unwrap();
    let bad = letter("m-bad");
    assert_eq!(bad.reason_kind, "malformed");
    assert_eq!(
        (&bad.notification_id, &bad.seller_id, &bad.order_id),
        (&None, &None, &None)
    );
    let stranger = letter("m-stranger");
    assert_eq!(stranger.reason_kind, "unknown_seller");
    assert_eq!(stranger.notification_id.as_deref(), Some("n-2"));
    assert_eq!(stranger.seller_id, Some(seller("A9STRANGER")));
    assert_eq!(
        stranger.order_id.as_ref().map(|o| o.as_str()),
        Some(NOTIFIED_ORDER)
    );
    for l in &letters {
        let text = serde_json::to_string(l).unwrap();
        assert!(!text.contains("Marisol"), "{text}");
        assert!(!text.contains("98101"), "{text}");
    }
}

/// The data keys are asked for while the orders are fetched, for the orders notified in a
/// status that comes with PII, and sealing takes each of them: none for a pending order.
#[tokio::test]
async fn data_keys_are_asked_for_ahead_for_the_orders_that_come_with_pii() {
    let (kit, s, o) = notified_kit();
    let second = AmazonOrderId::parse("903-8868176-2219831").unwrap();
    let pending = AmazonOrderId::parse("903-8868176-2219832").unwrap();
    kit.amazon.put(with_pii(order(
        &s,
        second.clone(),
        OrderStatus::Unshipped,
        t0() - Duration::hours(1),
    )));
    kit.amazon.put(FetchedOrder {
        order: order(
            &s,
            pending.clone(),
            OrderStatus::Pending,
            t0() - Duration::hours(1),
        ),
        pii: OrderPii::default(),
    });
    let batch = [
        message("m-1", body("n-1", NOTIFIED_SELLER, o.as_str(), "Unshipped")),
        message(
            "m-2",
            body("n-2", NOTIFIED_SELLER, second.as_str(), "Unshipped"),
        ),
        message(
            "m-3",
            body("n-3", NOTIFIED_SELLER, pending.as_str(), "Pending"),
        ),
    ];
    let report = handle_notifications(
        &kit.events(EventSettings::default()),
        &kit.queue,
        batch.to_vec(),
    )
    .await;
    assert_eq!(report.orders_inserted, 3);
    let (asked, taken) = kit.vault.keys_ahead();
    assert_eq!(asked, vec![(s.clone(), o), (s, second)]);
    assert_eq!(taken, 2, "sealing took every key asked for ahead");
}

/// The registry, read while the batch is claimed, cannot be read: every message it would
/// decide stays on the queue and nothing is fetched; a malformed one is dead-lettered all the
/// same. Redelivered once it reads again, each message takes up the claim it holds.
#[tokio::test]
async fn an_unreadable_seller_registry_keeps_the_batch_for_its_redelivery() {
    let (kit, _, _) = notified_kit();
    let batch = [
        message("m-bad", r#"{"NotificationType": "ORDER_CHANGE""#.into()),
        message(
            "m-1",
            body("n-1", NOTIFIED_SELLER, NOTIFIED_ORDER, "Unshipped"),
        ),
    ];
    kit.sellers.set_unreadable(true);
    let events = kit.events(EventSettings::default());
    let report = handle_notifications(&events, &kit.queue, batch.to_vec()).await;
    assert_eq!((report.dead_lettered, report.retried), (1, 1));
    assert_eq!(report.keep, vec!["m-1".to_owned()]);
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrder), 0);
    let holder = kit.claims.get("n-1").and_then(|c| c.holder).map(|(m, _)| m);
    assert_eq!(
        holder.as_deref(),
        Some("m-1"),
        "claimed while the registry was read"
    );

    kit.sellers.set_unreadable(false);
    let report = handle_notifications(&events, &kit.queue, batch[1..].to_vec()).await;
    assert_eq!(report.orders_inserted, 1);
    assert!(report.keep.is_empty());
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrder), 1);
}

#[tokio::test]
async fn a_spent_rate_budget_defers_the_message_instead_of_failing_it() {
    let (kit, s, o) = notified_kit();
    let n = "n-budget";
    let reserved_at = t0() + Duration::milliseconds(2500);
    kit.amazon.fail_next(
        AmazonOp::GetOrder,
        &s,
        AmazonError::BudgetExhausted {
            operation: "getOrder",
            seller_id: s.clone(),
            retry_after_ms: 2500,
            reserved_at: Some(reserved_at),
        },
    );
    let m = [message(
        "m-1",
        body(n, NOTIFIED_SELLER, NOTIFIED_ORDER, "Unshipped"),
    )];

    let report = handle_notifications(
        &kit.events(EventSettings::default()),
        &kit.queue,
        m.to_vec(),
    )
    .await;
    assert_eq!(
        (report.deferred, report.retried, report.dead_lettered),
        (1, 0, 0)
    );
    assert_eq!(report.keep, vec!["m-1".to_owned()]);
    assert_eq!(
        kit.queue.deferred(),
        vec![("rh-m-1".to_owned(), std::time::Duration::from_secs(3))],
        "back when its place is due, in whole seconds"
    );
    let claim = kit.claims.get(n).unwrap();
    assert_eq!(claim.failures, 0, "a deferral is not a failed attempt");
    assert_eq!(claim.reserved_at, Some(reserved_at));
    assert_eq!(claim.holder, None);
    assert!(kit.queue.dead_letters().is_empty());

    // Back too early: waits out its place without calling Amazon.
    let early = handle_notifications(
        &kit.events(EventSettings::default()),
        &kit.queue,
        m.to_vec(),
    )
    .await;
    assert_eq!(early.deferred, 1);
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrder), 1);
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrderReserved), 0);

    // Back on time: processed on the token set aside for it.
    kit.clock.advance(Duration::seconds(3));
    let done = handle_notifications(
        &kit.events(EventSettings::default()),
        &kit.queue,
        m.to_vec(),
    )
    .await;
    assert_eq!(done.orders_inserted, 1);
    assert!(done.keep.is_empty());
    assert_eq!(kit.amazon.calls(AmazonOp::GetOrderReserved), 1);
    let claim = kit.claims.get(n).unwrap();
    assert!(claim.done);
    assert_eq!(claim.failures, 0);
    assert!(kit.orders.stored(&s, &o).is_some());
}

/// A batch of five notifications of five new orders whose third fails at `step`: the
/// batch's answer and the kit, for the assertions of each step.
async fn batch_failing_in_the_middle_at(
    step: BatchStep,
) -> (Kit, SellerId, Vec<AmazonOrderId>, Vec<SqsMessage>) {
    let kit = Kit::at(t0());
    let s = seller(NOTIFIED_SELLER);
    kit.sellers.add(account(&s));
    let orders: Vec<AmazonOrderId> = (1..=5).map(oid).collect();
    let batch: Vec<SqsMessage> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            kit.amazon.put(with_pii(order(
                &s,
                o.clone(),
                OrderStatus::Unshipped,
                t0() - Duration::hours(1),
            )));
            message(
                &format!("m-{}", i + 1),
                body(
                    &format!("n-{}", i + 1),
                    NOTIFIED_SELLER,
                    o.as_str(),
                    "Unshipped",
                ),
            )
        })
        .collect();
    let id = match step {
        BatchStep::Claim | BatchStep::Complete => "n-3".to_owned(),
        _ => orders[2].to_string(),
    };
    kit.faults.fail(step, &id);
    (kit, s, orders, batch)
}

#[tokio::test]
async fn one_message_failing_in_the_middle_of_each_batched_step_alone_stays_on_the_queue() {
    for step in [
        BatchStep::Claim,
        BatchStep::Fetch,
        BatchStep::Load,
        BatchStep::Seal,
        BatchStep::Stock,
        BatchStep::Save,
    ] {
        let (kit, s, orders, batch) = batch_failing_in_the_middle_at(step).await;
        let events = kit.events(EventSettings::default());
        let report = handle_notifications(&events, &kit.queue, batch.clone()).await;
        assert_eq!(report.keep, vec!["m-3".to_owned()], "{step:?}: {report:?}");
        // A stock change goes out only for an order whose PII step went through: of the
        // failing order, only when its record's write failed (announced before it).
        let announced = if step == BatchStep::Save { 5 } else { 4 };
        assert_eq!(kit.stock.published().len(), announced, "{step:?}");
        assert_eq!(
            (report.orders_inserted, report.retried, report.dead_lettered),
            (4, 1, 0),
            "{step:?}: {report:?}"
        );
        for (i, o) in orders.iter().enumerate() {
            let n = format!("n-{}", i + 1);
            let done = kit.claims.get(&n).is_some_and(|c| c.done);
            let stored = kit.orders.stored(&s, o).is_some();
            assert_eq!((done, stored), (i != 2, i != 2), "{step:?}: order {o}");
        }
        // What was stored before the failing step stays within the order's own guarantees:
        // its PII and its stock change may be there (before the record), never its record.
        let sealed_of_others = orders
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .all(|(_, o)| kit.vault.items(&s, o).len() == 2);
        assert!(sealed_of_others, "{step:?}");

        // The message comes back, alone, and is stored: nothing of the first try is repeated
        // in a way that shows (one stock change per order, by change id).
        let again = handle_notifications(&events, &kit.queue, vec![batch[2].clone()]).await;
        assert!(again.keep.is_empty(), "{step:?}: {again:?}");
        assert_eq!(again.orders_inserted, 1, "{step:?}: {again:?}");
        assert!(kit.claims.get("n-3").unwrap().done, "{step:?}");
        assert_eq!(kit.vault.items(&s, &orders[2]).len(), 2, "{step:?}");
        let changes: std::collections::BTreeSet<String> = kit
            .stock
            .published()
            .into_iter()
            .map(|c| c.change_id)
            .collect();
        assert_eq!(changes.len(), 5, "{step:?}: one reserve per order");
        assert_eq!(kit.orders.len(), 5, "{step:?}");
    }
}

#[tokio::test]
async fn a_notification_not_marked_done_in_the_batch_is_still_done_and_a_copy_changes_nothing() {
    let (kit, s, orders, batch) = batch_failing_in_the_middle_at(BatchStep::Complete).await;
    let events = kit.events(EventSettings::default());
    let report = handle_notifications(&events, &kit.queue, batch.clone()).await;
    // Stored: the message leaves the queue; only its claim was not marked.
    assert!(report.keep.is_empty(), "{report:?}");
    assert_eq!(report.orders_inserted, 5);
    assert!(kit.orders.stored(&s, &orders[2]).is_some());
    assert!(!kit.claims.get("n-3").unwrap().done);
    // A copy Amazon sends again finds the order stored and changes nothing.
    kit.clock.advance(Duration::minutes(10));
    let copy = handle_notifications(&events, &kit.queue, vec![batch[2].clone()]).await;
    assert_eq!(copy.orders_unchanged, 1, "{copy:?}");
    assert_eq!(kit.stock.published().len(), 5);
    assert!(kit.claims.get("n-3").unwrap().done);
}

// ---------------------------------------------------------------------------------------
// The PII redactor
// ---------------------------------------------------------------------------------------

fn deletion(id: &str, s: &SellerId, o: &AmazonOrderId) -> DeletionRequest {
    DeletionRequest {
        request_id: SubjectRequestId::parse(id).unwrap(),
        scope: DeletionScope::Order {
            seller_id: s.clone(),
            order_id: o.clone(),
        },
        requested_by: "privacy-desk".into(),
        received_at: None,
    }
}

/// An order of `s` whose PII is due `deliver_in` days after t0 plus the 30 days.
async fn held_order(kit: &Kit, s: &SellerId, id: AmazonOrderId, deliver_in: i64) -> Order {
    let o = Order {
        deliver_by: Some(t0() + Duration::days(deliver_in)),
        ..order(s, id, OrderStatus::Unshipped, t0() - Duration::hours(1))
    };
    kit.intake().store(&with_pii(o.clone())).await.unwrap();
    o
}

#[tokio::test]
async fn the_purge_takes_only_the_pii_past_its_date() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    let due = held_order(&kit, &a, oid(1), 5).await; // purge at t0 + 35 days
    let later = held_order(&kit, &a, oid(2), 20).await; // purge at t0 + 50 days

    kit.clock.advance(Duration::days(40));
    let report = kit.redactor().purge_due(&|| false).await.unwrap();
    assert_eq!(report.orders_purged, 1);
    assert_eq!(report.pii_items_deleted, 2);
    assert_eq!(report.pii_past_due, 0, "the self-check finds nothing left");
    assert_eq!((report.failures, report.orders_moved_on), (0, 0));
    assert!(report.complete);

    assert!(kit.vault.items(&a, &due.order_id).is_empty());
    assert_eq!(
        stored(&kit, &a, &due.order_id).pii.state,
        PiiState::Purged {
            at: kit.now(),
            reason: PurgeReason::Retention
        }
    );
    assert_eq!(kit.vault.items(&a, &later.order_id).len(), 2);
    assert_eq!(stored(&kit, &a, &later.order_id).pii.state, PiiState::Held);
    let purges = kit.audit.of_kind(AuditKind::PiiPurge);
    assert_eq!(purges.len(), 1);
    assert_eq!(
        (purges[0].actor.as_str(), purges[0].purpose.as_str()),
        ("pii-redactor", "retention")
    );
    assert_eq!(purges[0].order_id.as_ref(), Some(&due.order_id));
    assert_eq!(purges[0].count, Some(2));

    // The next run has nothing to do.
    let next = kit.redactor().purge_due(&|| false).await.unwrap();
    assert_eq!((next.orders_purged, next.pii_items_deleted), (0, 0));
    assert_eq!(kit.audit.of_kind(AuditKind::PiiPurge).len(), 1);
}

#[tokio::test]
async fn a_deletion_request_is_carried_out_once_and_asking_again_returns_its_confirmation() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    let o = held_order(&kit, &a, oid(1), 5).await;
    let request = deletion("del-1", &a, &o.order_id);

    let DeletionOutcome::Completed(done) = kit
        .redactor()
        .delete(&request, &kit.deletions, &kit.credentials)
        .await
        .unwrap()
    else {
        panic!("not carried out")
    };
    assert_eq!((done.orders_purged, done.pii_items_deleted), (1, 2));
    assert_eq!(done.completed_at, Some(t0()));
    assert!(!done.refresh_token_deleted && !done.registry_entry_removed);
    assert!(kit.vault.items(&a, &o.order_id).is_empty());
    assert!(stored(&kit, &a, &o.order_id).pii.state.deleted_on_request());
    assert!(
        kit.sellers.contains(&a),
        "an order's deletion keeps the seller"
    );
    let audit_kinds = |k| kit.audit.of_kind(k).len();
    assert_eq!(audit_kinds(AuditKind::DeletionRequested), 1);
    assert_eq!(audit_kinds(AuditKind::PiiDeletion), 1);
    assert_eq!(audit_kinds(AuditKind::DeletionCompleted), 1);

    kit.clock.advance(Duration::hours(1));
    let again = kit
        .redactor()
        .delete(&request, &kit.deletions, &kit.credentials)
        .await
        .unwrap();
    assert_eq!(again, DeletionOutcome::AlreadyCompleted(done.clone()));
    assert_eq!(
        kit.deletions
            .confirmation(&request.request_id)
            .await
            .unwrap(),
        Some(done)
    );
    assert_eq!(
        kit.audit.events().len(),
        3,
        "nothing done or recorded again"
    );

    // The same id for another order is refused.
    let reused = deletion("del-1", &a, &oid(2));
    let err = kit
        .redactor()
        .delete(&reused, &kit.deletions, &kit.credentials)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RedactorError::RequestIdReused { .. }),
        "{err}"
    );
}

/// The orders' records as a redactor saw them a moment ago: its first read of the due orders
/// is `stale`, everything else the real records.
struct SeenEarlier<'a> {
    records: &'a dyn PiiRecords,
    stale: Mutex<Option<Vec<HeldPii>>>,
}

#[async_trait]
impl PiiRecords for SeenEarlier<'_> {
    async fn held_pii(
        &self,
        seller: &SellerId,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HeldPii>, StoreError> {
        let stale = self.stale.lock().unwrap().take();
        match stale {
            Some(s) => Ok(s),
            None => self.records.held_pii(seller, until, limit).await,
        }
    }

    async fn mark_pii_purged(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        reason: PurgeReason,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError> {
        self.records
            .mark_pii_purged(seller, order, reason, at)
            .await
    }
}

#[tokio::test]
async fn pii_that_intake_resealed_with_a_later_date_is_not_purged() {
    let kit = Kit::at(t0());
    let a = seller("A1SELLER");
    kit.sellers.add(account(&a));
    let o = held_order(&kit, &a, oid(1), 5).await; // due at t0 + 35 days

    kit.clock.advance(Duration::days(36));
    let now = kit.now();
    let seen = kit.orders.held_pii(&a, now, 1000).await.unwrap();
    assert_eq!(seen.len(), 1, "due when the redactor looked");

    // Meanwhile Amazon moves the delivery date on, and intake seals with the later date.
    let moved = Order {
        deliver_by: Some(t0() + Duration::days(40)),
        last_updated_at: now - Duration::hours(1),
        ..o.clone()
    };
    let r = kit.intake().store(&with_pii(moved)).await.unwrap();
    assert_eq!(r.pii_items_sealed, 2);
    let new_date = t0() + Duration::days(70);

    let records = SeenEarlier {
        records: &kit.orders,
        stale: Mutex::new(Some(seen)),
    };
    let redactor = PiiRedactor {
        records: &records,
        ..kit.redactor()
    };
    let report = redactor.purge_due(&|| false).await.unwrap();
    assert_eq!(report.orders_moved_on, 1);
    assert_eq!((report.orders_purged, report.pii_items_deleted), (0, 0));
    assert_eq!(report.pii_past_due, 0);

    assert_eq!(
        kit.vault.items(&a, &o.order_id),
        vec![(PiiKind::Buyer, new_date), (PiiKind::Recipient, new_date)]
    );
    let record = stored(&kit, &a, &o.order_id);
    assert_eq!(record.pii.state, PiiState::Held);
    assert_eq!(record.pii.purge_at, new_date);
    assert!(kit.audit.of_kind(AuditKind::PiiPurge).is_empty());

    // A plain run, with the records as they are now, leaves it too.
    let plain = kit.redactor().purge_due(&|| false).await.unwrap();
    assert_eq!(plain.orders_purged, 0);
    assert_eq!(kit.vault.items(&a, &o.order_id).len(), 2);
}
