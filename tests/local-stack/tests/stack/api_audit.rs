//! The auditor report over HTTP: asked for through `api`'s handler, made by the real
//! `audit-report` from its queue (CloudTrail through the stand-in), kept in the reports bucket
//! on moto, and read back inline and through its presigned link.

use crate::api::{call, event, event_with};
use crate::audit_report::through;
use crate::common::stack;
use crate::labels::sqs_event;
use local_stack::trail::TrailStandIn;
use serde_json::{Value, json};
use shared::api::Role;
use spapi_sim::SimConfig;

const AS_AUDITOR: Option<&[Role]> = Some(&[Role::Auditor]);

fn ask(key: Option<&str>, groups: Option<&[Role]>, body: &Value) -> String {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    event_with("POST", "/audit-reports", &[], groups, &headers, Some(body))
}

#[tokio::test]
async fn an_auditor_asks_for_a_report_and_reads_it_inline_and_by_link_once_audit_report_made_it() {
    let t = stack("api-audit-report", SimConfig::demo(1, 6, 5_153)).await;
    crate::common::run_sync(&t.order_sync(100), json!({})).await;
    let api = t.api();
    let clock = t.amazon_time();
    let range = json!({
        "from": (clock.now() - chrono::Duration::days(2)).to_rfc3339(),
        "to": (clock.now() + chrono::Duration::hours(1)).to_rfc3339(),
    });

    // Auditors only; a key and a sound range needed; nothing is queued for a refusal.
    for role in [Role::Picker, Role::Packer, Role::Supervisor, Role::Admin] {
        let a = call(&api, ask(Some("k"), Some(&[role]), &range)).await;
        assert_eq!(a.status, 403, "{role:?}");
    }
    let keyless = call(&api, ask(None, AS_AUDITOR, &range)).await;
    assert_eq!(keyless.body["errors"][0]["field"], "header.idempotency-key");
    let backwards = json!({"from": range["to"], "to": range["from"]});
    let refused = call(&api, ask(Some("k"), AS_AUDITOR, &backwards)).await;
    assert_eq!(
        (refused.status, refused.body["errors"][0]["field"].as_str()),
        (400, Some("body/from")),
        "{}",
        refused.body
    );
    let unknown = call(&api, ask(Some("k"), AS_AUDITOR, &json!({"format": "xml"}))).await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(t.queue_bodies("audit-reports").await.is_empty());

    // Asked: recorded and queued; asked again with the key, the same report; the key on
    // another request, refused.
    let asked = call(&api, ask(Some("monthly-1"), AS_AUDITOR, &range)).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert_eq!(asked.body["status"], "requested");
    let id = asked.body["report_id"].as_str().unwrap().to_owned();
    assert_eq!(asked.body["location"], format!("/audit-reports/{id}"));
    let again = call(&api, ask(Some("monthly-1"), AS_AUDITOR, &range)).await;
    assert_eq!(
        (again.status, again.body["report_id"].as_str()),
        (202, Some(id.as_str()))
    );
    let reused = call(
        &api,
        ask(Some("monthly-1"), AS_AUDITOR, &json!({"format": "csv"})),
    )
    .await;
    assert_eq!(
        (reused.status, reused.body["type"].as_str()),
        (422, Some("/problems/idempotency-key-reused"))
    );
    let path = format!("/audit-reports/{id}");
    let waiting = call(&api, event("GET", &path, &[], AS_AUDITOR)).await;
    assert_eq!(
        (
            waiting.status,
            &waiting.body["status"],
            &waiting.body["download_url"]
        ),
        (200, &json!("requested"), &Value::Null)
    );
    for role in [Role::Picker, Role::Packer, Role::Supervisor, Role::Admin] {
        let a = call(&api, event("GET", &path, &[], Some(&[role]))).await;
        assert_eq!(a.status, 403, "{role:?}");
    }
    assert_eq!(call(&api, event("GET", &path, &[], None)).await.status, 401);

    // audit-report works its queue: the report made once, the second copy finds it made.
    let trail = TrailStandIn::start(&crate::common::moto().endpoint)
        .await
        .unwrap();
    let reporter = t.audit_report(&through(&trail, "audit-report").await, clock.clone());
    let mut bodies: Vec<String> = t
        .queue_bodies("audit-reports")
        .await
        .iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(bodies.len(), 2, "asked twice while it waited: {bodies:?}");
    bodies.push(json!({"report_id": "rpt-00000000000000000000000000000000"}).to_string());
    bodies.push(json!({"report_id": id, "buyer": "x"}).to_string());
    let batch = reporter.handle_jobs(sqs_event(&bodies)).await;
    assert_eq!(
        (
            batch.made,
            batch.already_done,
            batch.dead_lettered,
            batch.retried
        ),
        (1, 1, 2, 0),
        "{batch:?}"
    );
    let dead = t.queue_bodies("audit-reports-dlq").await;
    let kinds: Vec<&str> = dead
        .iter()
        .map(|d| d["reason_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["no-such-job", "malformed"], "{dead:?}");
    assert!(!dead.iter().any(|d| d.to_string().contains("\"x\"")));

    // Ready: its totals, the report inline, and a link that reads the same report unsigned.
    let ready = call(&api, event("GET", &path, &[], AS_AUDITOR)).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    assert_eq!(ready.body["content_type"], "application/json");
    let report = &ready.body["report"];
    assert_eq!(report["totals"], ready.body["totals"]);
    assert!(
        report["pii_held"]["items"].as_u64().unwrap() > 0,
        "{report}"
    );
    let link = ready.body["download_url"].as_str().unwrap();
    assert!(link.contains("X-Amz-Expires=900"), "{link}");
    let fetched = reqwest::get(link).await.unwrap();
    assert_eq!(fetched.status(), 200);
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(&fetched, report);

    // A CSV report: by link only.
    let csv = call(
        &api,
        ask(
            Some("monthly-csv"),
            AS_AUDITOR,
            &json!({"from": range["from"], "to": range["to"], "format": "csv"}),
        ),
    )
    .await;
    assert_eq!(csv.status, 202, "{}", csv.body);
    let bodies: Vec<String> = t
        .queue_bodies("audit-reports")
        .await
        .iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(reporter.handle_jobs(sqs_event(&bodies)).await.made, 1);
    let csv_path = csv.body["location"].as_str().unwrap();
    let ready = call(&api, event("GET", csv_path, &[], AS_AUDITOR)).await;
    assert_eq!(
        (
            &ready.body["status"],
            &ready.body["content_type"],
            &ready.body["report"]
        ),
        (&json!("ready"), &json!("text/csv"), &Value::Null),
        "{}",
        ready.body
    );
    let text = reqwest::get(ready.body["download_url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.lines().any(|l| l.starts_with("pii_held,")), "{text}");

    let none = call(
        &api,
        event(
            "GET",
            "/audit-reports/rpt-ffffffffffffffffffffffffffffffff",
            &[],
            AS_AUDITOR,
        ),
    )
    .await;
    assert_eq!(none.status, 404);
    let bad = call(
        &api,
        event("GET", "/audit-reports/monthly", &[], AS_AUDITOR),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (400, Some("path.report_id"))
    );
}

#[tokio::test]
async fn a_report_job_whose_tries_fail_is_given_up_with_its_reason_and_tried_afresh_when_asked_again()
 {
    let t = stack("api-audit-report-retry", SimConfig::demo(1, 3, 5_157)).await;
    let api = t.api();
    let clock = t.amazon_time();
    let asked = call(&api, ask(Some("weekly-1"), AS_AUDITOR, &json!({}))).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    let path = asked.body["location"].as_str().unwrap().to_owned();
    let body = t.queue_bodies("audit-reports").await[0].to_string();
    // CloudTrail out of reach (moto has no LookupEvents): each try fails and comes back.
    let unreachable = t.audit_report(&t.sdk, clock.clone());
    for try_ in 1..=2 {
        let batch = unreachable
            .handle_jobs(sqs_event(std::slice::from_ref(&body)))
            .await;
        assert_eq!(
            (batch.retried, batch.given_up),
            (1, 0),
            "try {try_}: {batch:?}"
        );
        let view = call(&api, event("GET", &path, &[], AS_AUDITOR)).await;
        assert_eq!(view.body["status"], "running", "{}", view.body);
    }
    // The third try is the last: the job fails with its reason, its message to the DLQ.
    let batch = unreachable
        .handle_jobs(sqs_event(std::slice::from_ref(&body)))
        .await;
    assert_eq!((batch.given_up, batch.dead_lettered), (1, 1), "{batch:?}");
    let failed = call(&api, event("GET", &path, &[], AS_AUDITOR)).await;
    assert_eq!(failed.body["status"], "failed", "{}", failed.body);
    assert!(
        failed.body["failure"]
            .as_str()
            .unwrap()
            .contains("given up at try 3"),
        "{}",
        failed.body
    );
    let dead = t.queue_bodies("audit-reports-dlq").await;
    assert_eq!(dead[0]["reason_kind"], "report-failed", "{dead:?}");

    // Asked again with the same key: tried afresh, and made this time.
    let again = call(&api, ask(Some("weekly-1"), AS_AUDITOR, &json!({}))).await;
    assert_eq!(
        (
            again.status,
            &again.body["status"],
            &again.body["report_id"]
        ),
        (202, &json!("requested"), &asked.body["report_id"])
    );
    let trail = TrailStandIn::start(&crate::common::moto().endpoint)
        .await
        .unwrap();
    let reporter = t.audit_report(&through(&trail, "audit-report").await, clock);
    let bodies: Vec<String> = t
        .queue_bodies("audit-reports")
        .await
        .iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(reporter.handle_jobs(sqs_event(&bodies)).await.made, 1);
    let ready = call(&api, event("GET", &path, &[], AS_AUDITOR)).await;
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    assert_eq!(ready.body["failure"], Value::Null);
}
