//! The staff API's orders, picking, packing and label routes through `api`'s handler on moto
//! and the simulator: orders stored by the real sweep, the label jobs it sends carried out by
//! the real `label-worker`, every route walked under every role with no PII reaching a role
//! without PII rights, and every PII read on the audit log before its answer.

use crate::api::{Answer, call, event, event_with};
use crate::common::{TestStack, stack};
use crate::labels::{sqs_event, write_settings};
use serde_json::{Value, json};
use shared::api::Role;
use shared::aws::DynamoAuditLog;
use shared::kernel::{AuditKind, AuditLog};
use shared::lambda::api::ApiHandler;
use shared::orders::Order;
use spapi_sim::SimConfig;
use std::collections::BTreeMap;

pub(crate) const AS_PICKER: Option<&[Role]> = Some(&[Role::Picker]);
pub(crate) const AS_PACKER: Option<&[Role]> = Some(&[Role::Packer]);

/// A stack with the seller's orders stored by the sweep (PII sealed, stock reserved), its
/// label settings written, and every SKU of its open orders received in.
pub(crate) async fn with_orders(test: &str, seed: u64) -> (TestStack, ApiHandler, String) {
    let t = stack(test, SimConfig::demo(1, 12, seed)).await;
    crate::common::run_sync(&t.order_sync(100), json!({})).await;
    write_settings(&t, BTreeMap::new()).await;
    let seller = t.seller(0).as_str().to_owned();
    let stock = t.stock_sync();
    let run = |v: Value| {
        let stock = &stock;
        async move {
            stock
                .command(serde_json::from_value(v).unwrap())
                .await
                .expect("command runs")
        }
    };
    run(
        json!({"command": "set_locations", "seller_id": seller, "locations": {"locations": [
        {"id": "A-01", "kind": "sellable"}, {"id": "A-02", "kind": "sellable"}]}}),
    )
    .await;
    let api = t.api();
    let open = orders_of(&api, &seller, "open").await;
    let mut skus: Vec<String> = open
        .iter()
        .flat_map(|o| o.lines.iter().filter_map(|l| l.sku.clone()))
        .map(|s| s.as_str().to_owned())
        .collect();
    skus.sort();
    skus.dedup();
    let movements: Vec<Value> = skus
        .iter()
        .enumerate()
        .flat_map(|(i, sku)| {
            [("A-01", 1), ("A-02", 20)].map(|(location, quantity)| {
                json!({"movement_id": format!("rcv-{i}-{location}"), "seller_id": seller,
                       "sku": sku, "actor": "staff:test", "kind": "receive",
                       "location": location, "quantity": quantity})
            })
        })
        .collect();
    run(json!({"command": "movements", "movements": movements})).await;
    t.pump_stock(&stock).await;
    (t, api, seller)
}

