//! CloudTrail's event history as the record of the PII key: `LookupEvents` for KMS `Decrypt`
//! and for each alarmed call (`ReEncrypt`, `CreateGrant`, `PutKeyPolicy`, `DisableKey`,
//! `ScheduleKeyDeletion`), kept when the event's key is the PII key. Each record's
//! `CloudTrailEvent` is parsed in CloudTrail's documented record format (`userIdentity`,
//! `eventTime`, `requestParameters` with the `encryptionContext` the vault bound to the order,
//! `resources`, `errorCode`).
//!
//! Limits of the source, reported rather than hidden: the event history keeps 90 days
//! (older opens are in the trail's bucket only), answers 2 requests a second per account
//! and region, and shows an event some minutes after the call.

use crate::audit::TrailError;
use crate::audit::{AccessTrail, AlarmedCall, KeyCall, KeyOpen, TrailRead};
use crate::kernel::Clock;
use crate::kernel::{Failure, IoFailure};
use async_trait::async_trait;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::primitives::DateTime as SmithyTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How far back CloudTrail's event history reaches.
const HISTORY_DAYS: i64 = 90;
/// `LookupEvents` answers at most 50 events a request.
const PAGE: i32 = 50;
/// `LookupEvents` allows 2 requests a second per account and region: one page each 500 ms.
const PAGE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

pub struct CloudTrailAccessTrail {
    client: Client,
    /// The PII key's ARN: the only key whose opens count.
    pii_key_arn: String,
    /// Events read at most per report (every `Decrypt` in the account counts, not only the
    /// PII key's): 100 a second, so that a run stays within its Lambda's time.
    max_events: usize,
    /// CloudTrail's own now: where its 90 days of history begin.
    clock: Arc<dyn Clock>,
    /// Between two requests: CloudTrail's pace.
    page_interval: std::time::Duration,
}

