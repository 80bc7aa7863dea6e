//! Labels on moto and the simulator: the suite's Shipping v2 client through the real transport
//! (LWA from the stack's secrets, the shared rate budget in the control table), bought once per
//! idempotency key even when Amazon's answer is lost, an expired rate told from a refusal; and
//! the purchase ledger in the control table: one label per package whatever the duplicates,
//! retries and dead workers.

use crate::common::{TestStack, stack};
use crate::pii_vault::vault;
use local_stack::packing::dock;
use shared::aws::DynamoControl;
use shared::kernel::Sku;
use shared::kernel::{AmazonOrderId, PiiKind, SellerId};
use shared::labels::SkuFacts;
use shared::labels::{
    Bought, Charge, Dimensions, LabelError, LabelFormat, LabelOrder, LabelPurchase, PackageId,
    PackageItem, PackageSpec, PurchaseAttempt, PurchaseEntry, PurchaseLedger, RatePolicy,
    RateRequest, Shipping, ShippingError,
};
use shared::lambda::Env;
use shared::lambda::intake::SpApiConfig;
use shared::orders::{AmazonOrders, Order};
use shared::pii::{OpenedPii, PiiOpener};
use shared::spapi::{OrdersApi, ShippingApi, Transport};
use spapi_sim::SimConfig;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) fn transport(t: &TestStack) -> Arc<Transport> {
    let env = t
        .stack
        .order_sync_env(&t.sim.base_url(), &t.sim.lwa_token_url());
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = SpApiConfig::from_env(&Env::from_pairs(pairs)).expect("config");
    config.transport(&t.sdk, t.stack.table("control"), t.amazon_time())
}

/// An unshipped order of the seller, as Amazon serves it.
async fn unshipped(t: &TestStack, transport: &Arc<Transport>, seller: &SellerId) -> Order {
    let id = t.sim.orders_in(seller.as_str(), "UNSHIPPED")[0].clone();
    OrdersApi::new(transport.clone())
        .get_order(seller, &AmazonOrderId::parse(id).unwrap())
        .await
        .expect("getOrder")
        .order
}

/// The whole order in one package.
pub(crate) fn one_package(order: &Order) -> RateRequest {
    package(order, "pkg-1")
}

fn package(order: &Order, id: &str) -> RateRequest {
    RateRequest {
        order_id: order.order_id.clone(),
        marketplace_id: order.marketplace_id.clone().expect("a marketplace"),
        ship_from: dock(),
        package: PackageSpec {
            package_id: PackageId::parse(id).unwrap(),
            weight_grams: 850,
            dimensions: Dimensions {
                length_cm: 25.0,
                width_cm: 20.0,
                height_cm: 10.0,
            },
            items: order
                .lines
                .iter()
                .map(|l| PackageItem {
                    order_item_id: l.order_item_id.clone(),
                    quantity: l.quantity_ordered,
                })
                .collect(),
            declared_value: Charge::from_decimal(25.0, "USD"),
        },
    }
}

/// A stack with one seller, the Shipping client on it, and an unshipped order of the seller.
async fn with_an_order(test: &str, seed: u64) -> (TestStack, ShippingApi, SellerId, Order) {
    let t = stack(test, SimConfig::demo(1, 30, seed)).await;
    let transport = transport(&t);
    let api = ShippingApi::new(transport.clone(), t.amazon_time());
    let seller = t.seller(0);
    let order = unshipped(&t, &transport, &seller).await;
    (t, api, seller, order)
}