/// Every order of `status` (`open`, a status, or `all`), all pages read 3 at a time.
pub(crate) async fn orders_of(api: &ApiHandler, seller: &str, status: &str) -> Vec<Order> {
    let path = format!("/orders/{seller}");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "3")];
        if status != "all" {
            q.push(("status", status));
        }
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page = call(api, event("GET", &path, &q, AS_PICKER)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for o in page.body["orders"].as_array().unwrap() {
            seen.push(serde_json::from_value(o.clone()).expect("an order"));
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
}

pub(crate) fn post(path: &str, groups: Option<&[Role]>, key: Option<&str>, body: &Value) -> String {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    event_with("POST", path, &[], groups, &headers, Some(body))
}

pub(crate) fn scans_of(order: &Order) -> Value {
    let scans: Vec<Value> = order
        .lines
        .iter()
        .map(|l| json!({"sku": l.sku.as_ref().unwrap().as_str(), "quantity": l.quantity_ordered}))
        .collect();
    json!(scans)
}

pub(crate) fn packed_body(order: &Order) -> Value {
    json!({
        "scans": scans_of(order),
        "packages": [{
            "package_id": "pkg-1", "weight_grams": 900,
            "dimensions": {"length_cm": 30.0, "width_cm": 20.0, "height_cm": 12.0},
            "items": order.lines.iter().map(|l| json!({
                "order_item_id": l.order_item_id.as_str(), "quantity": l.quantity_ordered,
            })).collect::<Vec<_>>(),
        }],
    })
}

/// The label-jobs queue through the real `label-worker`, as its event source would.
pub(crate) async fn work_label_jobs(
    t: &TestStack,
) -> shared::lambda::label_worker::LabelBatchReport {
    let bodies = local_stack::queues::drain_bodies(&t.sqs(), t.stack.queue("label-jobs"))
        .await
        .unwrap();
    t.label_worker()
        .handle_jobs(sqs_event(&bodies), "inv-api")
        .await
}

pub(crate) async fn pii_reads(t: &TestStack) -> Vec<shared::kernel::AuditEvent> {
    let now = t.amazon_time().now();
    DynamoAuditLog::new(t.dynamo(), t.stack.table("audit"))
        .between(
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(1),
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::PiiRead)
        .collect()
}

#[tokio::test]
async fn an_order_is_picked_verified_packed_labeled_and_voided_through_the_api() {
    let (t, api, seller) = with_orders("api-orders-flow", 16_001).await;
    let all = orders_of(&api, &seller, "all").await;
    let open = orders_of(&api, &seller, "open").await;
    assert!(open.len() >= 2, "{} open of {}", open.len(), all.len());
    assert!(open.iter().all(|o| o.status.is_open()));
    assert!(
        open.windows(2).all(|w| w[0].ship_by <= w[1].ship_by),
        "open orders come earliest ship-by first"
    );
    // Due by a date: the open-orders index's range, and refused for orders that are not open.
    let path = format!("/orders/{seller}");
    let due = |before: String, status: &'static str| {
        let api = &api;
        let path = &path;
        async move {
            call(
                api,
                event(
                    "GET",
                    path,
                    &[("status", status), ("ship_by_before", &before)],
                    AS_PICKER,
                ),
            )
            .await
        }
    };
    let latest = open.iter().filter_map(|o| o.ship_by).max().unwrap();
    let earliest = open.iter().filter_map(|o| o.ship_by).min().unwrap();
    let everything = due(latest.to_rfc3339(), "open").await;
    assert_eq!(
        everything.body["orders"].as_array().unwrap().len(),
        open.len().min(50)
    );
    let none = due(
        (earliest - chrono::Duration::seconds(1)).to_rfc3339(),
        "open",
    )
    .await;
    assert_eq!(none.body["orders"], json!([]), "{}", none.body);
    let shipped = due(latest.to_rfc3339(), "shipped").await;
    assert_eq!(shipped.body["errors"][0]["field"], "query.ship_by_before");
    let mut ids: Vec<_> = all.iter().map(|o| o.order_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "each order on one page only");
    let order = open
        .iter()
        .find(|o| o.lines.iter().all(|l| l.sku.is_some()))
        .unwrap()
        .clone();
    let id = order.order_id.as_str();
    let base = format!("/orders/{seller}/{id}");

    // The order without PII; its ship-to for a packer, with a purpose, audited first.
    let one = call(&api, event("GET", &base, &[], AS_PICKER)).await;
    assert_eq!(
        (one.status, one.body["pii"]["state"].as_str()),
        (200, Some("held"))
    );
    let ship_to_path = format!("{base}/ship-to");
    let no_purpose = call(&api, event("GET", &ship_to_path, &[], AS_PACKER)).await;
    assert_eq!(
        no_purpose.body["errors"],
        json!([{"field": "query.purpose", "message": "required"}])
    );
    assert!(
        pii_reads(&t).await.is_empty(),
        "a refused read opens nothing"
    );
    let ship_to = call(
        &api,
        event("GET", &ship_to_path, &[("purpose", "packing")], AS_PACKER),
    )
    .await;
    assert_eq!(ship_to.status, 200, "{}", ship_to.body);
    assert!(
        ship_to.body["address_line1"].is_string(),
        "{}",
        ship_to.body
    );
    let reads = pii_reads(&t).await;
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(
        (reads[0].actor.as_str(), reads[0].purpose.as_str()),
        ("staff:staff-7", "ship-to: packing")
    );
    assert_eq!(reads[0].order_id.as_ref(), Some(&order.order_id));

    // The packing slip: a PDF made now, naming the recipient, its read audited first.
    let slip_path = format!("{base}/packing-slip");
    let by_picker = call(&api, event("GET", &slip_path, &[], AS_PICKER)).await;
    assert_eq!(by_picker.status, 403);
    let slip = call(&api, event("GET", &slip_path, &[], AS_PACKER)).await;
    assert_eq!(
        (slip.status, slip.content_type.as_str()),
        (200, "application/pdf")
    );
    assert!(slip.bytes.starts_with(b"%PDF-"));
    let line1 = ship_to.body["address_line1"].as_str().unwrap();
    let shown = format!("({line1})");
    assert!(
        String::from_utf8_lossy(&slip.bytes).contains(&shown),
        "the slip names the street"
    );
    let reads = pii_reads(&t).await;
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(reads.iter().any(|r| r.purpose == "packing-slip"));

    // Picking: taken up, then the walk names the order's units, the shelf in walking order
    // first (A-01 holds one of each).
    let picking = call(
        &api,
        post(&format!("{base}/picking"), AS_PICKER, None, &json!({})),
    )
    .await;
    assert_eq!(
        (picking.status, picking.body["status"].as_str()),
        (200, Some("picking")),
        "{}",
        picking.body
    );
    let list = call(
        &api,
        event("GET", &format!("/pick-list/{seller}"), &[], AS_PICKER),
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body["orders"].as_array().unwrap().contains(&json!(id)));
    let stops = list.body["stops"].as_array().unwrap();
    let walk: Vec<&str> = stops
        .iter()
        .map(|s| s["location"].as_str().unwrap())
        .collect();
    assert!(
        walk.windows(2).all(|w| w[0] <= w[1]),
        "walking order: {walk:?}"
    );
    let units_for_order: u64 = stops
        .iter()
        .flat_map(|s| s["orders"].as_array().unwrap())
        .filter(|p| p["order_id"] == id)
        .map(|p| p["quantity"].as_u64().unwrap())
        .sum();
    assert_eq!(units_for_order, u64::from(order.units()));
    assert_eq!(list.body["short"], json!([]));

    // Scan-to-verify: a unit short and a stranger in the box, named; then the right scans.
    let first_sku = order.lines[0].sku.as_ref().unwrap().as_str();
    let mut wrong = scans_of(&order);
    wrong[0]["quantity"] = json!(order.lines[0].quantity_ordered - 1);
    wrong
        .as_array_mut()
        .unwrap()
        .push(json!({"sku": "NOT-IN-ORDER"}));
    let mismatch = call(
        &api,
        post(
            &format!("{base}/verify"),
            AS_PACKER,
            None,
            &json!({"scans": wrong}),
        ),
    )
    .await;
    assert_eq!(mismatch.status, 422, "{}", mismatch.body);
    assert_eq!(mismatch.body["type"], "/problems/scan-mismatch");
    assert_eq!(
        mismatch.body["missing"],
        json!([{"sku": first_sku, "quantity": 1}])
    );
    assert_eq!(
        mismatch.body["extra"],
        json!([{"sku": "NOT-IN-ORDER", "quantity": 1}])
    );
    let verified = call(
        &api,
        post(
            &format!("{base}/verify"),
            AS_PACKER,
            None,
            &json!({"scans": scans_of(&order)}),
        ),
    )
    .await;
    assert_eq!(verified.status, 200, "{}", verified.body);

    // Packed: a key is required; the same key again answers the same and sends nothing more;
    // the same key on another body is refused.
    let packed_path = format!("{base}/packed");
    let body = packed_body(&order);
    let no_key = call(&api, post(&packed_path, AS_PACKER, None, &body)).await;
    assert_eq!(no_key.body["errors"][0]["field"], "header.idempotency-key");
    let first = call(
        &api,
        post(&packed_path, AS_PACKER, Some("station-4-0001"), &body),
    )
    .await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.body["order"]["status"], "packed");
    let retry = call(
        &api,
        post(&packed_path, AS_PACKER, Some("station-4-0001"), &body),
    )
    .await;
    assert_eq!((retry.status, &retry.body), (202, &first.body));
    let mut other = body.clone();
    other["location"] = json!("dock-2");
    let reused = call(
        &api,
        post(&packed_path, AS_PACKER, Some("station-4-0001"), &other),
    )
    .await;
    assert_eq!(
        (reused.status, reused.body["type"].as_str()),
        (422, Some("/problems/idempotency-key-reused"))
    );
    let jobs = t.queue_bodies("label-jobs").await;
    assert_eq!(jobs.len(), 1, "one label job for one packing: {jobs:?}");
    assert_eq!(jobs[0]["requested_by"], "staff:staff-7");
    // Put it back for the worker, as the queue held it.
    t.sqs()
        .send_message()
        .queue_url(t.stack.queue("label-jobs"))
        .message_body(jobs[0].to_string())
        .send()
        .await
        .unwrap();
    let labeled = work_label_jobs(&t).await;
    assert_eq!(
        (labeled.labels_bought, labeled.dead_lettered),
        (1, 0),
        "{labeled:?}"
    );

    // The label as it prints (the seller's printers take ZPL), opened on the record first.
    let label_path = format!("{base}/labels/pkg-1");
    let label = call(
        &api,
        event("GET", &label_path, &[("purpose", "print")], AS_PACKER),
    )
    .await;
    assert_eq!(label.status, 200, "{}", label.body);
    assert_eq!(label.content_type, "application/x-zpl");
    assert!(label.bytes.starts_with(b"^XA"));
    let reads = pii_reads(&t).await;
    assert_eq!(reads.len(), 3);
    assert!(reads.iter().any(|r| r.purpose == "label: print"));
    let picker_label = call(
        &api,
        event("GET", &label_path, &[("purpose", "print")], AS_PICKER),
    )
    .await;
    assert_eq!(picker_label.status, 403);
    assert_eq!(pii_reads(&t).await.len(), 3, "a refused read is no read");

    // Void: one job, carried out; the order back to Packed and the document gone.
    let void_path = format!("{label_path}/void");
    let with_body = call(
        &api,
        post(&void_path, AS_PACKER, Some("void-0"), &json!({})),
    )
    .await;
    assert_eq!(
        with_body.body["errors"][0]["field"], "body",
        "{}",
        with_body.body
    );
    let void = call(
        &api,
        event_with(
            "POST",
            &void_path,
            &[],
            AS_PACKER,
            &[("idempotency-key", "void-1")],
            None,
        ),
    )
    .await;
    assert_eq!(void.status, 202, "{}", void.body);
    let voided = work_label_jobs(&t).await;
    assert_eq!(voided.labels_voided, 1, "{voided:?}");
    let after = call(&api, event("GET", &base, &[], AS_PICKER)).await;
    assert_eq!(after.body["status"], "packed");
    let gone = call(
        &api,
        event("GET", &label_path, &[("purpose", "reprint")], AS_PACKER),
    )
    .await;
    assert_eq!(gone.status, 410, "{}", gone.body);
    let again = call(
        &api,
        event_with(
            "POST",
            &void_path,
            &[],
            AS_PACKER,
            &[("idempotency-key", "void-2")],
            None,
        ),
    )
    .await;
    assert_eq!(
        (again.status, again.body["type"].as_str()),
        (409, Some("/problems/no-live-label"))
    );
    // Its label voided, the order is packed again under a new key: a new job, a new label.
    let repacked = call(
        &api,
        post(&packed_path, AS_PACKER, Some("station-4-0002"), &body),
    )
    .await;
    assert_eq!(repacked.status, 202, "{}", repacked.body);
    assert_ne!(repacked.body["label_job_id"], first.body["label_job_id"]);
    let relabeled = work_label_jobs(&t).await;
    assert_eq!(relabeled.labels_bought, 1, "{relabeled:?}");
    let twice = call(
        &api,
        post(&packed_path, AS_PACKER, Some("station-4-0003"), &body),
    )
    .await;
    assert_eq!(
        (twice.status, twice.body["type"].as_str()),
        (409, Some("/problems/order-status")),
        "labeled again: no second packing"
    );
}