/// The parts of a CloudTrail record the report needs (documented format, version 1.0x).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(rename = "eventID")]
    event_id: String,
    event_time: DateTime<Utc>,
    event_source: String,
    event_name: String,
    user_identity: UserIdentity,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    request_parameters: Option<RequestParameters>,
    #[serde(default)]
    resources: Vec<Resource>,
    error_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity {
    #[serde(rename = "type")]
    kind: Option<String>,
    arn: Option<String>,
    principal_id: Option<String>,
    /// An AWS service calling on its own account's behalf (`dynamodb.amazonaws.com`).
    invoked_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestParameters {
    key_id: Option<String>,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    /// `ReEncrypt`: the key the data key came from, its context, the key it went to.
    source_key_id: Option<String>,
    #[serde(default)]
    source_encryption_context: BTreeMap<String, String>,
    destination_key_id: Option<String>,
    /// `CreateGrant`.
    grantee_principal: Option<String>,
    /// `ScheduleKeyDeletion`.
    pending_window_in_days: Option<u32>,
}

/// What one record is to the report.
enum Listed {
    Open(KeyOpen),
    Call(KeyCall),
}

#[derive(Deserialize)]
struct Resource {
    #[serde(rename = "ARN")]
    arn: Option<String>,
}

impl CloudTrailAccessTrail {
    pub fn new(
        client: Client,
        pii_key_arn: impl Into<String>,
        max_events: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            pii_key_arn: pii_key_arn.into(),
            max_events,
            clock,
            page_interval: PAGE_INTERVAL,
        }
    }

    /// Another pace than CloudTrail's (a stub that answers at once).
    pub fn with_page_interval(mut self, interval: std::time::Duration) -> Self {
        self.page_interval = interval;
        self
    }

    /// What a record stands for: a `Decrypt` or an alarmed call of the PII key, or nothing
    /// the report lists.
    fn listed(&self, raw: &str, listed_id: &str) -> Result<Option<Listed>, TrailError> {
        let r: Record = serde_json::from_str(raw).map_err(|e| TrailError::Malformed {
            event_id: listed_id.to_owned(),
            reason: crate::kernel::serde_reason(&e),
        })?;
        let params = r.request_parameters.as_ref();
        let named_keys = params.into_iter().flat_map(|p| {
            [&p.key_id, &p.source_key_id, &p.destination_key_id]
                .into_iter()
                .filter_map(|k| k.as_deref())
        });
        let of_pii_key = r
            .resources
            .iter()
            .filter_map(|res| res.arn.as_deref())
            .chain(named_keys)
            .any(|arn| arn == self.pii_key_arn);
        if r.event_source != "kms.amazonaws.com" || !of_pii_key {
            return Ok(None);
        }
        let id = r.user_identity;
        let principal = id
            .arn
            .or(id.invoked_by)
            .or(id.principal_id)
            .or(id.kind)
            .unwrap_or_else(|| "unknown".into());
        if r.event_name == "Decrypt" {
            let context = |k: &str| params.and_then(|p| p.encryption_context.get(k).cloned());
            return Ok(Some(Listed::Open(KeyOpen {
                event_id: r.event_id,
                at: r.event_time,
                principal,
                source_ip: r.source_ip_address,
                seller_id: context("seller_id"),
                order_id: context("order_id"),
                error_code: r.error_code,
            })));
        }
        let Some(call) = AlarmedCall::from_event_name(&r.event_name) else {
            return Ok(None);
        };
        let source_context =
            |k: &str| params.and_then(|p| p.source_encryption_context.get(k).cloned());
        let detail = params.and_then(|p| match call {
            AlarmedCall::ReEncrypt => p.destination_key_id.as_ref().map(|k| format!("to {k}")),
            AlarmedCall::CreateGrant => {
                p.grantee_principal.as_ref().map(|g| format!("grantee {g}"))
            }
            AlarmedCall::ScheduleKeyDeletion => p
                .pending_window_in_days
                .map(|d| format!("deletion in {d} days")),
            AlarmedCall::PutKeyPolicy | AlarmedCall::DisableKey => None,
        });
        Ok(Some(Listed::Call(KeyCall {
            event_id: r.event_id,
            at: r.event_time,
            call,
            principal,
            source_ip: r.source_ip_address,
            seller_id: source_context("seller_id"),
            order_id: source_context("order_id"),
            detail,
            error_code: r.error_code,
        })))
    }

    /// Every event named `event_name` in `[start, to)`, page by page at CloudTrail's pace,
    /// into `read`. Counts what it reads in `scanned`; false when it stopped at the limit.
    async fn look_up(
        &self,
        event_name: &str,
        (start, to): (DateTime<Utc>, DateTime<Utc>),
        scanned: &mut usize,
        read: &mut TrailRead,
    ) -> Result<bool, TrailError> {
        let by_name = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(event_name)
            .build()
            .map_err(|e| {
                TrailError::Failed(IoFailure {
                    operation: "LookupEvents",
                    failure: Failure::Refused,
                    detail: e.to_string(),
                    source: Box::new(e),
                })
            })?;
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .lookup_events()
                .lookup_attributes(by_name.clone())
                .start_time(smithy(start))
                .end_time(smithy(to))
                .max_results(PAGE)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| TrailError::Failed(super::io_failure("LookupEvents", e)))?;
            *scanned += page.events().len();
            for event in page.events() {
                let listed_id = event.event_id().unwrap_or("unknown");
                let Some(raw) = event.cloud_trail_event() else {
                    return Err(TrailError::Malformed {
                        event_id: listed_id.to_owned(),
                        reason: "no CloudTrailEvent record".into(),
                    });
                };
                match self.listed(raw, listed_id)? {
                    Some(Listed::Open(o)) if o.at >= start && o.at < to => read.opens.push(o),
                    Some(Listed::Call(c)) if c.at >= start && c.at < to => {
                        read.alarmed_calls.push(c)
                    }
                    _ => {}
                }
            }
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                return Ok(true);
            }
            if *scanned >= self.max_events {
                return Ok(false);
            }
            tokio::time::sleep(self.page_interval).await;
        }
    }
}

fn smithy(t: DateTime<Utc>) -> SmithyTime {
    SmithyTime::from_millis(t.timestamp_millis())
}

