//! Data-subject requests through `api`'s handler on moto and the simulator: access, deletion
//! (through the real redactor), correction of the ship-to and restriction to the shipment, each
//! on the audit log with its request's id, and what each changes for the routes staff use.

use crate::api::{call, event};
use crate::api_orders::{
    AS_PACKER, AS_PICKER, orders_of, packed_body, pii_reads, post, with_orders, work_label_jobs,
};
use crate::common::TestStack;
use serde_json::json;
use shared::api::Role;
use shared::aws::DynamoAuditLog;
use shared::kernel::{AuditEvent, AuditKind, AuditLog};

const AS_SUPERVISOR: Option<&[Role]> = Some(&[Role::Supervisor]);

/// The audit log's events of `kind` around the stack's day.
async fn audited(t: &TestStack, kind: AuditKind) -> Vec<AuditEvent> {
    let now = t.amazon_time().now();
    DynamoAuditLog::new(t.dynamo(), t.stack.table("audit"))
        .between(
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(1),
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

/// Amazon changes the order (a change it already has, as our own confirmation's shipment,
/// changes nothing) and the sweep takes it in: intake runs over the order's record and its
/// sealed items again.
async fn amazon_changes(t: &TestStack, seller: &str, order: &str, event: spapi_sim::OrderEvent) {
    t.sim.change_order(seller, order, event);
    t.sim.clock().advance(chrono::Duration::minutes(5));
    crate::common::run_sync(&t.order_sync(100), json!({})).await;
}

/// The sealed ship-to's purge date (epoch seconds), as a raw scan of the pii table has it.
async fn ship_to_purge_at(t: &TestStack, seller: &str, order: &str) -> Option<i64> {
    let key = format!("{seller}#{order}");
    t.scan("pii").await.iter().find_map(|i| {
        let mine = i["seller_order"].as_s().ok()? == &key && i["kind"].as_s().ok()? == "recipient";
        mine.then(|| i["pii_purge_at"].as_n().ok()?.parse().ok())?
    })
}

#[tokio::test]
async fn a_data_subject_access_request_answers_what_is_held_with_its_confirmation_audited() {
    let (t, api, seller) = with_orders("api-subject-access", 16_005).await;
    let open = orders_of(&api, &seller, "unshipped").await;
    let order = &open[0];
    let path = format!("/orders/{seller}/{}/data-subject-access", order.order_id);
    let as_supervisor = Some(&[Role::Supervisor][..]);
    let missing = call(&api, event("GET", &path, &[], as_supervisor)).await;
    assert_eq!(
        missing.body["errors"],
        json!([{"field": "query.request_id", "message": "required"}])
    );
    for role in [Role::Picker, Role::Packer, Role::Admin, Role::Auditor] {
        let a = call(
            &api,
            event("GET", &path, &[("request_id", "DSR-7")], Some(&[role])),
        )
        .await;
        assert_eq!(a.status, 403, "{role:?}");
    }
    assert!(
        pii_reads(&t).await.is_empty(),
        "a refused request opens nothing"
    );

    let a = call(
        &api,
        event("GET", &path, &[("request_id", "DSR-7")], as_supervisor),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let c = &a.body["confirmation"];
    assert_eq!(
        (c["request_id"].as_str(), c["answered_by"].as_str()),
        (Some("DSR-7"), Some("staff:staff-7"))
    );
    let purge_day = &a.body["order"]["pii"]["purge_at"].as_str().unwrap()[..10];
    assert!(
        c["statement"].as_str().unwrap().contains(purge_day),
        "the statement says when the data goes: {}",
        c["statement"]
    );
    assert!(a.body["ship_to"]["address_line1"].is_string(), "{}", a.body);
    assert!(a.body["buyer"].is_object(), "{}", a.body);
    assert_eq!(a.body["order"]["order_id"], order.order_id.as_str());
    // Both parts opened, each on the audit log under the request's id.
    let reads = pii_reads(&t).await;
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(
        reads
            .iter()
            .all(|r| r.purpose == "data-subject access: DSR-7" && r.actor == "staff:staff-7")
    );
}

#[tokio::test]
async fn a_data_subject_deletion_is_handed_to_the_redactor_once_and_confirmed_in_writing() {
    let (t, api, seller) = with_orders("api-subject-deletion", 16_007).await;
    let open = orders_of(&api, &seller, "unshipped").await;
    let (order, other) = (&open[0], &open[1]);
    let path = format!("/orders/{seller}/{}/data-subject-deletion", order.order_id);
    let body = json!({"request_id": "DSR-del-1"});
    let as_supervisor = Some(&[Role::Supervisor][..]);
    for role in [Role::Picker, Role::Packer, Role::Admin, Role::Auditor] {
        let a = call(&api, post(&path, Some(&[role]), None, &body)).await;
        assert_eq!(a.status, 403, "{role:?}");
    }
    let asked = call(&api, post(&path, as_supervisor, None, &body)).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert_eq!(
        (
            asked.body["status"].as_str(),
            asked.body["confirmation"].as_str()
        ),
        (
            Some("in_progress"),
            Some("/data-subject-deletions/DSR-del-1")
        )
    );
    // The id is taken at once: the same id for another order is refused before the redactor
    // has even seen the first.
    let confirmation = "/data-subject-deletions/DSR-del-1";
    let early = call(&api, event("GET", confirmation, &[], as_supervisor)).await;
    assert_eq!(
        (early.status, &early.body["status"]),
        (200, &json!("in_progress"))
    );
    let elsewhere = format!("/orders/{seller}/{}/data-subject-deletion", other.order_id);
    let reused = call(&api, post(&elsewhere, as_supervisor, None, &body)).await;
    assert_eq!(
        (reused.status, reused.body["type"].as_str()),
        (409, Some("/problems/request-id-reused"))
    );
    let unknown = call(
        &api,
        event(
            "GET",
            "/data-subject-deletions/DSR-none",
            &[],
            as_supervisor,
        ),
    )
    .await;
    assert_eq!(unknown.status, 404);

    // The redactor works the queue: the order's PII deleted, the confirmation written.
    let redactor = t.pii_redactor(t.amazon_time());
    let report = t.pump_deletion_requests(&redactor).await;
    assert_eq!(report.completed, 1, "{report:?}");
    let done = call(
        &api,
        event("GET", confirmation, &[], Some(&[Role::Auditor])),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "completed");
    assert_eq!(done.body["orders_purged"], 1);
    assert_eq!(done.body["requested_by"], "staff:staff-7");
    assert!(done.body["pii_items_deleted"].as_u64().unwrap() >= 1);

    // Asked again: where it stands, nothing handed in twice; the same id on another order is
    // refused.
    let again = call(&api, post(&path, as_supervisor, None, &body)).await;
    assert_eq!(
        (again.status, &again.body["status"]),
        (200, &json!("completed"))
    );
    assert!(t.queue_bodies("deletion-requests").await.is_empty());
    assert!(t.queue_bodies("deletion-requests-dlq").await.is_empty());

    // The PII is gone: the ship-to answers 410, an access request says it was deleted.
    let ship_to = call(
        &api,
        event(
            "GET",
            &format!("/orders/{seller}/{}/ship-to", order.order_id),
            &[("purpose", "packing")],
            AS_PACKER,
        ),
    )
    .await;
    assert_eq!(ship_to.status, 410);
    let access = call(
        &api,
        event(
            "GET",
            &format!("/orders/{seller}/{}/data-subject-access", order.order_id),
            &[("request_id", "DSR-acc-2")],
            as_supervisor,
        ),
    )
    .await;
    assert_eq!(access.status, 200, "{}", access.body);
    assert!(access.body["buyer"].is_null() && access.body["ship_to"].is_null());
    assert!(
        access.body["confirmation"]["statement"]
            .as_str()
            .unwrap()
            .contains("was deleted on"),
        "{}",
        access.body
    );
}

#[tokio::test]
async fn a_corrected_ship_to_replaces_amazons_for_staff_and_the_slip_and_is_never_sent_to_amazons_label()
 {
    let (t, api, seller) = with_orders("api-subject-correction", 16_011).await;
    let open = orders_of(&api, &seller, "unshipped").await;
    let (order, packed_first) = (&open[0], &open[1]);
    let base = format!("/orders/{seller}/{}", order.order_id);
    let path = format!("{base}/data-subject-correction");
    let ship_to = json!({
        "name": "Corrected Person", "address_line1": "77 Corrected Lane", "city": "Springfield",
        "state_or_region": "IL", "postal_code": "62701", "country_code": "US",
        "address_type": "RESIDENTIAL"});
    let body = json!({"request_id": "DSR-cor-1", "ship_to": ship_to});
    for role in [Role::Picker, Role::Packer, Role::Admin, Role::Auditor] {
        let a = call(&api, post(&path, Some(&[role]), None, &body)).await;
        assert_eq!(a.status, 403, "{role:?}");
    }
    // Each bad field named, its value never echoed; nothing recorded or sealed.
    let bad = json!({"request_id": "DSR-cor-1", "ship_to": {
        "name": " ", "address_line1": "1 Zq Street", "city": "Qx\u{7}town",
        "country_code": "Zqx", "address_type": "Castle"}});
    let refused = call(&api, post(&path, AS_SUPERVISOR, None, &bad)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let mut fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "body/ship_to/address_type",
            "body/ship_to/city",
            "body/ship_to/country_code",
            "body/ship_to/name"
        ]
    );
    let text = String::from_utf8_lossy(&refused.bytes);
    assert!(!text.contains("Zqx") && !text.contains("Castle") && !text.contains("Qx"));
    assert!(audited(&t, AuditKind::SubjectCorrection).await.is_empty());

    let done = call(&api, post(&path, AS_SUPERVISOR, None, &body)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let c = &done.body["confirmation"];
    assert_eq!(
        (c["request_id"].as_str(), c["answered_by"].as_str()),
        (Some("DSR-cor-1"), Some("staff:staff-7"))
    );
    assert!(
        c["statement"].as_str().unwrap().contains("own carrier"),
        "{c}"
    );
    let corrected_at = done.body["order"]["pii"]["ship_to_corrected_at"].clone();
    assert!(corrected_at.is_string(), "{}", done.body);
    assert!(
        !String::from_utf8_lossy(&done.bytes).contains("Corrected Lane"),
        "the answer does not echo the address"
    );
    let events = audited(&t, AuditKind::SubjectCorrection).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].purpose.as_str(), events[0].actor.as_str()),
        ("data-subject correction: DSR-cor-1", "staff:staff-7")
    );
    // The same request again: its confirmation, nothing sealed or recorded twice.
    let again = call(&api, post(&path, AS_SUPERVISOR, None, &body)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        again.body["order"]["pii"]["ship_to_corrected_at"],
        corrected_at
    );
    assert_eq!(
        again.body["order"]["revision"],
        done.body["order"]["revision"]
    );
    assert_eq!(audited(&t, AuditKind::SubjectCorrection).await.len(), 1);

    // Staff see the corrected ship-to, and the packing slip prints it.
    let shown = call(
        &api,
        event(
            "GET",
            &format!("{base}/ship-to"),
            &[("purpose", "packing")],
            AS_PACKER,
        ),
    )
    .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(
        (
            shown.body["name"].as_str(),
            shown.body["address_line1"].as_str()
        ),
        (Some("Corrected Person"), Some("77 Corrected Lane"))
    );
    let slip = call(
        &api,
        event("GET", &format!("{base}/packing-slip"), &[], AS_PACKER),
    )
    .await;
    assert_eq!(slip.status, 200);
    assert!(String::from_utf8_lossy(&slip.bytes).contains("(77 Corrected Lane)"));

    // A label bought through Amazon would print Amazon's copy: packing for one is refused, and
    // the order ships on the operator's own carrier.
    let packed = call(
        &api,
        post(
            &format!("{base}/packed"),
            AS_PACKER,
            Some("pack-cor"),
            &packed_body(order),
        ),
    )
    .await;
    assert_eq!(
        (packed.status, packed.body["type"].as_str()),
        (409, Some("/problems/ship-to-corrected")),
        "{}",
        packed.body
    );
    assert!(t.queue_bodies("label-jobs").await.is_empty());
    let own = call(
        &api,
        post(
            &format!("{base}/packages/box-1/shipped"),
            AS_PACKER,
            Some("own-cor"),
            &json!({"carrier_code": "UPS", "tracking_number": "1Z999AA10123456784"}),
        ),
    )
    .await;
    assert_eq!(own.status, 202, "{}", own.body);
    let report = work_label_jobs(&t).await;
    assert_eq!(report.shipments_confirmed, 1, "{report:?}");

    // Amazon's update of the order goes through intake: the correction stands.
    amazon_changes(
        &t,
        &seller,
        order.order_id.as_str(),
        spapi_sim::OrderEvent::Ship,
    )
    .await;
    let after = call(&api, event("GET", &base, &[], AS_PICKER)).await;
    assert_eq!(
        after.body["pii"]["ship_to_corrected_at"], corrected_at,
        "{}",
        after.body
    );
    let shown = call(
        &api,
        event(
            "GET",
            &format!("{base}/ship-to"),
            &[("purpose", "delivery_problem")],
            AS_PACKER,
        ),
    )
    .await;
    assert_eq!(
        shown.body["address_line1"], "77 Corrected Lane",
        "{}",
        shown.body
    );
    let access = call(
        &api,
        event(
            "GET",
            &format!("{base}/data-subject-access"),
            &[("request_id", "DSR-acc-9")],
            AS_SUPERVISOR,
        ),
    )
    .await;
    assert_eq!(access.body["ship_to"]["address_line1"], "77 Corrected Lane");
    assert!(
        access.body["confirmation"]["statement"]
            .as_str()
            .unwrap()
            .contains("corrected on"),
        "{}",
        access.body
    );
    // Delivered: the order's PII goes on the date delivery sets, the corrected ship-to with it.
    amazon_changes(
        &t,
        &seller,
        order.order_id.as_str(),
        spapi_sim::OrderEvent::Deliver,
    )
    .await;
    let delivered = call(&api, event("GET", &base, &[], AS_PICKER)).await;
    assert_ne!(
        delivered.body["pii"]["purge_at"], after.body["pii"]["purge_at"],
        "delivery moved the date: {}",
        delivered.body
    );
    let purge_at =
        chrono::DateTime::parse_from_rfc3339(delivered.body["pii"]["purge_at"].as_str().unwrap())
            .unwrap()
            .timestamp();
    assert_eq!(
        ship_to_purge_at(&t, &seller, order.order_id.as_str()).await,
        Some(purge_at)
    );

    // A deletion under way (its items deleted, the record not yet marked) is never undone.
    let deleting = &open[2];
    let key = format!("{seller}#{}", deleting.order_id);
    for kind in ["buyer", "recipient"] {
        t.dynamo()
            .delete_item()
            .table_name(t.stack.table("pii"))
            .key(
                "seller_order",
                aws_sdk_dynamodb::types::AttributeValue::S(key.clone()),
            )
            .key(
                "kind",
                aws_sdk_dynamodb::types::AttributeValue::S(kind.into()),
            )
            .send()
            .await
            .unwrap();
    }
    let gone = call(
        &api,
        post(
            &format!(
                "/orders/{seller}/{}/data-subject-correction",
                deleting.order_id
            ),
            AS_SUPERVISOR,
            None,
            &json!({"request_id": "DSR-cor-3", "ship_to": ship_to}),
        ),
    )
    .await;
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert_eq!(
        ship_to_purge_at(&t, &seller, deleting.order_id.as_str()).await,
        None
    );

    // Once packed (its label bought from the ship-to held), an order's ship-to stays.
    let other = format!("/orders/{seller}/{}", packed_first.order_id);
    let p = call(
        &api,
        post(
            &format!("{other}/packed"),
            AS_PACKER,
            Some("pack-2"),
            &packed_body(packed_first),
        ),
    )
    .await;
    assert_eq!(p.status, 202, "{}", p.body);
    let late = call(
        &api,
        post(
            &format!("{other}/data-subject-correction"),
            AS_SUPERVISOR,
            None,
            &json!({"request_id": "DSR-cor-2", "ship_to": ship_to}),
        ),
    )
    .await;
    assert_eq!(
        (late.status, late.body["type"].as_str()),
        (409, Some("/problems/ship-to-in-use")),
        "{}",
        late.body
    );
    // On record: the correction, and the try on the order being deleted (its data key was
    // made before the write was refused); not the one refused before anything was used.
    assert_eq!(audited(&t, AuditKind::SubjectCorrection).await.len(), 2);
}