#[tokio::test]
async fn an_order_shipped_on_the_operators_own_carrier_is_confirmed_once() {
    let (t, api, seller) = with_orders("api-own-carrier", 16_002).await;
    let open = orders_of(&api, &seller, "unshipped").await;
    let order = open[0].clone();
    let base = format!("/orders/{seller}/{}", order.order_id);
    let shipped_path = format!("{base}/packages/box-1/shipped");
    let bad = call(
        &api,
        post(
            &shipped_path,
            AS_PACKER,
            Some("own-1"),
            &json!({"carrier_code": "ups", "tracking_number": "1Z999AA10123456784"}),
        ),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["errors"][0]["field"], "body/carrier_code");
    let unknown_field = call(
        &api,
        post(
            &shipped_path,
            AS_PACKER,
            Some("own-1"),
            &json!({"carrier_code": "UPS", "tracking_number": "1Z9", "ship_to": "x"}),
        ),
    )
    .await;
    assert_eq!(unknown_field.status, 400);
    assert!(
        unknown_field.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `ship_to`"),
        "{}",
        unknown_field.body
    );
    let body = json!({"carrier_code": "UPS", "tracking_number": "1Z999AA10123456784"});
    let sent = call(&api, post(&shipped_path, AS_PACKER, Some("own-1"), &body)).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let retry = call(&api, post(&shipped_path, AS_PACKER, Some("own-1"), &body)).await;
    assert_eq!(retry.body, sent.body);
    let report = work_label_jobs(&t).await;
    assert_eq!(
        (report.shipments_confirmed, report.dead_lettered),
        (1, 0),
        "{report:?}"
    );
    let after = call(&api, event("GET", &base, &[], AS_PICKER)).await;
    assert_eq!(after.body["status"], "shipped", "{}", after.body);
    assert_eq!(t.calls("confirmShipment"), 1);
}