#[tokio::test]
async fn a_label_is_bought_once_per_key_even_when_amazons_answer_is_lost() {
    let (t, api, seller, order) = with_an_order("labels-once", 6_101).await;
    let quote = api
        .quote(&seller, &one_package(&order))
        .await
        .expect("rates");
    assert!(quote.rates.len() >= 3, "{:?}", quote.rates);
    assert!(
        quote
            .rates
            .iter()
            .all(|r| r.formats.contains(&LabelFormat::Zpl))
    );
    // The simulator promises every service within days; the seeded orders' dates are further
    // out than the slowest, so the cheapest of all is on time.
    let rate = RatePolicy::CheapestOnTime
        .choose(&quote.rates, LabelFormat::Pdf, None)
        .expect("a rate")
        .clone();
    assert_eq!(
        rate.charge.minor,
        quote.rates.iter().map(|r| r.charge.minor).min().unwrap()
    );

    // Amazon buys the label and the answer never arrives: the transport asks again with the
    // same key and gets the first purchase.
    t.sim.drop_connection_after_purchases(1);
    let key = format!("{}-pkg-1-1", order.order_id);
    let label = api
        .purchase(&seller, &quote, &rate, LabelFormat::Pdf, &key)
        .await
        .expect("bought");
    let stats = t.sim.stats();
    assert_eq!(stats.labels_bought(order.order_id.as_str(), "pkg-1"), 1);
    assert_eq!(
        stats.count("purchaseShipment", 200),
        2,
        "the lost answer and the repeat"
    );
    assert!(label.document.expose().starts_with(b"%PDF-"));
    assert!(label.tracking_id.as_deref().unwrap().starts_with("TBA"));
    assert_eq!(
        (label.carrier_id.as_str(), label.charge.clone()),
        (rate.carrier_id.as_str(), rate.charge.clone())
    );
    // A worker that died before recording the purchase asks again with the same key.
    let again = api
        .purchase(&seller, &quote, &rate, LabelFormat::Pdf, &key)
        .await
        .expect("answered again");
    assert_eq!(again.shipment_id, label.shipment_id);
    assert_eq!(again.tracking_id, label.tracking_id);
    assert_eq!(
        t.sim
            .stats()
            .labels_bought(order.order_id.as_str(), "pkg-1"),
        1
    );
    // The document names the recipient; nothing that prints the label shows it.
    let shown = format!("{label:?}");
    let pii = t.sim.seeded_pii_values();
    let document = String::from_utf8_lossy(label.document.expose()).into_owned();
    assert!(
        pii.iter()
            .any(|v| v.len() > 3 && document.contains(v.as_str()))
    );
    assert!(
        !pii.iter()
            .any(|v| v.len() > 3 && shown.contains(v.as_str())),
        "{shown}"
    );
}

#[tokio::test]
async fn an_expired_rate_is_told_from_a_refused_order() {
    let (t, api, seller, order) = with_an_order("labels-refused", 6_102).await;
    let request = one_package(&order);
    let quote = api.quote(&seller, &request).await.expect("rates");
    t.sim
        .advance_clock(spapi_sim::RATE_LIFETIME + chrono::Duration::seconds(1));
    let late = api
        .purchase(&seller, &quote, &quote.rates[0], LabelFormat::Zpl, "late-1")
        .await
        .unwrap_err();
    assert!(matches!(late, ShippingError::RateExpired { .. }), "{late}");
    // Quoted again, it buys.
    let fresh = api.quote(&seller, &request).await.expect("rates again");
    api.purchase(&seller, &fresh, &fresh.rates[0], LabelFormat::Zpl, "late-2")
        .await
        .expect("bought on the fresh quote");

    assert!(t.sim.change_order(
        seller.as_str(),
        order.order_id.as_str(),
        spapi_sim::OrderEvent::Cancel
    ));
    let canceled = api.quote(&seller, &request).await.unwrap_err();
    assert!(
        matches!(&canceled, ShippingError::Refused { status: 400, code, .. } if code == "InvalidInput"),
        "{canceled}"
    );
    assert!(!canceled.is_retryable());
    assert_eq!(
        t.sim.stats().count("getRates", 400),
        1,
        "refused once, not retried"
    );
}