#[async_trait]
impl AccessTrail for CloudTrailAccessTrail {
    async fn pii_key_record(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<TrailRead, TrailError> {
        let history_from = self.clock.now() - Duration::days(HISTORY_DAYS);
        let start = from.max(history_from);
        let mut read = TrailRead {
            covered_from: Some(start),
            ..TrailRead::default()
        };
        if start >= to {
            return Ok(read);
        }
        // The alarmed calls first: they are few, and a report stopped at the read limit by a
        // busy account's Decrypts must still list them.
        let mut scanned = 0;
        let names = AlarmedCall::ALL.map(AlarmedCall::event_name);
        for (i, name) in names.into_iter().chain(["Decrypt"]).enumerate() {
            if i > 0 {
                tokio::time::sleep(self.page_interval).await;
            }
            if !self
                .look_up(name, (start, to), &mut scanned, &mut read)
                .await?
            {
                read.truncated = true;
                break;
            }
        }
        // Newest first from CloudTrail; oldest first for the report.
        read.opens
            .sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
        read.alarmed_calls
            .sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ManualClock;
    use serde_json::json;
    use wiremock::matchers::{body_partial_json, header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const PII_KEY: &str =
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const DATA_KEY: &str =
        "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";

    /// A KMS record in CloudTrail's documented format (event version 1.08).
    fn kms_record(
        name: &str,
        id: &str,
        at: &str,
        identity: serde_json::Value,
        keys: &[&str],
        parameters: serde_json::Value,
        error: Option<&str>,
    ) -> serde_json::Value {
        let mut r = json!({
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": at,
            "eventSource": "kms.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.0",
            "userAgent": "aws-sdk-rust/1.3.9 os/linux lang/rust/1.95.0",
            "requestParameters": parameters,
            "responseElements": null,
            "requestID": "12345126-30d5-4b28-98b9-9153da559963",
            "eventID": id,
            "readOnly": name == "Decrypt",
            "resources": keys.iter().map(|k| json!({
                "accountId": "111122223333",
                "type": "AWS::KMS::Key",
                "ARN": k
            })).collect::<Vec<_>>(),
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "111122223333",
            "eventCategory": "Management"
        });
        if let Some(code) = error {
            r["errorCode"] = json!(code);
            r["errorMessage"] = json!(format!("User is not authorized to perform: kms:{name}"));
        }
        r
    }

    fn decrypt_record(
        id: &str,
        at: &str,
        identity: serde_json::Value,
        key: &str,
        context: serde_json::Value,
        error: Option<&str>,
    ) -> serde_json::Value {
        let parameters = json!({
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": context
        });
        kms_record("Decrypt", id, at, identity, &[key], parameters, error)
    }

    fn lambda_role(session: &str) -> serde_json::Value {
        json!({
            "type": "AssumedRole",
            "principalId": format!("AROAIGDTESTANDEXAMPLE:{session}"),
            "arn": format!("arn:aws:sts::111122223333:assumed-role/fbm-api-role/{session}"),
            "accountId": "111122223333",
            "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAIGDTESTANDEXAMPLE",
                    "arn": "arn:aws:iam::111122223333:role/fbm-api-role",
                    "accountId": "111122223333",
                    "userName": "fbm-api-role"
                },
                "attributes": {"creationDate": "2026-11-20T08:00:00Z", "mfaAuthenticated": "false"}
            }
        })
    }

    /// One entry of a `LookupEvents` answer: the listing fields and the record as a string.
    fn listed(record: &serde_json::Value) -> serde_json::Value {
        let at: DateTime<Utc> = record["eventTime"].as_str().unwrap().parse().unwrap();
        json!({
            "EventId": record["eventID"],
            "EventName": record["eventName"],
            "ReadOnly": "true",
            "EventTime": at.timestamp() as f64,
            "EventSource": "kms.amazonaws.com",
            "Resources": [{"ResourceType": "AWS::KMS::Key", "ResourceName": record["resources"][0]["ARN"]}],
            "CloudTrailEvent": record.to_string()
        })
    }

    async fn trail(server: &MockServer) -> CloudTrailAccessTrail {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(server.uri())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .load()
            .await;
        CloudTrailAccessTrail::new(
            Client::new(&sdk),
            PII_KEY,
            10_000,
            Arc::new(ManualClock::at(now())),
        )
        .with_page_interval(std::time::Duration::ZERO)
    }

    /// Answers the lookup of one event name with `events`.
    async fn answer_lookup(server: &MockServer, name: &str, events: serde_json::Value) {
        Mock::given(method("POST"))
            .and(header("x-amz-target", "CloudTrail_20131101.LookupEvents"))
            .and(body_partial_json(json!({
                "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}]
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "Events": events })))
            .expect(1)
            .mount(server)
            .await;
    }

    /// The day these tests run on, as CloudTrail sees it: the fixtures' records are of the
    /// day before, whatever the wall clock says.
    fn now() -> DateTime<Utc> {
        t("2026-11-21T00:00:00Z")
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// The last day read from a CloudTrail that answers every request with `answer`.
    async fn last_day_answered(answer: ResponseTemplate) -> Result<TrailRead, TrailError> {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        trail(&server)
            .await
            .pii_key_record(now() - Duration::days(1), now())
            .await
    }

    #[tokio::test]
    async fn reads_every_page_and_keeps_only_opens_of_the_pii_key() {
        let server = MockServer::start().await;
        let order_ctx = json!({"seller_id": "A1SELLER", "order_id": "113-1234567-1234567"});
        let page1 = json!({
            "Events": [
                listed(&decrypt_record("e-open", "2026-11-20T10:00:05Z", lambda_role("fbm-api"), PII_KEY, order_ctx.clone(), None)),
                // DynamoDB opening its table key under the data key: not a PII open.
                listed(&decrypt_record("e-sse", "2026-11-20T10:00:04Z",
                    json!({"type": "AWSService", "invokedBy": "dynamodb.amazonaws.com"}),
                    DATA_KEY, json!({"aws:dynamodb:tableName": "fbm-orders"}), None)),
                listed(&decrypt_record("e-denied", "2026-11-20T09:59:00Z", lambda_role("intruder"), PII_KEY, order_ctx.clone(), Some("AccessDenied"))),
            ],
            "NextToken": "page-2"
        });
        let page2 = json!({
            "Events": [
                listed(&decrypt_record("e-no-context", "2026-11-20T09:00:00Z", lambda_role("console"), PII_KEY, json!({}), None)),
            ]
        });
        Mock::given(method("POST"))
            .and(header("x-amz-target", "CloudTrail_20131101.LookupEvents"))
            .and(body_partial_json(json!({"NextToken": "page-2"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(page2))
            .with_priority(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(header("x-amz-target", "CloudTrail_20131101.LookupEvents"))
            .and(body_partial_json(json!({
                "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Decrypt"}],
                "MaxResults": 50
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(page1))
            .with_priority(2)
            .expect(1)
            .mount(&server)
            .await;
        for call in AlarmedCall::ALL {
            answer_lookup(&server, call.event_name(), json!([])).await;
        }

        let from = now() - Duration::days(7);
        let read = trail(&server)
            .await
            .pii_key_record(from, now())
            .await
            .unwrap();
        let ids: Vec<_> = read.opens.iter().map(|o| o.event_id.as_str()).collect();
        assert_eq!(
            ids,
            ["e-no-context", "e-denied", "e-open"],
            "oldest first, SSE decrypt left out"
        );
        let open = &read.opens[2];
        assert_eq!(open.at, t("2026-11-20T10:00:05Z"));
        assert_eq!(
            open.principal,
            "arn:aws:sts::111122223333:assumed-role/fbm-api-role/fbm-api"
        );
        assert_eq!(open.seller_id.as_deref(), Some("A1SELLER"));
        assert_eq!(open.order_id.as_deref(), Some("113-1234567-1234567"));
        assert_eq!(open.source_ip.as_deref(), Some("192.0.2.0"));
        assert_eq!(open.error_code, None);
        assert_eq!(read.opens[1].error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(
            read.opens[0].order_id, None,
            "an open without an order's context is kept"
        );
        assert!(!read.truncated);
        assert_eq!(read.covered_from, Some(from));
    }

    #[tokio::test]
    async fn a_range_beyond_the_event_history_says_where_coverage_starts() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Events": []})))
            .mount(&server)
            .await;
        let read = trail(&server)
            .await
            .pii_key_record(now() - Duration::days(400), now())
            .await
            .unwrap();
        let covered = read.covered_from.unwrap();
        assert!(covered == now() - Duration::days(90), "{covered}");
        let requests = server.received_requests().await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
        let start = body["StartTime"].as_f64().unwrap() as i64;
        assert!(
            (start - covered.timestamp()).abs() <= 1,
            "asks only for what the history holds"
        );
    }

    #[tokio::test]
    async fn a_record_not_in_the_documented_format_is_an_error_naming_only_its_id() {
        let err = last_day_answered(ResponseTemplate::new(200).set_body_json(json!({"Events": [{
            "EventId": "e-bad",
            "EventName": "Decrypt",
            "EventTime": 1_790_000_000.0,
            "CloudTrailEvent": "{\"eventID\": \"e-bad\", \"eventTime\": \"not a time\"}"
        }]})))
        .await
        .unwrap_err();
        assert!(
            matches!(&err, TrailError::Malformed { event_id, .. } if event_id == "e-bad"),
            "{err}"
        );
        assert!(!err.to_string().contains("not a time"), "{err}");
    }

    #[tokio::test]
    async fn every_alarmed_call_on_the_pii_key_is_listed_with_what_it_named() {
        let server = MockServer::start().await;
        let admin = json!({
            "type": "IAMUser",
            "principalId": "AIDAJQABLZS4A3QDU576Q",
            "arn": "arn:aws:iam::111122223333:user/key-admin",
            "accountId": "111122223333",
            "userName": "key-admin"
        });
        let order_ctx = json!({"seller_id": "A1SELLER", "order_id": "113-1234567-1234567"});
        let other_key = "arn:aws:kms:us-east-1:111122223333:key/own-key-of-the-admin";
        let record = |name: &str, id: &str, keys: &[&str], parameters, error| {
            listed(&kms_record(
                name,
                id,
                "2026-11-20T12:00:00Z",
                admin.clone(),
                keys,
                parameters,
                error,
            ))
        };
        answer_lookup(
            &server,
            "ReEncrypt",
            json!([record(
                "ReEncrypt",
                "e-rewrap",
                &[PII_KEY, other_key],
                json!({
                    "sourceEncryptionContext": order_ctx,
                    "destinationKeyId": other_key,
                    "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                    "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                    "destinationEncryptionContext": order_ctx
                }),
                Some("AccessDeniedException")
            ),]),
        )
        .await;
        answer_lookup(
            &server,
            "CreateGrant",
            json!([
                record(
                    "CreateGrant",
                    "e-grant",
                    &[PII_KEY],
                    json!({
                        "keyId": PII_KEY,
                        "granteePrincipal": "arn:aws:iam::111122223333:role/elsewhere",
                        "operations": ["Decrypt"]
                    }),
                    None
                ),
                // A grant on the data key (DynamoDB makes those): not the PII key's.
                record(
                    "CreateGrant",
                    "e-ddb-grant",
                    &[DATA_KEY],
                    json!({
                        "keyId": DATA_KEY,
                        "granteePrincipal": "dynamodb.us-east-1.amazonaws.com",
                        "operations": ["Decrypt"]
                    }),
                    None
                ),
            ]),
        )
        .await;
        answer_lookup(
            &server,
            "PutKeyPolicy",
            json!([record(
                "PutKeyPolicy",
                "e-policy",
                &[PII_KEY],
                json!({
                    "keyId": PII_KEY,
                    "policyName": "default",
                    "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
                    "bypassPolicyLockoutSafetyCheck": false
                }),
                None
            ),]),
        )
        .await;
        answer_lookup(
            &server,
            "DisableKey",
            json!([record(
                "DisableKey",
                "e-disable",
                &[PII_KEY],
                json!({"keyId": PII_KEY}),
                None
            ),]),
        )
        .await;
        answer_lookup(
            &server,
            "ScheduleKeyDeletion",
            json!([record(
                "ScheduleKeyDeletion",
                "e-delete",
                &[PII_KEY],
                json!({
                    "keyId": PII_KEY,
                    "pendingWindowInDays": 7
                }),
                None
            ),]),
        )
        .await;
        answer_lookup(&server, "Decrypt", json!([])).await;

        let read = trail(&server)
            .await
            .pii_key_record(now() - Duration::days(1), now())
            .await
            .unwrap();
        let calls: Vec<_> = read
            .alarmed_calls
            .iter()
            .map(|c| (c.call, c.event_id.as_str(), c.detail.as_deref()))
            .collect();
        assert_eq!(
            calls,
            [
                (
                    AlarmedCall::ScheduleKeyDeletion,
                    "e-delete",
                    Some("deletion in 7 days")
                ),
                (AlarmedCall::DisableKey, "e-disable", None),
                (
                    AlarmedCall::CreateGrant,
                    "e-grant",
                    Some("grantee arn:aws:iam::111122223333:role/elsewhere")
                ),
                (AlarmedCall::PutKeyPolicy, "e-policy", None),
                (
                    AlarmedCall::ReEncrypt,
                    "e-rewrap",
                    Some(format!("to {other_key}").as_str())
                ),
            ],
            "the PII key's only, oldest first (one instant: by event id)"
        );
        let rewrap = &read.alarmed_calls[4];
        assert_eq!(rewrap.seller_id.as_deref(), Some("A1SELLER"));
        assert_eq!(rewrap.order_id.as_deref(), Some("113-1234567-1234567"));
        assert_eq!(rewrap.error_code.as_deref(), Some("AccessDeniedException"));
        assert_eq!(rewrap.principal, "arn:aws:iam::111122223333:user/key-admin");
        assert!(read.opens.is_empty() && !read.truncated);
    }

    #[tokio::test]
    async fn a_service_error_is_reported_with_its_operation_and_kind() {
        // Throttling is told apart from a refusal, though both come as HTTP 400.
        for (code, expected) in [
            ("InvalidTimeRangeException", Failure::Refused),
            ("ThrottlingException", Failure::Throttled),
        ] {
            let err = last_day_answered(
                ResponseTemplate::new(400)
                    .set_body_json(json!({"__type": code, "message": "refused"})),
            )
            .await
            .unwrap_err();
            assert!(
                matches!(
                    &err,
                    TrailError::Failed(IoFailure {
                        operation: "LookupEvents",
                        failure,
                        ..
                    }) if *failure == expected
                ),
                "{code}: {err}"
            );
        }
    }
}