/// Each route as each role may call it: (method, path, query, body, key, allowed roles).
type Route = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    Option<Value>,
    &'static [Role],
);

/// Every string value of a JSON document, however deep.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_order_route_under_every_role_answers_by_the_matrix_and_no_pii_reaches_another_role()
{
    use Role::*;
    let (t, api, seller) = with_orders("api-orders-roles", 16_003).await;
    let open = orders_of(&api, &seller, "unshipped").await;
    let order = open[0].clone();
    let base = format!("/orders/{seller}/{}", order.order_id);
    // The PII of the order, as the packer sees it: what no other role may ever receive.
    let pii = call(
        &api,
        event(
            "GET",
            &format!("{base}/ship-to"),
            &[("purpose", "packing")],
            AS_PACKER,
        ),
    )
    .await;
    let mut secrets = Vec::new();
    strings(&pii.body, &mut secrets);
    secrets.retain(|s| s.len() >= 6 && s != order.order_id.as_str());
    assert!(secrets.len() >= 2, "{secrets:?}");
    let reads_before = pii_reads(&t).await.len();

    let floor: &[Role] = &[Picker, Packer, Supervisor, Admin];
    let pack: &[Role] = &[Packer, Supervisor];
    let pick: &[Role] = &[Picker, Supervisor];
    let routes: Vec<Route> = vec![
        (
            "GET",
            format!("/orders/{seller}"),
            vec![("status", "open")],
            None,
            floor,
        ),
        ("GET", base.clone(), vec![], None, floor),
        (
            "GET",
            format!("{base}/ship-to"),
            vec![("purpose", "packing")],
            None,
            pack,
        ),
        ("GET", format!("{base}/packing-slip"), vec![], None, pack),
        (
            "GET",
            format!("{base}/data-subject-access"),
            vec![("request_id", "DSR-1")],
            None,
            &[Supervisor],
        ),
        ("GET", format!("/pick-list/{seller}"), vec![], None, pick),
        (
            "POST",
            format!("{base}/picking"),
            vec![],
            Some(json!({})),
            pick,
        ),
        (
            "POST",
            format!("{base}/verify"),
            vec![],
            Some(json!({"scans": scans_of(&order)})),
            pack,
        ),
        (
            "POST",
            format!("{base}/packed"),
            vec![],
            Some(packed_body(&order)),
            pack,
        ),
        (
            "GET",
            format!("{base}/labels/pkg-1"),
            vec![("purpose", "print")],
            None,
            pack,
        ),
        (
            "POST",
            format!("{base}/labels/pkg-1/void"),
            vec![],
            Some(json!({})),
            pack,
        ),
        (
            "POST",
            format!("{base}/packages/box-1/shipped"),
            vec![],
            Some(json!({"carrier_code": "UPS", "tracking_number": "1Z999AA10123456784"})),
            pack,
        ),
        // Last: the buyer's own requests change what the routes above may do.
        (
            "POST",
            format!("{base}/data-subject-correction"),
            vec![],
            Some(json!({"request_id": "DSR-2", "ship_to": {
                "name": "Matrix Person", "address_line1": "1 Matrix Way", "city": "Testville",
                "country_code": "US"}})),
            &[Supervisor],
        ),
        (
            "POST",
            format!("{base}/data-subject-restriction"),
            vec![],
            Some(json!({"request_id": "DSR-3"})),
            &[Supervisor],
        ),
    ];
    let mut pii_answers = 0;
    for (method, path, query, body, allowed) in &routes {
        for role in Role::ALL {
            let key = format!("matrix-{}", role.name());
            let headers = [("idempotency-key", key.as_str())];
            let e = event_with(method, path, query, Some(&[role]), &headers, body.as_ref());
            let a: Answer = call(&api, e).await;
            if allowed.contains(&role) {
                assert!(
                    ![401, 403].contains(&a.status) && a.status < 500,
                    "{method} {path} as {role:?}: {} {}",
                    a.status,
                    a.body
                );
            } else {
                assert_eq!(a.status, 403, "{method} {path} as {role:?}: {}", a.body);
                assert_eq!(a.body["type"], "/problems/forbidden");
            }
            let text = String::from_utf8_lossy(&a.bytes);
            let carries_pii = secrets.iter().any(|s| text.contains(s.as_str()));
            if carries_pii {
                pii_answers += 1;
                assert!(
                    [Packer, Supervisor].contains(&role),
                    "{method} {path} gave {role:?} PII"
                );
            }
        }
        let none = call(
            &api,
            event_with(method, path, query, None, &[], body.as_ref()),
        )
        .await;
        assert_eq!(none.status, 401, "{method} {path}");
    }
    // One packing, one label job: the supervisor's second packing (another key) was refused.
    let jobs = t.queue_bodies("label-jobs").await;
    let labels: Vec<_> = jobs
        .iter()
        .filter(|j| j.get("kind").is_none_or(|k| k == "label"))
        .collect();
    assert_eq!(labels.len(), 1, "{jobs:?}");
    // The ship-to and the packing slip went to the packer and the supervisor, the access
    // request's answer to the supervisor, each read audited before it (the access request
    // opens the buyer and the ship-to: two reads).
    assert_eq!(pii_answers, 5);
    assert_eq!(pii_reads(&t).await.len(), reads_before + 6);
}