pub(crate) fn ledger(t: &TestStack) -> DynamoControl {
    DynamoControl::new(t.dynamo(), t.stack.table("control"))
}

/// What a worker would put on record and then die: attempt 1 of the package, held by
/// `holder` for five minutes, sent or not.
pub(crate) async fn attempt_on_record(
    t: &TestStack,
    api: &ShippingApi,
    request: &RateRequest,
    format: LabelFormat,
    holder: &str,
    sent: bool,
) -> PurchaseAttempt {
    let seller = t.seller(0);
    let now = t.amazon_time().now();
    let quote = api.quote(&seller, request).await.unwrap();
    let attempt = PurchaseAttempt {
        number: 1,
        idempotency_key: PurchaseAttempt::key(&request.order_id, &request.package.package_id, 1),
        rate: quote.rates[0].clone(),
        quote,
        format,
        started_at: now,
        holder: holder.into(),
        lease_until: now + chrono::Duration::minutes(5),
        sent_at: sent.then_some(now),
        job_id: None,
    };
    let (order, package) = (&request.order_id, &request.package.package_id);
    let l = ledger(t);
    assert!(
        l.start(&seller, order, package, &attempt, None)
            .await
            .unwrap()
    );
    assert!(
        !l.start(&seller, order, package, &attempt, None)
            .await
            .unwrap(),
        "one attempt on record"
    );
    attempt
}

pub(crate) async fn opened_label(t: &TestStack, order: &Order, package: &str) -> Vec<u8> {
    let kind = PiiKind::Label(PackageId::parse(package).unwrap());
    match vault(t)
        .open(&t.seller(0), &order.order_id, kind)
        .await
        .unwrap()
    {
        Some(OpenedPii::Label(doc)) => doc.expose().clone(),
        other => panic!("the sealed label: {other:?}"),
    }
}

