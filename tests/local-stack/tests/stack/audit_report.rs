//! The auditor's report on moto, the simulator, and the CloudTrail stand-in: KMS opens as
//! CloudTrail records them, read through the suite's CloudTrail adapter and joined with the
//! audit log; a deletion request and its confirmation; purges after time travel; PII held.

use crate::common::stack;
use chrono::Duration;
use local_stack::trail::TrailStandIn;
use shared::audit::Format;
use shared::aws::{DynamoAuditLog, KmsPiiVault, PiiTable};
use shared::kernel::{AmazonOrderId, PiiKind};
use shared::lambda::audit_report::ReportRequest;
use shared::pii::PiiReader;
use shared::pii::{PiiOpener, SealedItems};
use spapi_sim::SimConfig;

/// AWS as a function with its endpoints pointed at the CloudTrail stand-in sees it (the
/// stand-in passes every call on to moto, recording KMS's), signed as `access_key`.
pub(crate) async fn through(trail: &TrailStandIn, access_key: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(trail.url())
        .region(aws_config::Region::new(local_stack::moto::REGION))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            access_key, "testing", None, None, "test",
        ))
        .load()
        .await
}

fn never() -> bool {
    false
}

#[tokio::test]
async fn every_kms_open_is_named_with_the_audited_reader_or_flagged_and_lifecycle_work_is_listed() {
    let t = stack("audit-report", SimConfig::demo(1, 12, 5_151)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    let trail = TrailStandIn::start(&crate::common::moto().endpoint)
        .await
        .unwrap();
    // Everything of the report and of the reads goes through the stand-in, as a function with
    // AWS_ENDPOINT_URL_KMS / _CLOUDTRAIL pointed at it would.
    let via_trail = through(&trail, "packing-station").await;
    let clock = t.amazon_time();
    let started = clock.now();
    let seller = t.seller(0);
    let sealed: Vec<AmazonOrderId> = t
        .scan("pii")
        .await
        .iter()
        .filter_map(|i| {
            i["seller_order"]
                .as_s()
                .ok()?
                .split_once('#')
                .map(|(_, o)| o.to_owned())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|o| AmazonOrderId::parse(o).unwrap())
        .collect();
    assert!(sealed.len() >= 3, "{sealed:?}");
    let vault = KmsPiiVault::new(
        aws_sdk_kms::Client::new(&via_trail),
        PiiTable::new(
            aws_sdk_dynamodb::Client::new(&via_trail),
            t.stack.table("pii"),
        ),
        t.stack.pii_key_arn.clone(),
    );
    let audit = DynamoAuditLog::new(t.dynamo(), t.stack.table("audit"));
    // A packer prints a slip: recorded, then opened.
    PiiReader {
        vault: &vault,
        audit: &audit,
        clock: clock.as_ref(),
    }
    .open(
        "packer-7",
        "print packing slip",
        &seller,
        &sealed[0],
        PiiKind::Recipient,
    )
    .await
    .unwrap()
    .expect("sealed recipient");
    // Someone opens another order's PII around the reader: KMS sees it, the audit log does not.
    vault
        .open(&seller, &sealed[1], PiiKind::Recipient)
        .await
        .unwrap();
    assert_eq!(trail.recorded("Decrypt"), 2);

    // A buyer asks for deletion of a third order.
    let redactor = t.pii_redactor(clock.clone());
    t.deliver_deletion_requests(&[serde_json::json!({
        "request_id": "buyer-req-9", "scope": "order", "seller_id": seller.as_str(),
        "order_id": sealed[2].as_str(), "requested_by": "privacy@seller.example",
    })
    .to_string()])
        .await;
    assert_eq!(t.pump_deletion_requests(&redactor).await.completed, 1);

    let reporter = t.audit_report(&via_trail, clock.clone());
    let range = ReportRequest {
        from: Some(started - Duration::hours(1)),
        to: Some(clock.now() + Duration::minutes(1)),
        format: Format::Json,
    };
    let before = reporter.run(&range).await.unwrap();
    assert_eq!(before.totals.pii_opens, 2, "{:?}", before.pii_opens);
    let opens: Vec<_> = before
        .pii_opens
        .iter()
        .map(|o| {
            (
                o.order_id.clone().unwrap(),
                o.actor.clone(),
                o.outcome.as_str(),
            )
        })
        .collect();
    assert!(
        opens.contains(&(sealed[0].to_string(), Some("packer-7".into()), "opened")),
        "{opens:?}"
    );
    assert!(
        opens.contains(&(sealed[1].to_string(), None, "opened")),
        "{opens:?}"
    );
    assert_eq!(before.totals.pii_opens_unaccounted, 1);
    let packer = before.pii_opens.iter().find(|o| o.accounted()).unwrap();
    assert_eq!(packer.purpose.as_deref(), Some("print packing slip"));
    assert_eq!(
        packer.principal,
        "arn:aws:iam::123456789012:user/packing-station"
    );
    assert_eq!(before.deletion_requests.len(), 1);
    let d = &before.deletion_requests[0];
    assert_eq!(
        (d.request_id.as_str(), d.status, d.scope),
        ("buyer-req-9", "completed", Some("order"))
    );
    assert!(
        d.pii_items_deleted >= 1 && d.completed_at.is_some(),
        "{d:?}"
    );
    assert_eq!(before.totals.orders_deleted_on_request, 1);
    let held = vault.table().held(clock.now()).await.unwrap();
    assert_eq!(before.pii_held.items, held.items);
    assert!(before.pii_held.items > 0 && before.pii_held.items_past_due == 0);
    let oldest = before.pii_held.oldest.as_ref().expect("oldest item");
    assert!(oldest.purge_at > clock.now());

    // Time travel past every purge date; the redactor runs; the report lists the purges.
    t.sim.clock().advance(Duration::days(60));
    let run = redactor.purge_run(&never).await.unwrap();
    assert!(run.orders_purged > 0 && run.pii_past_due == 0, "{run:?}");
    let after = reporter
        .run(&ReportRequest {
            to: Some(clock.now() + Duration::minutes(1)),
            ..range
        })
        .await
        .unwrap();
    assert_eq!(
        after.totals.orders_purged,
        run.orders_purged + run.stragglers_purged
    );
    assert_eq!(
        after.totals.pii_items_purged,
        run.pii_items_deleted + d.pii_items_deleted
    );
    assert_eq!(after.pii_held.items, 0);
    assert!(after.pii_held.oldest.is_none());
    assert!(!after.cloudtrail.truncated);

    // CSV: one row per line of the report, the same figures.
    let csv = after.to_csv().unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let count = |section: &str| rows.iter().filter(|r| &r[0] == section).count() as u64;
    assert_eq!(count("pii_open"), 2);
    assert_eq!(count("purge"), after.totals.orders_purged + 1);
    assert_eq!(count("deletion_request"), 1);
    assert_eq!(count("pii_held"), 1);
    // Nothing in either report is PII: ids, names of ours, dates and counts.
    let text = format!(
        "{}{}{csv}",
        serde_json::to_string(&before).unwrap(),
        serde_json::to_string(&after).unwrap()
    );
    let seeded = t.sim.seeded_pii_values();
    assert!(!seeded.is_empty());
    let leaked: Vec<_> = seeded
        .iter()
        .filter(|v| v.len() > 3 && text.contains(v.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} seeded PII values in the report",
        leaked.len()
    );
}

#[tokio::test]
async fn calls_that_could_open_pii_unseen_are_listed_beside_the_opens() {
    let t = stack("audit-key-calls", SimConfig::demo(1, 3, 5_152)).await;
    crate::common::run_sync(&t.order_sync(100), serde_json::json!({})).await;
    let trail = TrailStandIn::start(&crate::common::moto().endpoint)
        .await
        .unwrap();
    let as_principal = |access_key: &'static str| through(&trail, access_key);
    let admin = aws_sdk_kms::Client::new(&as_principal("key-admin").await);
    let clock = t.amazon_time();
    let started = clock.now();
    let pii_key = t.stack.pii_key_arn.clone();
    // A key of the administrator's own, to re-wrap an order's data key under.
    let own_key = admin
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let sealed = t
        .scan("pii")
        .await
        .into_iter()
        .next()
        .expect("a sealed item");
    let (seller, order) = sealed["seller_order"]
        .as_s()
        .unwrap()
        .split_once('#')
        .map(|(s, o)| (s.to_owned(), o.to_owned()))
        .unwrap();
    let edk = sealed["edk"].as_b().unwrap().clone();
    admin
        .re_encrypt()
        .ciphertext_blob(edk)
        .source_key_id(&pii_key)
        .source_encryption_context("seller_id", &seller)
        .source_encryption_context("order_id", &order)
        .destination_key_id(&own_key)
        .send()
        .await
        .expect("moto enforces no key policy: the re-wrap goes through");
    admin
        .create_grant()
        .key_id(&pii_key)
        .grantee_principal("arn:aws:iam::123456789012:role/elsewhere")
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    admin
        .put_key_policy()
        .key_id(&pii_key)
        .policy_name("default")
        .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    // The same calls on another key are not the PII key's. (moto's DisableKey and
    // ScheduleKeyDeletion take a key id, not an ARN; the stand-in records the ARN either way,
    // as CloudTrail does.)
    let key_id = |arn: &str| arn.rsplit('/').next().unwrap().to_owned();
    admin
        .disable_key()
        .key_id(key_id(&own_key))
        .send()
        .await
        .unwrap();
    admin
        .disable_key()
        .key_id(key_id(&pii_key))
        .send()
        .await
        .unwrap();
    admin
        .schedule_key_deletion()
        .key_id(key_id(&pii_key))
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();

    let reporter = t.audit_report(&as_principal("auditor").await, clock.clone());
    let report = reporter
        .run(&ReportRequest {
            from: Some(started - Duration::hours(1)),
            to: Some(clock.now() + Duration::minutes(1)),
            format: Format::Json,
        })
        .await
        .unwrap();
    let calls: Vec<_> = report
        .alarmed_key_calls
        .iter()
        .map(|c| c.call.event_name())
        .collect();
    let mut expected = [
        "ReEncrypt",
        "CreateGrant",
        "PutKeyPolicy",
        "DisableKey",
        "ScheduleKeyDeletion",
    ];
    let mut listed = calls.clone();
    listed.sort_unstable();
    expected.sort_unstable();
    assert_eq!(listed, expected, "{calls:?}");
    assert_eq!(report.totals.alarmed_key_calls, 5);
    assert_eq!(report.totals.alarmed_key_calls_refused, 0);
    assert!(
        report
            .alarmed_key_calls
            .iter()
            .all(|c| c.principal == "arn:aws:iam::123456789012:user/key-admin"),
        "{:?}",
        report.alarmed_key_calls
    );
    let rewrap = report
        .alarmed_key_calls
        .iter()
        .find(|c| c.call.event_name() == "ReEncrypt")
        .unwrap();
    assert_eq!(
        (rewrap.seller_id.as_deref(), rewrap.order_id.as_deref()),
        (Some(seller.as_str()), Some(order.as_str())),
        "the order whose data key was re-wrapped"
    );
    assert_eq!(rewrap.detail, Some(format!("to {own_key}")));
    let grant = report
        .alarmed_key_calls
        .iter()
        .find(|c| c.call.event_name() == "CreateGrant")
        .unwrap();
    assert_eq!(
        grant.detail.as_deref(),
        Some("grantee arn:aws:iam::123456789012:role/elsewhere")
    );
    // No Decrypt of the PII key happened: the re-wrap opened the order's data key without one.
    assert_eq!(report.totals.pii_opens, 0);
    let csv = report.to_csv().unwrap();
    assert_eq!(
        csv.lines()
            .filter(|l| l.starts_with("alarmed_key_call,"))
            .count(),
        5
    );
}