#[tokio::test]
async fn a_restricted_order_shows_its_ship_to_to_no_one_yet_its_label_is_bought_and_printed() {
    let (t, api, seller) = with_orders("api-subject-restriction", 16_013).await;
    let open = orders_of(&api, &seller, "unshipped").await;
    let order = &open[0];
    let base = format!("/orders/{seller}/{}", order.order_id);
    let path = format!("{base}/data-subject-restriction");
    for role in [Role::Picker, Role::Packer, Role::Admin, Role::Auditor] {
        let a = call(
            &api,
            post(
                &path,
                Some(&[role]),
                None,
                &json!({"request_id": "DSR-r-1"}),
            ),
        )
        .await;
        assert_eq!(a.status, 403, "{role:?}");
    }
    let done = call(
        &api,
        post(
            &path,
            AS_SUPERVISOR,
            None,
            &json!({"request_id": "DSR-r-1"}),
        ),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let since = done.body["order"]["pii"]["restricted_since"].clone();
    assert!(since.is_string(), "{}", done.body);
    assert_eq!(done.body["confirmation"]["request_id"], "DSR-r-1");
    // Asked again, under any id: the restriction standing, recorded once.
    let again = call(
        &api,
        post(
            &path,
            AS_SUPERVISOR,
            None,
            &json!({"request_id": "DSR-r-2"}),
        ),
    )
    .await;
    assert_eq!(
        (again.status, &again.body["confirmation"]["request_id"]),
        (200, &json!("DSR-r-1"))
    );
    assert_eq!(again.body["order"]["pii"]["restricted_since"], since);
    let events = audited(&t, AuditKind::SubjectRestriction).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].purpose, "data-subject restriction: DSR-r-1");

    // No one is shown the ship-to; the packing slip goes without it; nothing is opened.
    let shown = call(
        &api,
        event(
            "GET",
            &format!("{base}/ship-to"),
            &[("purpose", "packing")],
            AS_PACKER,
        ),
    )
    .await;
    assert_eq!(
        (shown.status, shown.body["type"].as_str()),
        (409, Some("/problems/pii-restricted")),
        "{}",
        shown.body
    );
    let slip = call(
        &api,
        event("GET", &format!("{base}/packing-slip"), &[], AS_PACKER),
    )
    .await;
    assert_eq!(slip.status, 200);
    let text = String::from_utf8_lossy(&slip.bytes);
    assert!(text.contains("(on the shipping label)"));
    for value in t.sim.seeded_pii_values() {
        if value.len() >= 6 {
            assert!(!text.contains(&value), "the slip prints no PII");
        }
    }
    assert!(pii_reads(&t).await.is_empty(), "nothing opened for staff");
    // But for the label of a parcel on the operator's own carrier: the shipment itself.
    let for_label = call(
        &api,
        event(
            "GET",
            &format!("{base}/ship-to"),
            &[("purpose", "own_carrier_label")],
            AS_PACKER,
        ),
    )
    .await;
    assert_eq!(for_label.status, 200, "{}", for_label.body);
    let reads = pii_reads(&t).await;
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].purpose, "ship-to: own_carrier_label");

    // The shipment itself goes on: packed, the label bought through Amazon and printed.
    let packed = call(
        &api,
        post(
            &format!("{base}/packed"),
            AS_PACKER,
            Some("pack-r"),
            &packed_body(order),
        ),
    )
    .await;
    assert_eq!(packed.status, 202, "{}", packed.body);
    let report = work_label_jobs(&t).await;
    assert_eq!(report.dead_lettered, 0, "{report:?}");
    let label = call(
        &api,
        event(
            "GET",
            &format!("{base}/labels/pkg-1"),
            &[("purpose", "print")],
            AS_PACKER,
        ),
    )
    .await;
    assert_eq!(label.status, 200, "{}", label.body);

    // The buyer's own access request still answers what is held, and says it is restricted.
    let access = call(
        &api,
        event(
            "GET",
            &format!("{base}/data-subject-access"),
            &[("request_id", "DSR-acc-3")],
            AS_SUPERVISOR,
        ),
    )
    .await;
    assert_eq!(access.status, 200, "{}", access.body);
    assert!(access.body["ship_to"].is_object());
    assert!(
        access.body["confirmation"]["statement"]
            .as_str()
            .unwrap()
            .contains("used for shipping the order and nothing else"),
        "{}",
        access.body
    );

    // Amazon's update of the order does not lift it.
    amazon_changes(
        &t,
        &seller,
        order.order_id.as_str(),
        spapi_sim::OrderEvent::Ship,
    )
    .await;
    let after = call(&api, event("GET", &base, &[], AS_PICKER)).await;
    assert_eq!(after.body["status"], "shipped", "{}", after.body);
    assert_eq!(after.body["pii"]["restricted_since"], since);
    let shown = call(
        &api,
        event(
            "GET",
            &format!("{base}/ship-to"),
            &[("purpose", "delivery_problem")],
            AS_PACKER,
        ),
    )
    .await;
    assert_eq!(shown.status, 409);
}