#[tokio::test]
async fn duplicate_jobs_and_a_worker_that_died_after_amazon_bought_buy_one_label_per_package() {
    let (t, api, seller, order) = with_an_order("labels-ledger", 6_103).await;
    let clock = t.amazon_time();
    let (ledger, vault) = (ledger(&t), vault(&t));
    let buyer = |holder: &'static str| LabelPurchase {
        shipping: &api,
        ledger: &ledger,
        vault: &vault,
        clock: clock.as_ref(),
        holder,
    };
    let bought = |package_ref: &str| {
        t.sim
            .stats()
            .labels_bought(order.order_id.as_str(), package_ref)
    };
    let purge_at = clock.now() + chrono::Duration::days(30);
    let policy = RatePolicy::CheapestOnTime;
    let job = |request| LabelOrder {
        job_id: "test-job",
        request,
        policy: &policy,
        format: LabelFormat::Pdf,
        deliver_by: None,
        purge_at,
    };

    // A worker put its attempt on record, sent it, Amazon bought the label, and the worker
    // died before it wrote the result down.
    let request = package(&order, "pkg-a");
    let attempt = attempt_on_record(&t, &api, &request, LabelFormat::Zpl, "worker-1", true).await;
    let lost = api
        .purchase(
            &seller,
            &attempt.quote,
            &attempt.rate,
            attempt.format,
            &attempt.idempotency_key,
        )
        .await
        .unwrap();
    assert_eq!(bought("pkg-a"), 1);
    // The job comes back at once: the dead worker's lease still runs, so it waits.
    let busy = buyer("worker-2")
        .buy_once(&seller, &job(&request))
        .await
        .unwrap_err();
    assert!(
        matches!(busy, LabelError::Busy { .. }) && busy.is_retryable(),
        "{busy}"
    );
    // Once the lease has run out it finishes the attempt with its key, and buys nothing.
    t.sim.advance_clock(chrono::Duration::minutes(6));
    let resumed = buyer("worker-2")
        .buy_once(&seller, &job(&request))
        .await
        .unwrap();
    let Bought::Now(record) = &resumed else {
        panic!("finished now: {resumed:?}")
    };
    assert_eq!(record.shipment_id, lost.shipment_id);
    assert_eq!(
        record.format,
        LabelFormat::Zpl,
        "the attempt as begun, not the job's format"
    );
    assert_eq!(bought("pkg-a"), 1);
    assert!(matches!(
        ledger.load(&seller, &order.order_id, &request.package.package_id).await.unwrap(),
        Some(PurchaseEntry::Purchased(r)) if &r == record
    ));
    // The document is sealed with the order's PII, under the package's own item.
    assert!(opened_label(&t, &order, "pkg-a").await.starts_with(b"^XA"));

    // The same job three times at once for another package: one sends, the others wait.
    let request = package(&order, "pkg-b");
    let holders = ["worker-3", "worker-4", "worker-5"];
    let runs = futures::future::join_all(holders.map(|h| {
        let buyer = buyer(h);
        let job = job(&request);
        let seller = &seller;
        async move { buyer.buy_once(seller, &job).await }
    }))
    .await;
    let mut shipments = std::collections::BTreeSet::new();
    for run in runs {
        match run {
            Ok(b) => {
                shipments.insert(b.record().shipment_id.clone());
            }
            Err(e) => assert!(
                matches!(e, LabelError::Busy { .. } | LabelError::Contended { .. }),
                "{e}"
            ),
        }
    }
    assert_eq!(shipments.len(), 1, "{shipments:?}");
    assert_eq!(bought("pkg-b"), 1);
    // Later deliveries of the job find the label on record and ask Amazon nothing.
    let purchases_before = t.sim.stats().total("purchaseShipment");
    let again = buyer("worker-6")
        .buy_once(&seller, &job(&request))
        .await
        .unwrap();
    assert!(matches!(again, Bought::Before(_)), "{again:?}");
    assert_eq!(t.sim.stats().total("purchaseShipment"), purchases_before);
    assert!(
        opened_label(&t, &order, "pkg-b")
            .await
            .starts_with(b"%PDF-")
    );

    // Day 31: the label documents go with the rest of the order's PII.
    t.sim.advance_clock(chrono::Duration::days(31));
    let run = t
        .pii_redactor(clock.clone())
        .purge_run(&|| false)
        .await
        .unwrap();
    assert!(
        run.pii_items_deleted + run.stragglers_purged >= 2,
        "{run:?}"
    );
    for package in ["pkg-a", "pkg-b"] {
        let kind = PiiKind::Label(PackageId::parse(package).unwrap());
        assert!(
            vault
                .open(&seller, &order.order_id, kind)
                .await
                .unwrap()
                .is_none(),
            "{package}"
        );
    }
}

