//! After the label, on moto and the simulator through label-worker's handler: a bought label
//! voided once however often it is asked, its document gone, the order back to Packed, the
//! void audited, and a label bought again under a new key; a label the carrier has collected
//! cannot be voided. Own-carrier packages confirmed with Orders v0 once per package, and bad
//! carriers, unknown items and canceled orders refused before any call.

use crate::common::{TestStack, stack};
use crate::labels::{job, ledger, opened_label, sqs_event, write_settings};
use crate::pii_vault::vault;
use shared::aws::{DynamoAuditLog, DynamoOrderStore};
use shared::kernel::{AmazonOrderId, AuditKind, AuditLog, PiiKind, SellerId};
use shared::labels::{PackageId, PurchaseEntry, PurchaseLedger};
use shared::orders::{OrderStatus, OrderStore, StoredOrder};
use shared::pii::PiiOpener;
use spapi_sim::SimConfig;
use std::collections::BTreeMap;

async fn stored(t: &TestStack, seller: &SellerId, id: &str) -> StoredOrder {
    DynamoOrderStore::new(t.dynamo(), t.stack.table("orders"))
        .load(seller, &AmazonOrderId::parse(id).unwrap())
        .await
        .unwrap()
        .expect("stored by the sweep")
}

fn void_job(order: &str, job_id: &str) -> String {
    serde_json::json!({
        "kind": "void", "job_id": job_id, "seller_id": "A1SIMSELLER0", "order_id": order,
        "package_id": "pkg-1", "requested_by": "supervisor-2"
    })
    .to_string()
}

