//! The local stand-in for CloudTrail's event history (moto has no `LookupEvents`): a proxy in
//! front of moto for KMS that writes one record per KMS call in CloudTrail's documented
//! record format (`userIdentity` from the request's SigV4 access key, `requestParameters`
//! as the request's fields without its blobs, `resources` with the ARN of every key the call
//! named, `errorCode` on refusal), and
//! answers `CloudTrail_20131101.LookupEvents` from those records. The suite's real CloudTrail
//! adapter reads it unchanged; functions reach it through `AWS_ENDPOINT_URL_KMS` and
//! `AWS_ENDPOINT_URL_CLOUDTRAIL`.

use crate::moto::REGION;
use crate::proxy::{LocalServer, Upstream};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The account moto reports.
const ACCOUNT: &str = "123456789012";
const LOOKUP: &str = "CloudTrail_20131101.LookupEvents";

pub struct TrailStandIn {
    server: LocalServer,
    records: Arc<Mutex<Vec<Recorded>>>,
}

#[derive(Clone)]
struct Recorded {
    at: DateTime<Utc>,
    name: String,
    key_arns: Vec<String>,
    access_key_id: String,
    record: Value,
}

#[derive(Clone)]
struct TrailState {
    upstream: Upstream,
    records: Arc<Mutex<Vec<Recorded>>>,
}

async fn handle(
    State(st): State<TrailState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if target == LOOKUP {
        return lookup(&st, &body).into_response();
    }
    let (status, out, answer) = st
        .upstream
        .pass_on(method, &uri, &headers, body.clone())
        .await;
    if let Some(operation) = target.strip_prefix("TrentService.") {
        let record = record(operation, &headers, &body, status, &answer);
        st.records.lock().expect("lock").push(record);
    }
    (status, out, answer).into_response()
}

/// One KMS call as CloudTrail writes it (event version 1.08).
fn record(
    operation: &str,
    headers: &HeaderMap,
    request: &[u8],
    status: StatusCode,
    answer: &[u8],
) -> Recorded {
    let request: Value = serde_json::from_slice(request).unwrap_or(Value::Null);
    let answer: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
    let access_key_id = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .unwrap_or("anonymous")
        .to_owned();
    // Every key the call named or KMS answered with (a ReEncrypt names two), as ARNs.
    let mut key_arns: Vec<String> = Vec::new();
    for id in [
        &answer["SourceKeyId"],
        &answer["KeyId"],
        &request["KeyId"],
        &request["SourceKeyId"],
        &request["DestinationKeyId"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .filter(|id| !id.starts_with("alias/"))
    {
        let arn = if id.starts_with("arn:") {
            id.to_owned()
        } else {
            format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}")
        };
        if !key_arns.contains(&arn) {
            key_arns.push(arn);
        }
    }
    let at = Utc::now();
    let event_id = format!("{:032x}", rand::random::<u128>());
    // The request's fields as CloudTrail names them (camelCase), its blobs left out.
    let mut parameters = json!({});
    for (name, value) in request.as_object().into_iter().flatten() {
        if ["CiphertextBlob", "Plaintext", "GrantTokens"].contains(&name.as_str()) {
            continue;
        }
        let mut camel = name.clone();
        camel[..1].make_ascii_lowercase();
        parameters[camel] = value.clone();
    }
    if operation == "Decrypt" {
        parameters["encryptionAlgorithm"] = json!("SYMMETRIC_DEFAULT");
    }
    let mut record = json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": access_key_id,
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/{access_key_id}"),
            "accountId": ACCOUNT,
            "accessKeyId": access_key_id,
        },
        "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "eventSource": "kms.amazonaws.com",
        "eventName": operation,
        "awsRegion": REGION,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
        "requestParameters": parameters,
        "responseElements": null,
        "requestID": format!("{:032x}", rand::random::<u128>()),
        "eventID": event_id,
        "readOnly": operation == "Decrypt"
            || ["Describe", "Get", "List"].iter().any(|p| operation.starts_with(p)),
        "resources": key_arns.iter().map(|arn| json!({
            "accountId": ACCOUNT,
            "type": "AWS::KMS::Key",
            "ARN": arn,
        })).collect::<Vec<_>>(),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    });
    if !status.is_success() {
        let code = answer["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| status.as_u16().to_string());
        record["errorCode"] = json!(code);
    }
    Recorded {
        at,
        name: operation.to_owned(),
        key_arns,
        access_key_id,
        record,
    }
}

fn seconds(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_f64()?;
    DateTime::from_timestamp_millis((s * 1000.0) as i64)
}

/// `LookupEvents`: by `EventName` or `ResourceName`, within `StartTime`..`EndTime`, newest
/// first, 50 at most a page, `NextToken` an offset.
fn lookup(st: &TrailState, body: &[u8]) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        "application/x-amz-json-1.1".parse().expect("header value"),
    );
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        let e =
            json!({"__type": "InvalidLookupAttributesException", "message": "malformed request"});
        return (StatusCode::BAD_REQUEST, headers, e.to_string());
    };
    let start = seconds(&req["StartTime"]);
    let end = seconds(&req["EndTime"]);
    let attribute = req["LookupAttributes"][0].clone();
    let max = req["MaxResults"].as_u64().unwrap_or(50).clamp(1, 50) as usize;
    let offset: usize = req["NextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let records = st.records.lock().expect("lock").clone();
    let mut matching: Vec<&Recorded> = records
        .iter()
        .filter(|r| start.is_none_or(|s| r.at >= s) && end.is_none_or(|e| r.at <= e))
        .filter(|r| match attribute["AttributeKey"].as_str() {
            Some("EventName") => attribute["AttributeValue"].as_str() == Some(&r.name),
            Some("ResourceName") => attribute["AttributeValue"]
                .as_str()
                .is_some_and(|v| r.key_arns.iter().any(|k| k == v)),
            _ => true,
        })
        .collect();
    matching.reverse();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(max)
        .map(|r| {
            json!({
                "EventId": r.record["eventID"],
                "EventName": r.name,
                "ReadOnly": "true",
                "AccessKeyId": r.access_key_id,
                "EventTime": r.at.timestamp() as f64,
                "EventSource": "kms.amazonaws.com",
                "Username": r.access_key_id,
                "Resources": r.key_arns.iter().map(|arn| json!({"ResourceType": "AWS::KMS::Key", "ResourceName": arn})).collect::<Vec<_>>(),
                "CloudTrailEvent": r.record.to_string(),
            })
        })
        .collect();
    let mut answer = json!({ "Events": page });
    if offset + max < matching.len() {
        answer["NextToken"] = json!((offset + max).to_string());
    }
    (StatusCode::OK, headers, answer.to_string())
}

impl TrailStandIn {
    /// Start in front of moto at `upstream`.
    pub async fn start(upstream: &str) -> Result<Self, String> {
        let records = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(handle).with_state(TrailState {
            upstream: Upstream::new(upstream),
            records: records.clone(),
        });
        Ok(Self {
            server: LocalServer::start(app).await?,
            records,
        })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The environment that sends a function's KMS and CloudTrail calls here.
    pub fn function_env(&self) -> Vec<(String, String)> {
        ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_CLOUDTRAIL"]
            .map(|k| (k.to_owned(), self.url()))
            .to_vec()
    }

    /// KMS calls recorded so far, by operation.
    pub fn recorded(&self, operation: &str) -> usize {
        self.records
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.name == operation)
            .count()
    }
}