#[tokio::test]
async fn a_stale_attempt_never_sent_is_quoted_again_and_a_sent_one_is_never_bought_twice() {
    let (t, api, seller, order) = with_an_order("labels-requote", 6_104).await;
    let clock = t.amazon_time();
    let (ledger, vault) = (ledger(&t), vault(&t));
    let buyer = LabelPurchase {
        shipping: &api,
        ledger: &ledger,
        vault: &vault,
        clock: clock.as_ref(),
        holder: "worker-9",
    };
    let policy = RatePolicy::CheapestOnTime;
    let purge_at = clock.now() + chrono::Duration::days(30);
    let job = |request| LabelOrder {
        job_id: "test-job",
        request,
        policy: &policy,
        format: LabelFormat::Pdf,
        deliver_by: None,
        purge_at,
    };
    // A worker put its attempt on record and died before sending it; the rate expires.
    let request = one_package(&order);
    attempt_on_record(&t, &api, &request, LabelFormat::Pdf, "worker-1", false).await;
    t.sim
        .advance_clock(spapi_sim::RATE_LIFETIME + chrono::Duration::seconds(1));
    let done = buyer.buy_once(&seller, &job(&request)).await.unwrap();
    let Bought::Now(record) = done else {
        panic!("bought now: {done:?}")
    };
    assert!(
        record.idempotency_key.ends_with(".2"),
        "{}",
        record.idempotency_key
    );
    assert_eq!(
        t.sim
            .stats()
            .labels_bought(order.order_id.as_str(), "pkg-1"),
        1
    );
    assert_eq!(
        t.sim.stats().count("purchaseShipment", 400),
        0,
        "the stale attempt was never sent"
    );

    // An attempt that was sent, and whose rate Amazon now calls expired, may have bought the
    // label: it is not bought again, and it is nobody's to retry.
    let request = package(&order, "pkg-2");
    attempt_on_record(&t, &api, &request, LabelFormat::Pdf, "worker-1", true).await;
    t.sim
        .advance_clock(spapi_sim::RATE_LIFETIME + chrono::Duration::seconds(1));
    let unresolved = buyer.buy_once(&seller, &job(&request)).await.unwrap_err();
    assert!(
        matches!(unresolved, LabelError::Unresolved { .. }),
        "{unresolved}"
    );
    assert!(!unresolved.is_retryable());
    assert_eq!(
        t.sim
            .stats()
            .labels_bought(order.order_id.as_str(), "pkg-2"),
        0
    );

    // A policy no rate fits refuses with its reason and buys nothing.
    let other = package(&order, "pkg-3");
    let fixed = RatePolicy::Fixed {
        carrier_id: "FEDEX".into(),
        service_id: "FEDEX_GROUND".into(),
    };
    let refused = buyer
        .buy_once(
            &seller,
            &LabelOrder {
                policy: &fixed,
                ..job(&other)
            },
        )
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("FEDEX FEDEX_GROUND in PDF not offered"),
        "{refused}"
    );
    assert!(!refused.is_retryable());
    assert!(
        ledger
            .load(&seller, &order.order_id, &other.package.package_id)
            .await
            .unwrap()
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// label-worker: jobs from its queue, through the handler the binary builds.

pub(crate) fn sqs_event(bodies: &[String]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
            m.message_id = Some(format!("m-{i}"));
            m.receipt_handle = Some(format!("r-{i}"));
            m.body = Some(body.clone());
            m.attributes
                .insert("ApproximateReceiveCount".into(), "1".into());
            m
        })
        .collect();
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = records;
    event
}

/// The seller's label settings, as onboarding writes them.
pub(crate) async fn write_settings(t: &TestStack, catalog: BTreeMap<Sku, SkuFacts>) {
    let settings = shared::labels::LabelSettings {
        catalog,
        ..shared::labels::LabelSettings::new(dock(), RatePolicy::CheapestOnTime, LabelFormat::Zpl)
    };
    local_stack::packing::write_label_settings(
        &t.dynamo(),
        t.stack.table("control"),
        &t.seller(0),
        settings,
    )
    .await
    .unwrap();
}

/// A job for the whole order in one package `pkg-1`.
pub(crate) fn job(order: &Order, job_id: &str) -> serde_json::Value {
    local_stack::packing::whole_order_job(order, job_id, "pkg-1", "packing-station-4")
}