#[tokio::test]
async fn a_label_is_voided_once_its_document_goes_and_the_order_returns_to_packed() {
    let t = stack("labels-void", SimConfig::demo(1, 40, 6_201)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    write_settings(&t, BTreeMap::new()).await;
    let seller = t.seller(0);
    let open = t.sim.orders_in(seller.as_str(), "UNSHIPPED");
    let order = stored(&t, &seller, &open[0]).await.order;
    let id = order.order_id.as_str();
    let worker = t.label_worker();
    let bought = worker
        .handle_jobs(sqs_event(&[job(&order, "label-1").to_string()]), "inv-1")
        .await;
    assert_eq!(bought.labels_bought, 1, "{bought:?}");
    assert!(opened_label(&t, &order, "pkg-1").await.starts_with(b"^XA"));
    let started = t.amazon_time().now();
    let first_shipment = stored(&t, &seller, id).await.order.parcels[0].clone();
    let shared::orders::ShippedBy::BuyShipping {
        shipment_id: first_shipment,
        ..
    } = first_shipment.shipped_by
    else {
        panic!("{first_shipment:?}")
    };

    // Three copies at once, and one more later: one cancellation, one audit event.
    let void = void_job(id, "void-1").replace("A1SIMSELLER0", seller.as_str());
    let report = worker
        .handle_jobs(
            sqs_event(&[void.clone(), void.clone(), void.clone()]),
            "inv-2",
        )
        .await;
    assert_eq!(
        (report.labels_voided, report.keep.len()),
        (1, 0),
        "{report:?}"
    );
    let again = worker
        .handle_jobs(sqs_event(std::slice::from_ref(&void)), "inv-3")
        .await;
    assert_eq!(
        (again.labels_voided, again.dead_lettered),
        (0, 0),
        "{again:?}"
    );
    let stats = t.sim.stats();
    assert_eq!(stats.labels_canceled.values().sum::<u64>(), 1);
    let after = stored(&t, &seller, id).await;
    assert_eq!(after.order.status, OrderStatus::Packed);
    assert!(after.order.parcels.is_empty(), "{:?}", after.order.parcels);
    let label = PiiKind::Label(PackageId::parse("pkg-1").unwrap());
    assert!(!after.pii.sealed_kinds.contains(&label));
    assert!(
        vault(&t)
            .open(&seller, &order.order_id, label.clone())
            .await
            .unwrap()
            .is_none(),
        "the voided label's document is gone"
    );
    let audit = DynamoAuditLog::new(t.dynamo(), t.stack.table("audit"));
    let events = audit
        .between(
            started - chrono::Duration::minutes(1),
            t.amazon_time().now() + chrono::Duration::minutes(1),
        )
        .await
        .unwrap();
    let voids: Vec<_> = events
        .iter()
        .filter(|e| e.kind == AuditKind::LabelVoided)
        .collect();
    assert_eq!(voids.len(), 1, "{events:?}");
    assert_eq!(voids[0].actor, "supervisor-2");
    assert_eq!(voids[0].order_id.as_ref(), Some(&order.order_id));

    // A late copy of the job that bought the voided label buys nothing.
    let late_copy = worker
        .handle_jobs(sqs_event(&[job(&order, "label-1").to_string()]), "inv-3b")
        .await;
    assert_eq!(
        (late_copy.labels_bought, late_copy.refused),
        (0, 1),
        "{late_copy:?}"
    );
    let letters = t.queue_bodies("label-jobs-dlq").await;
    assert_eq!(letters.last().unwrap()["reason_kind"], "label_voided");
    assert_eq!(t.sim.stats().labels_bought(id, "pkg-1"), 1);

    // Packed again: a new label, bought under the next key; one live label for the package.
    let rebought = worker
        .handle_jobs(sqs_event(&[job(&order, "label-2").to_string()]), "inv-4")
        .await;
    assert_eq!(rebought.labels_bought, 1, "{rebought:?}");
    let stats = t.sim.stats();
    assert_eq!(stats.labels_bought(id, "pkg-1"), 2);
    assert_eq!(stats.duplicate_purchases(), 0);
    match ledger(&t)
        .load(
            &seller,
            &order.order_id,
            &PackageId::parse("pkg-1").unwrap(),
        )
        .await
        .unwrap()
    {
        Some(PurchaseEntry::Purchased(r)) => assert!(r.idempotency_key.ends_with(".2"), "{r:?}"),
        other => panic!("{other:?}"),
    }
    let relabeled = stored(&t, &seller, id).await.order;
    assert_eq!(relabeled.status, OrderStatus::Labeled);
    // The order says how the parcel ships: carrier, service, shipment, tracking, cost, promise.
    let [parcel] = relabeled.parcels.as_slice() else {
        panic!("{:?}", relabeled.parcels)
    };
    assert_eq!(parcel.package_id.as_str(), "pkg-1");
    assert!(
        parcel
            .tracking_id
            .as_deref()
            .is_some_and(|t| t.starts_with("TBA"))
    );
    match &parcel.shipped_by {
        shared::orders::ShippedBy::BuyShipping {
            cost_minor,
            promise,
            ..
        } => assert!(*cost_minor > 0 && promise.is_some(), "{parcel:?}"),
        other => panic!("{other:?}"),
    }
    assert!(opened_label(&t, &order, "pkg-1").await.starts_with(b"^XA"));

    // A void that names the first label never voids the one bought since.
    let named = serde_json::json!({
        "kind": "void", "job_id": "void-named", "seller_id": seller.as_str(), "order_id": id,
        "package_id": "pkg-1", "shipment_id": first_shipment, "requested_by": "supervisor-2"
    })
    .to_string();
    let stale = worker.handle_jobs(sqs_event(&[named]), "inv-4b").await;
    assert_eq!(
        (stale.labels_voided, stale.dead_lettered),
        (0, 0),
        "{stale:?}"
    );
    assert_eq!(t.sim.stats().labels_canceled.values().sum::<u64>(), 1);
    assert_eq!(
        stored(&t, &seller, id).await.order.status,
        OrderStatus::Labeled
    );

    // Collected by the carrier: Amazon no longer voids it; refused with the reason.
    t.sim
        .advance_clock(spapi_sim::PICKUP_AFTER + chrono::Duration::minutes(5));
    let late = worker
        .handle_jobs(
            sqs_event(&[void_job(id, "void-2").replace("A1SIMSELLER0", seller.as_str())]),
            "inv-5",
        )
        .await;
    assert_eq!((late.labels_voided, late.refused), (0, 1), "{late:?}");
    let letters = t.queue_bodies("label-jobs-dlq").await;
    assert_eq!(letters.last().unwrap()["reason_kind"], "void_refused");
    assert_eq!(t.sim.stats().labels_canceled.values().sum::<u64>(), 1);
    assert_eq!(
        stored(&t, &seller, id).await.order.status,
        OrderStatus::Labeled
    );
}

fn ship_job(
    t: &TestStack,
    order: &shared::orders::Order,
    job_id: &str,
    package: &str,
) -> serde_json::Value {
    serde_json::json!({
        "kind": "ship", "job_id": job_id, "seller_id": order.seller_id.as_str(),
        "order_id": order.order_id.as_str(), "package_id": package,
        "carrier_code": "UPS", "shipping_method": "UPS Ground",
        "tracking_number": "1Z999AA10123456784",
        "ship_date": t.amazon_time().now().to_rfc3339(),
        "items": order.lines.iter().map(|l| serde_json::json!({
            "order_item_id": l.order_item_id.as_str(), "quantity": l.quantity_ordered
        })).collect::<Vec<_>>(),
        "requested_by": "dock-1"
    })
}

#[tokio::test]
async fn own_carrier_packages_are_confirmed_once_and_bad_ones_are_refused_before_any_call() {
    let t = stack("labels-own-carrier", SimConfig::demo(1, 40, 6_202)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    let seller = t.seller(0);
    let open = t.sim.orders_in(seller.as_str(), "UNSHIPPED");
    let order = stored(&t, &seller, &open[0]).await.order;
    let id = order.order_id.as_str();
    let worker = t.label_worker();

    // Three copies at once and one later: Amazon confirms the package once. A copy that
    // finds the package's record being written waits on the queue, and then finds it confirmed.
    let body = ship_job(&t, &order, "ship-1", "box-1").to_string();
    let report = worker
        .handle_jobs(
            sqs_event(&[body.clone(), body.clone(), body.clone()]),
            "inv-1",
        )
        .await;
    assert_eq!(report.shipments_confirmed, 1, "{report:?}");
    assert!(report.keep.len() <= 2, "{report:?}");
    let retried: Vec<String> = std::iter::repeat_n(body.clone(), report.keep.len() + 1).collect();
    let later = worker.handle_jobs(sqs_event(&retried), "inv-2").await;
    assert_eq!(
        (
            later.shipments_confirmed,
            later.keep.len(),
            later.dead_lettered
        ),
        (0, 0, 0),
        "{later:?}"
    );
    assert_eq!(t.sim.stats().total("confirmShipment"), 1);
    // Under one reference: the first the order's counter gave, or the next one when two
    // copies drew numbers at once (a number drawn and not used is never reused).
    let shipped = stored(&t, &seller, id).await.order;
    let reference = match &shipped.parcels[0].shipped_by {
        shared::orders::ShippedBy::OwnCarrier {
            package_reference_id,
            ..
        } => package_reference_id.clone(),
        other => panic!("{other:?}"),
    };
    assert!(["1", "2", "3"].contains(&reference.as_str()), "{reference}");
    assert_eq!(
        t.sim.stats().confirmations(id, &reference),
        1,
        "package reference {reference}"
    );
    assert_eq!(
        stored(&t, &seller, id).await.order.status,
        OrderStatus::Shipped
    );
    assert!(
        t.sim
            .orders_in(seller.as_str(), "SHIPPED")
            .contains(&order.order_id.to_string())
    );
    assert_eq!(
        shipped.parcels[0].shipped_by,
        shared::orders::ShippedBy::OwnCarrier {
            package_reference_id: reference.clone(),
            ship_date: serde_json::from_value(
                serde_json::from_str::<serde_json::Value>(&body).unwrap()["ship_date"].clone()
            )
            .unwrap(),
        }
    );
    assert_eq!(shipped.parcels[0].carrier, "UPS");

    // Refused before any call, each with its field: a carrier code not on Amazon's list,
    // Other naming a carrier Amazon knows, an item not of the order, a canceled order.
    let other = stored(&t, &seller, &open[1]).await.order;
    let mut bad_code = ship_job(&t, &other, "ship-2", "box-1");
    bad_code["carrier_code"] = serde_json::json!("Speedy Parcels");
    let mut other_ups = ship_job(&t, &other, "ship-3", "box-1");
    other_ups["carrier_code"] = serde_json::json!("Other");
    other_ups["carrier_name"] = serde_json::json!("ups");
    let mut unknown_item = ship_job(&t, &other, "ship-4", "box-1");
    unknown_item["items"][0]["order_item_id"] = serde_json::json!("99999999999999");
    let canceled = stored(
        &t,
        &seller,
        &t.sim.orders_in(seller.as_str(), "CANCELLED")[0],
    )
    .await;
    let calls = t.sim.stats().total("confirmShipment");
    let refused = worker
        .handle_jobs(
            sqs_event(&[
                bad_code.to_string(),
                other_ups.to_string(),
                unknown_item.to_string(),
                ship_job(&t, &canceled.order, "ship-5", "box-1").to_string(),
            ]),
            "inv-4",
        )
        .await;
    assert_eq!(
        (refused.refused, refused.shipments_confirmed),
        (4, 0),
        "{refused:?}"
    );
    assert_eq!(
        t.sim.stats().total("confirmShipment"),
        calls,
        "no call for any"
    );
    let letters = t.queue_bodies("label-jobs-dlq").await;
    let reason = |kind: &str| -> Vec<String> {
        letters
            .iter()
            .filter(|l| l["reason_kind"] == kind)
            .map(|l| l["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    let carriers = reason("bad_carrier");
    assert_eq!(carriers.len(), 2, "{letters:?}");
    assert!(
        carriers.iter().any(|r| r.starts_with("carrier_code:")),
        "{carriers:?}"
    );
    assert!(
        carriers
            .iter()
            .any(|r| r.contains("its own carrier code \"UPS\"")),
        "{carriers:?}"
    );
    assert!(
        reason("bad_items")[0].contains("package.items[0].order_item_id")
            || reason("bad_items")[0].contains("order_item_id"),
        "{letters:?}"
    );
    assert_eq!(reason("canceled").len(), 1);
    let text = serde_json::to_string(&letters).unwrap();
    assert!(!text.contains("dock-1"), "ids and reasons only");
}

/// The sealed items' own purge dates (seconds), read raw from the pii table.
async fn item_dates(t: &TestStack, seller: &SellerId, order: &AmazonOrderId) -> Vec<(String, i64)> {
    let items = t
        .dynamo()
        .query()
        .table_name(t.stack.table("pii"))
        .key_condition_expression("seller_order = :so")
        .expression_attribute_values(
            ":so",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{seller}#{order}")),
        )
        .send()
        .await
        .unwrap();
    let mut dates: Vec<(String, i64)> = items
        .items()
        .iter()
        .map(|i| {
            (
                i["kind"].as_s().unwrap().clone(),
                i["pii_purge_at"].as_n().unwrap().parse().unwrap(),
            )
        })
        .collect();
    dates.sort();
    dates
}

#[tokio::test]
async fn tracking_ships_the_order_at_the_first_scan_alerts_a_parcel_never_scanned_and_delivery_anchors_the_purge()
 {
    let t = stack("labels-tracking", SimConfig::demo(1, 40, 6_203)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    write_settings(&t, BTreeMap::new()).await;
    let seller = t.seller(0);
    // The two open orders promised furthest out: the fastest service delivers them before
    // their promise, whatever the time of day the orders were seeded at.
    let mut open = Vec::new();
    for id in t.sim.orders_in(seller.as_str(), "UNSHIPPED") {
        open.push(stored(&t, &seller, &id).await);
    }
    open.sort_by_key(|o| std::cmp::Reverse(o.order.deliver_by));
    let (a, b) = (open[0].clone(), open[1].clone());
    let (a_id, b_id) = (a.order.order_id.clone(), b.order.order_id.clone());
    let worker = t.label_worker();
    let tracker = t.shipment_tracker();
    let labeled = worker
        .handle_jobs(sqs_event(&[job(&a.order, "label-a").to_string()]), "inv-1")
        .await;
    assert_eq!(labeled.labels_bought, 1, "{labeled:?}");
    // The carrier never collects the second order's parcel.
    t.sim.never_scan_next_labels(1);
    worker
        .handle_jobs(sqs_event(&[job(&b.order, "label-b").to_string()]), "inv-2")
        .await;

    let before = stored(&t, &seller, a_id.as_str()).await;
    assert_eq!(before.pii.state, shared::pii::PiiState::Held);
    let fresh = tracker.run().await.unwrap();
    assert_eq!(
        (fresh.checked, fresh.first_scans, fresh.delivered),
        (2, 0, 0),
        "{fresh:?}"
    );
    assert!(fresh.no_scan_alerts.is_empty());

    t.sim
        .advance_clock(spapi_sim::PICKUP_AFTER + chrono::Duration::minutes(5));
    let picked = tracker.run().await.unwrap();
    assert_eq!(picked.first_scans, 1, "{picked:?}");
    // A one-day service may deliver within the next day: counted whenever it comes.
    let mut delivered = picked.delivered;
    assert_eq!(
        stored(&t, &seller, a_id.as_str()).await.order.status,
        OrderStatus::Shipped
    );
    assert_eq!(
        stored(&t, &seller, b_id.as_str()).await.order.status,
        OrderStatus::Labeled
    );
    // Stock heard of it: a pick when each order was labeled, the departure at the first scan.
    let stock = t.queue_bodies("stock").await;
    let of = |kind: &str| {
        stock
            .iter()
            .filter(|c| c["kind"] == kind)
            .map(|c| c["order_id"].as_str().unwrap().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(of("pick"), [a_id.to_string(), b_id.to_string()].into());
    assert_eq!(of("ship"), [a_id.to_string()].into());

    // A day after its label, no scan: one alert, however often the tracker runs.
    t.sim.advance_clock(chrono::Duration::days(1));
    let late = tracker.run().await.unwrap();
    assert_eq!(
        late.no_scan_alerts,
        vec![format!("{seller}/{b_id}/pkg-1")],
        "{late:?}"
    );
    delivered += late.delivered;
    let again = tracker.run().await.unwrap();
    assert!(again.no_scan_alerts.is_empty(), "alerted once: {again:?}");
    delivered += again.delivered;

    // Delivered: the order moves on with the carrier's time, and its PII (the label document
    // too) is purged 30 days from then, not from the promised date.
    t.sim.advance_clock(chrono::Duration::days(8));
    delivered += tracker.run().await.unwrap().delivered;
    assert_eq!(delivered, 1);
    let after = stored(&t, &seller, a_id.as_str()).await;
    assert_eq!(after.order.status, OrderStatus::Delivered);
    let delivered_at = after
        .order
        .delivered_at
        .expect("the carrier's delivery time");
    assert!(delivered_at < t.amazon_time().now());
    let due = (delivered_at + chrono::Duration::days(30)).min(before.pii.purge_at);
    assert_eq!(after.pii.purge_at, due);
    assert!(
        due < before.pii.purge_at,
        "delivered before the promised date: {delivered_at} vs {:?}",
        before.order.deliver_by
    );
    let dates = item_dates(&t, &seller, &a_id).await;
    assert_eq!(dates.len(), 3, "buyer, recipient, label: {dates:?}");
    assert!(
        dates.iter().all(|(_, at)| *at == due.timestamp()),
        "{dates:?}"
    );
    // Off the watch: the next run checks only the parcel still waiting.
    assert_eq!(tracker.run().await.unwrap().checked, 1);
    // Amazon's later update of the order (shipped, as Buy Shipping confirms it) keeps the
    // carrier's delivery time, the status and the purge date.
    assert!(
        t.sim
            .change_order(seller.as_str(), a_id.as_str(), spapi_sim::OrderEvent::Ship)
    );
    // Searches see changes two minutes old.
    t.sim.advance_clock(chrono::Duration::minutes(3));
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    let synced = stored(&t, &seller, a_id.as_str()).await;
    assert!(
        synced.order.last_updated_at > after.order.last_updated_at,
        "Amazon's update stored"
    );
    assert_eq!(synced.order.delivered_at, Some(delivered_at));
    assert_eq!(synced.order.status, OrderStatus::Delivered);
    assert_eq!(synced.pii.purge_at, due);
}

#[tokio::test]
async fn an_unresolved_purchase_is_settled_as_the_operator_found_it_and_never_bought_again() {
    use shared::labels::{LabelFormat, Shipping};
    use shared::spapi::ShippingApi;
    let t = stack("labels-settle", SimConfig::demo(1, 40, 6_204)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    write_settings(&t, BTreeMap::new()).await;
    let seller = t.seller(0);
    let open = t.sim.orders_in(seller.as_str(), "UNSHIPPED");
    let a = stored(&t, &seller, &open[0]).await.order;
    let b = stored(&t, &seller, &open[1]).await.order;
    let api = ShippingApi::new(crate::labels::transport(&t), t.amazon_time());
    // Each order's attempt was sent by a worker that never read the answer. For A, Amazon
    // did sell a label for the package (the operator will find it in Amazon's shipments);
    // for B it did not.
    let sent_a = crate::labels::attempt_on_record(
        &t,
        &api,
        &crate::labels::one_package(&a),
        LabelFormat::Zpl,
        "worker-1",
        true,
    )
    .await;
    let bought = api
        .purchase(
            &seller,
            &sent_a.quote,
            &sent_a.rate,
            LabelFormat::Zpl,
            "the-lost-answer",
        )
        .await
        .unwrap();
    let sent_b = crate::labels::attempt_on_record(
        &t,
        &api,
        &crate::labels::one_package(&b),
        LabelFormat::Zpl,
        "worker-1",
        true,
    )
    .await;
    t.sim
        .advance_clock(spapi_sim::RATE_LIFETIME + chrono::Duration::seconds(1));
    let worker = t.label_worker();
    let stuck = worker
        .handle_jobs(
            sqs_event(&[
                job(&a, "label-a").to_string(),
                job(&b, "label-b").to_string(),
            ]),
            "inv-1",
        )
        .await;
    assert_eq!(stuck.dead_lettered, 2, "{stuck:?}");
    let letters = t.queue_bodies("label-jobs-dlq").await;
    assert!(
        letters
            .iter()
            .all(|l| l["reason_kind"] == "purchase_unresolved"),
        "{letters:?}"
    );

    // The operator looks them up later (the last worker's lease has run out by then).
    t.sim.advance_clock(chrono::Duration::minutes(6));
    let settle = |o: &shared::orders::Order, key: &str, shipment: Option<&str>| {
        serde_json::json!({
            "kind": "settle", "job_id": format!("settle-{}", o.order_id),
            "seller_id": o.seller_id.as_str(), "order_id": o.order_id.as_str(),
            "package_id": "pkg-1", "idempotency_key": key, "shipment_id": shipment,
            "requested_by": "operator-1"
        })
        .to_string()
    };
    let wrong = worker
        .handle_jobs(sqs_event(&[settle(&a, "not-the-key", None)]), "inv-2")
        .await;
    assert_eq!(wrong.refused, 1, "{wrong:?}");
    let settled = worker
        .handle_jobs(
            sqs_event(&[
                settle(&a, &sent_a.idempotency_key, Some(&bought.shipment_id)),
                settle(&b, &sent_b.idempotency_key, None),
            ]),
            "inv-3",
        )
        .await;
    assert_eq!((settled.settled, settled.keep.len()), (2, 0), "{settled:?}");
    // A: the label Amazon sold is the package's, with its document; nothing bought again.
    let a_after = stored(&t, &seller, a.order_id.as_str()).await;
    assert_eq!(a_after.order.status, OrderStatus::Labeled);
    assert!(opened_label(&t, &a, "pkg-1").await.starts_with(b"^XA"));
    match ledger(&t)
        .load(&seller, &a.order_id, &PackageId::parse("pkg-1").unwrap())
        .await
        .unwrap()
    {
        Some(PurchaseEntry::Purchased(r)) => {
            assert_eq!(r.shipment_id, bought.shipment_id);
            assert_eq!(r.idempotency_key, sent_a.idempotency_key);
            assert_eq!(r.tracking_id, bought.tracking_id);
        }
        other => panic!("{other:?}"),
    }
    // B: given up; the next label job buys under the next key.
    let b_label = worker
        .handle_jobs(sqs_event(&[job(&b, "label-b-2").to_string()]), "inv-4")
        .await;
    assert_eq!(b_label.labels_bought, 1, "{b_label:?}");
    match ledger(&t)
        .load(&seller, &b.order_id, &PackageId::parse("pkg-1").unwrap())
        .await
        .unwrap()
    {
        Some(PurchaseEntry::Purchased(r)) => assert!(r.idempotency_key.ends_with(".2"), "{r:?}"),
        other => panic!("{other:?}"),
    }
    let stats = t.sim.stats();
    assert_eq!(stats.labels_bought(a.order_id.as_str(), "pkg-1"), 1);
    assert_eq!(stats.labels_bought(b.order_id.as_str(), "pkg-1"), 1);
    assert_eq!(stats.duplicate_purchases(), 0);
    // Settling again changes nothing.
    let again = worker
        .handle_jobs(
            sqs_event(&[settle(
                &a,
                &sent_a.idempotency_key,
                Some(&bought.shipment_id),
            )]),
            "inv-5",
        )
        .await;
    assert_eq!((again.settled, again.refused), (1, 0), "{again:?}");
    assert_eq!(t.sim.stats().total("getShipmentDocuments"), 1);
}