#[tokio::test]
async fn every_label_job_delivered_three_times_buys_one_label_and_bad_jobs_are_refused_before_any_call()
 {
    let t = stack("labels-worker", SimConfig::demo(1, 40, 6_105)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    write_settings(&t, BTreeMap::new()).await;
    let seller = t.seller(0);
    let orders = shared::aws::DynamoOrderStore::new(t.dynamo(), t.stack.table("orders"));
    let open = t.sim.orders_in(seller.as_str(), "UNSHIPPED");
    let stored = |id: &str| {
        let orders = &orders;
        let seller = &seller;
        let id = AmazonOrderId::parse(id).unwrap();
        async move {
            use shared::orders::OrderStore;
            orders
                .load(seller, &id)
                .await
                .unwrap()
                .expect("stored by the sweep")
        }
    };
    let first = stored(&open[0]).await;
    let worker = t.label_worker();

    // Three copies in one batch, and a fourth later: one label, the order Labeled.
    let body = job(&first.order, "job-1").to_string();
    let report = worker
        .handle_jobs(
            sqs_event(&[body.clone(), body.clone(), body.clone()]),
            "invocation-1",
        )
        .await;
    assert!(
        report.keep.len() <= 2,
        "copies that found the package busy wait: {report:?}"
    );
    assert_eq!(
        t.sim
            .stats()
            .labels_bought(first.order.order_id.as_str(), "pkg-1"),
        1,
        "{report:?}"
    );
    let again = worker
        .handle_jobs(sqs_event(std::slice::from_ref(&body)), "invocation-2")
        .await;
    assert_eq!(
        (again.labeled, again.labels_bought, again.keep.len()),
        (1, 0, 0),
        "{again:?}"
    );
    assert_eq!(
        t.sim
            .stats()
            .labels_bought(first.order.order_id.as_str(), "pkg-1"),
        1
    );
    let after = stored(&open[0]).await;
    assert_eq!(after.order.status, shared::orders::OrderStatus::Labeled);
    let label = PiiKind::Label(PackageId::parse("pkg-1").unwrap());
    assert!(
        after.pii.sealed_kinds.contains(&label),
        "{:?}",
        after.pii.sealed_kinds
    );
    assert!(
        opened_label(&t, &first.order, "pkg-1")
            .await
            .starts_with(b"^XA"),
        "the seller's format"
    );

    // Refused before any call: a canceled order, an item not of the order, a malformed job.
    let purchases = t.sim.stats().total("purchaseShipment");
    let rates = t.sim.stats().total("getRates");
    // An order Amazon canceled (the sweep stored it so).
    let canceled = stored(&t.sim.orders_in(seller.as_str(), "CANCELLED")[0]).await;
    assert_eq!(canceled.order.status, shared::orders::OrderStatus::Canceled);
    let other = stored(&open[2]).await;
    let mut wrong_item = job(&other.order, "job-3");
    wrong_item["packages"][0]["items"][0]["order_item_id"] = serde_json::json!("99999999999999");
    let mut nowhere = job(&other.order, "job-7");
    nowhere["location"] = serde_json::json!("moon-base");
    let report = worker
        .handle_jobs(
            sqs_event(&[
                job(&canceled.order, "job-2").to_string(),
                wrong_item.to_string(),
                r#"{"job_id": "job-4", "buyer_name": "x"}"#.into(),
                nowhere.to_string(),
            ]),
            "invocation-3",
        )
        .await;
    assert_eq!(
        (report.refused, report.dead_lettered, report.labels_bought),
        (3, 4, 0),
        "{report:?}"
    );
    assert_eq!(t.sim.stats().total("purchaseShipment"), purchases);
    assert_eq!(t.sim.stats().total("getRates"), rates);
    let letters = t.queue_bodies("label-jobs-dlq").await;
    let kinds: std::collections::BTreeSet<&str> = letters
        .iter()
        .filter_map(|l| l["reason_kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["bad_items", "canceled", "malformed", "unknown_location"]
            .into_iter()
            .collect()
    );
    let bad = letters
        .iter()
        .find(|l| l["reason_kind"] == "bad_items")
        .unwrap();
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .contains("packages[0].items[0].order_item_id"),
        "{bad}"
    );
    // Ids and reasons only: no job body, no PII.
    let text = serde_json::to_string(&letters).unwrap();
    assert!(!text.contains("packing-station-4"));

    // A job without packages: one parcel from the seller's catalog, or blocked by a SKU the
    // catalog does not know (never guessed).
    let packed = stored(&open[3]).await;
    let catalog: BTreeMap<Sku, SkuFacts> = packed
        .order
        .lines
        .iter()
        .filter_map(|l| l.sku.clone())
        .map(|sku| {
            let facts = SkuFacts {
                weight_grams: 300,
                dimensions: Dimensions {
                    length_cm: 20.0,
                    width_cm: 15.0,
                    height_cm: 5.0,
                },
            };
            (sku, facts)
        })
        .collect();
    write_settings(&t, catalog.clone()).await;
    let mut blocked = None;
    for id in &open[4..] {
        let o = stored(id).await;
        if o.order
            .lines
            .iter()
            .any(|l| l.sku.as_ref().is_none_or(|s| !catalog.contains_key(s)))
        {
            blocked = Some(o);
            break;
        }
    }
    let blocked = blocked.expect("an open order with a SKU the catalog does not know");
    let mut from_catalog = job(&packed.order, "job-5");
    from_catalog["packages"] = serde_json::json!([]);
    let mut unknown_sku = job(&blocked.order, "job-6");
    unknown_sku["packages"] = serde_json::json!([]);
    let report = worker
        .handle_jobs(
            sqs_event(&[from_catalog.to_string(), unknown_sku.to_string()]),
            "invocation-4",
        )
        .await;
    assert_eq!(
        (report.labeled, report.labels_bought, report.refused),
        (1, 1, 1),
        "{report:?}"
    );
    assert_eq!(
        t.sim.stats().labels_bought(
            packed.order.order_id.as_str(),
            shared::labels::CATALOG_PACKAGE_ID
        ),
        1
    );
    assert_eq!(
        t.sim.stats().labels_bought(
            blocked.order.order_id.as_str(),
            shared::labels::CATALOG_PACKAGE_ID
        ),
        0
    );
    let letters = t.queue_bodies("label-jobs-dlq").await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["reason_kind"], "label_blocked");
    assert!(
        letters[0]["reason"].as_str().unwrap().contains("catalog")
            || letters[0]["reason"].as_str().unwrap().contains("no SKU"),
        "{}",
        letters[0]
    );
    // The order itself says so, with the same reason, until a label is bought.
    let marked = stored(blocked.order.order_id.as_str()).await;
    let block = marked
        .order
        .label_blocked
        .expect("the order is marked label_blocked");
    assert_eq!(block.reason, letters[0]["reason"].as_str().unwrap());
    assert_eq!(
        marked.order.status, blocked.order.status,
        "nothing else changed"
    );
    assert!(
        stored(packed.order.order_id.as_str())
            .await
            .order
            .label_blocked
            .is_none()
    );
    // The seller adds the SKU to the catalog; the job again: labeled, the block lifted.
    let mut fuller = catalog.clone();
    for sku in blocked.order.lines.iter().filter_map(|l| l.sku.clone()) {
        fuller
            .entry(sku)
            .or_insert(catalog.values().next().copied().unwrap());
    }
    write_settings(&t, fuller).await;
    let retried = worker
        .handle_jobs(sqs_event(&[unknown_sku.to_string()]), "invocation-5")
        .await;
    assert_eq!(retried.labels_bought, 1, "{retried:?}");
    let lifted = stored(blocked.order.order_id.as_str()).await;
    assert!(lifted.order.label_blocked.is_none());
    assert_eq!(lifted.order.status, shared::orders::OrderStatus::Labeled);
}

/// The real ledger, except that just before a purchase is recorded another process replaces
/// the attempt on record (the race the ledger's conditions exist for).
struct LosingLedger {
    inner: DynamoControl,
    rival: std::sync::Mutex<Option<PurchaseAttempt>>,
}

#[async_trait::async_trait]
impl PurchaseLedger for LosingLedger {
    async fn load(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
    ) -> Result<Option<PurchaseEntry>, shared::kernel::StoreError> {
        self.inner.load(s, o, p).await
    }
    async fn entries(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
    ) -> Result<Vec<(PackageId, PurchaseEntry)>, shared::kernel::StoreError> {
        self.inner.entries(s, o).await
    }
    async fn start(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
        a: &PurchaseAttempt,
        r: Option<&str>,
    ) -> Result<bool, shared::kernel::StoreError> {
        self.inner.start(s, o, p, a, r).await
    }
    #[allow(clippy::too_many_arguments)]
    async fn claim(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
        k: &str,
        h: &str,
        now: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, shared::kernel::StoreError> {
        self.inner.claim(s, o, p, k, h, now, until).await
    }
    async fn complete(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
        r: &shared::labels::LabelRecord,
    ) -> Result<bool, shared::kernel::StoreError> {
        let rival = self.rival.lock().unwrap().take();
        if let Some(mut rival) = rival {
            rival.idempotency_key = PurchaseAttempt::key(o, p, 9);
            rival.number = 9;
            assert!(
                self.inner
                    .start(s, o, p, &rival, Some(&r.idempotency_key))
                    .await?
            );
        }
        self.inner.complete(s, o, p, r).await
    }
    async fn abandon(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
        k: &str,
    ) -> Result<bool, shared::kernel::StoreError> {
        self.inner.abandon(s, o, p, k).await
    }
    async fn next_package_reference(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        floor: u64,
    ) -> Result<u64, shared::kernel::StoreError> {
        self.inner.next_package_reference(s, o, floor).await
    }
    async fn void(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
        k: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<shared::labels::VoidWrite, shared::kernel::StoreError> {
        self.inner.void(s, o, p, k, at).await
    }
    async fn start_own_carrier(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
        sh: &shared::labels::OwnCarrierShipment,
        r: Option<&str>,
    ) -> Result<bool, shared::kernel::StoreError> {
        self.inner.start_own_carrier(s, o, p, sh, r).await
    }
    async fn own_carrier_confirmed(
        &self,
        s: &SellerId,
        o: &AmazonOrderId,
        p: &PackageId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, shared::kernel::StoreError> {
        self.inner.own_carrier_confirmed(s, o, p, at).await
    }
}

#[tokio::test]
async fn a_label_bought_under_an_attempt_no_longer_on_record_is_voided_at_once() {
    let (t, api, seller, order) = with_an_order("labels-unrecorded", 6_106).await;
    let clock = t.amazon_time();
    let request = one_package(&order);
    let rival = attempt_on_record(&t, &api, &request, LabelFormat::Pdf, "worker-1", false).await;
    let losing = LosingLedger {
        inner: ledger(&t),
        rival: std::sync::Mutex::new(Some(rival)),
    };
    let vault = vault(&t);
    // The attempt on record is worker-1's; its lease must run out before anyone else sends it.
    t.sim.advance_clock(chrono::Duration::minutes(6));
    let buyer = LabelPurchase {
        shipping: &api,
        ledger: &losing,
        vault: &vault,
        clock: clock.as_ref(),
        holder: "worker-2",
    };
    let policy = RatePolicy::CheapestOnTime;
    let job = LabelOrder {
        job_id: "test-job",
        request: &request,
        policy: &policy,
        format: LabelFormat::Pdf,
        deliver_by: None,
        purge_at: clock.now() + chrono::Duration::days(30),
    };
    let lost = buyer.buy_once(&seller, &job).await.unwrap_err();
    assert!(matches!(lost, LabelError::Contended { .. }), "{lost}");
    assert!(
        lost.is_retryable(),
        "the job tries again against the record"
    );
    let stats = t.sim.stats();
    let id = order.order_id.as_str();
    assert_eq!(stats.labels_bought(id, "pkg-1"), 1);
    assert_eq!(
        stats.labels_canceled.get(&format!("{id}/pkg-1")).copied(),
        Some(1),
        "the unrecorded label was voided: nothing paid for a label nobody has"
    );
    assert_eq!(stats.duplicate_purchases(), 0);
}
