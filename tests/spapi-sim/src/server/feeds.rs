//! Feeds API 2021-06-30 for `JSON_LISTINGS_FEED`, as a bulk stock push uses it:
//! `createFeedDocument` hands out a pre-signed upload URL (served here under `/_sim`, valid 5
//! minutes of simulated time, bound to the declared content type); `createFeed` queues the
//! uploaded body; the feed waits, is processed over simulated time and, when it is DONE, its
//! PATCH messages are applied to the listings, each checked as `patchListingsItem` checks a
//! patch; `getFeed` follows it; `getFeedDocument` hands out its GZIP processing report. A body
//! that is no listings feed makes the feed FATAL and changes nothing. Answers are bare, as the
//! model has them.

use super::gate::{admit, respond};
use super::listings::{Issue, PatchRequest, check_patch, own_marketplace};
use super::shipping::{Refusal, bad, missing};
use super::{Operation, State};
use crate::Sim;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

/// A feed waits this long in the queue (IN_QUEUE) after `createFeed`.
pub const FEED_QUEUE_TIME: Duration = Duration::seconds(30);
/// Then it is IN_PROGRESS this long, plus [`FEED_TIME_PER_MESSAGE`] for each message.
pub const FEED_PROCESSING_TIME: Duration = Duration::seconds(60);
/// Processing time per message: 1 s per 100.
pub const FEED_TIME_PER_MESSAGE: Duration = Duration::milliseconds(10);
/// "This URL expires after 5 minutes" (upload and download URLs alike).
pub const FEED_DOCUMENT_URL_LIFETIME: Duration = Duration::minutes(5);

/// How long after `createFeed` a feed of `messages` messages is DONE (a FATAL one counts 0).
pub fn feed_done_after(messages: usize) -> Duration {
    FEED_QUEUE_TIME
        + FEED_PROCESSING_TIME
        + FEED_TIME_PER_MESSAGE * i32::try_from(messages).unwrap_or(i32::MAX)
}

/// The one feed type the simulator serves.
const FEED_TYPE: &str = "JSON_LISTINGS_FEED";
/// The listings feed schema's `maxItems` for `messages`.
const MAX_MESSAGES: usize = 25_000;
/// Uploads up to this size: room for 25,000 messages.
pub(super) const UPLOAD_LIMIT: usize = 32 << 20;
/// The simulator's issue code for a message it does not take (not PATCH, not a patch's shape).
const UNSERVED: &str = "4000002";
/// The simulator's issue code for a SKU the seller has no listing of.
const NO_LISTING: &str = "4000003";
/// The simulator's issue code for a body that is no listings feed (the feed is FATAL).
const NOT_A_FEED: &str = "4000004";
/// Feed ids are numbers, as Amazon's are.
const FIRST_FEED_ID: u64 = 50_001_000_000;

/// A pre-signed URL handed out for a document.
struct Grant {
    signature: String,
    expires_at: DateTime<Utc>,
    /// For a PUT (from `createFeedDocument`), else for a GET (from `getFeedDocument`).
    upload: bool,
}

struct Document {
    seller_id: String,
    /// The content type declared for an input document; `None` for a processing report.
    content_type: Option<String>,
    /// `None` until uploaded.
    content: Option<Vec<u8>>,
    grants: Vec<Grant>,
}

impl Document {
    /// A pre-signed URL of this document, for an upload or a download, that holds at `now`;
    /// else S3's reason.
    fn check(&self, signature: &str, upload: bool, now: DateTime<Utc>) -> Result<(), &'static str> {
        match self
            .grants
            .iter()
            .find(|g| g.signature == signature && g.upload == upload)
        {
            None => Err("SignatureDoesNotMatch"),
            Some(g) if g.expires_at <= now => Err("AccessDenied: Request has expired"),
            Some(_) => Ok(()),
        }
    }
}

enum Stage {
    /// The messages to process, or why the body is no listings feed (FATAL).
    Waiting(Result<Vec<Value>, String>),
    Processed {
        fatal: bool,
        report_id: String,
    },
}

struct Feed {
    seller_id: String,
    marketplace_ids: Vec<String>,
    created: DateTime<Utc>,
    done_at: DateTime<Utc>,
    stage: Stage,
}

/// Feeds' part of the simulator's state.
#[derive(Default)]
pub(crate) struct FeedsState {
    documents: HashMap<String, Document>,
    feeds: BTreeMap<String, Feed>,
    pub(crate) feeds_created: u64,
    pub(crate) feed_documents_uploaded: u64,
    /// Set by a test: no feed finishes (each stays `IN_PROGRESS`) until released.
    pub(crate) held: bool,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// S3 answers a refused pre-signed URL with a 403 (in XML; a line of text does here).
fn denied(message: &str) -> Response {
    (StatusCode::FORBIDDEN, message.to_owned()).into_response()
}

/// The simulator as the client reached it: the URLs it hands out lead back to it.
fn base_url(headers: &HeaderMap) -> Result<String, Refusal> {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .ok_or_else(|| bad("InvalidInput", "The request has no Host header."))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).expect("writing to memory");
    e.finish().expect("writing to memory")
}

/// The messages of a listings feed body for `seller`, or why it is none.
fn parse_feed(content: &[u8], seller: &str) -> Result<Vec<Value>, String> {
    let mut body: Value =
        serde_json::from_slice(content).map_err(|e| format!("The feed is not JSON: {e}"))?;
    if body["header"]["sellerId"].as_str() != Some(seller) {
        return Err("header.sellerId must be the seller's identifier.".into());
    }
    if body["header"]["version"].as_str() != Some("2.0") {
        return Err("header.version must be 2.0.".into());
    }
    let Some(Value::Array(messages)) = body.get_mut("messages").map(Value::take) else {
        return Err("messages must be an array of messages.".into());
    };
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return Err(format!(
            "messages must hold 1 to {MAX_MESSAGES} messages, not {}.",
            messages.len()
        ));
    }
    Ok(messages)
}

/// An issue as the processing report shows it.
fn report_issue(message_id: Option<u64>, issue: &Issue) -> Value {
    let mut v = json!({
        "code": issue.code,
        "severity": "ERROR",
        "message": issue.message,
    });
    if let Some(id) = message_id {
        v["messageId"] = json!(id);
    }
    if let Some(a) = issue.attribute {
        v["attributeNames"] = json!([a]);
    }
    v
}

/// The `Feed` object: its status follows the simulated clock.
fn feed_json(id: &str, f: &Feed, now: DateTime<Utc>) -> Value {
    let started = f.created + FEED_QUEUE_TIME;
    let mut v = json!({
        "feedId": id,
        "feedType": FEED_TYPE,
        "marketplaceIds": f.marketplace_ids,
        "createdTime": iso(f.created),
    });
    let status = match &f.stage {
        Stage::Waiting(_) if now < started => "IN_QUEUE",
        Stage::Waiting(_) => {
            v["processingStartTime"] = json!(iso(started));
            "IN_PROGRESS"
        }
        Stage::Processed { fatal, report_id } => {
            v["processingStartTime"] = json!(iso(started));
            v["processingEndTime"] = json!(iso(f.done_at));
            v["resultFeedDocumentId"] = json!(report_id);
            if *fatal { "FATAL" } else { "DONE" }
        }
    };
    v["processingStatus"] = json!(status);
    v
}

impl State {
    fn document_id(&mut self) -> String {
        format!("amzn1.tortuga.4.na.{}", self.uuid())
    }

    /// A pre-signed URL of a document, valid [`FEED_DOCUMENT_URL_LIFETIME`] from `now`.
    fn presign(&mut self, base: &str, id: &str, upload: bool, now: DateTime<Utc>) -> String {
        let signature = format!(
            "{:032x}{:032x}",
            self.rng.random::<u128>(),
            self.rng.random::<u128>()
        );
        let doc = self.feeds.documents.get_mut(id).expect("a known document");
        doc.grants.retain(|g| g.expires_at > now);
        doc.grants.push(Grant {
            signature: signature.clone(),
            expires_at: now + FEED_DOCUMENT_URL_LIFETIME,
            upload,
        });
        format!("{base}/_sim/feed-documents/{id}?X-Amz-Signature={signature}")
    }

    /// Process every feed whose processing ends by `now`, in the order they end, each at its
    /// time, so the listings change as if it had happened then.
    pub(crate) fn settle_feeds(&mut self, now: DateTime<Utc>) {
        if self.feeds.held {
            return;
        }
        let mut due: Vec<(DateTime<Utc>, String)> = self
            .feeds
            .feeds
            .iter()
            .filter(|(_, f)| matches!(f.stage, Stage::Waiting(_)) && f.done_at <= now)
            .map(|(id, f)| (f.done_at, id.clone()))
            .collect();
        due.sort();
        for (at, id) in due {
            self.process_feed(&id, at);
        }
    }

    fn process_feed(&mut self, feed_id: &str, at: DateTime<Utc>) {
        let feed = self.feeds.feeds.get_mut(feed_id).expect("a due feed");
        let seller = feed.seller_id.clone();
        let placeholder = Stage::Processed {
            fatal: true,
            report_id: String::new(),
        };
        let Stage::Waiting(input) = std::mem::replace(&mut feed.stage, placeholder) else {
            return;
        };
        let fatal = input.is_err();
        let mut issues = Vec::new();
        let (mut processed, mut accepted) = (0, 0);
        match input {
            Err(why) => issues.push(report_issue(None, &Issue::new(NOT_A_FEED, why, None))),
            Ok(messages) => {
                for m in messages {
                    processed += 1;
                    let id = m.get("messageId").and_then(Value::as_u64);
                    match self.apply_message(&seller, m, at) {
                        Ok(()) => accepted += 1,
                        Err(found) => issues.extend(found.iter().map(|i| report_issue(id, i))),
                    }
                }
            }
        }
        let report = json!({
            "header": {"sellerId": seller, "version": "2.0", "feedId": feed_id},
            "issues": issues,
            "summary": {
                "errors": issues.len(),
                "warnings": 0,
                "messagesProcessed": processed,
                "messagesAccepted": accepted,
                "messagesInvalid": processed - accepted,
            },
        });
        let report_id = self.document_id();
        self.feeds.documents.insert(
            report_id.clone(),
            Document {
                seller_id: seller,
                content_type: None,
                content: Some(gzip(report.to_string().as_bytes())),
                grants: Vec::new(),
            },
        );
        self.feeds.feeds.get_mut(feed_id).expect("a due feed").stage =
            Stage::Processed { fatal, report_id };
    }

    /// Apply one message of a seller's feed at `at`, or say why not.
    fn apply_message(
        &mut self,
        seller: &str,
        m: Value,
        at: DateTime<Utc>,
    ) -> Result<(), Vec<Issue>> {
        let unserved = |message: String| vec![Issue::new(UNSERVED, message, None)];
        let Value::Object(mut m) = m else {
            return Err(unserved("A message must be an object.".into()));
        };
        let sku = match m.remove("sku") {
            Some(Value::String(sku)) => sku,
            _ => return Err(unserved("sku is required.".into())),
        };
        if m.remove("operationType").as_ref().and_then(Value::as_str) != Some("PATCH") {
            return Err(unserved(
                "The simulator serves operationType PATCH only.".into(),
            ));
        }
        m.remove("messageId");
        let req: PatchRequest = serde_json::from_value(Value::Object(m))
            .map_err(|e| unserved(format!("Invalid PATCH message: {e}")))?;
        let l = self
            .listings
            .items
            .get(&(seller.to_owned(), sku.clone()))
            .ok_or_else(|| {
                vec![Issue::new(
                    NO_LISTING,
                    "The SKU has no listing for this seller.",
                    None,
                )]
            })?;
        let (issues, quantity) = check_patch(l, &req).map_err(unserved)?;
        if !issues.is_empty() {
            return Err(issues);
        }
        self.set_quantity(seller, &sku, quantity, at);
        self.listings.feed_messages_accepted += 1;
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateFeedDocumentSpecification {
    content_type: String,
}

pub(super) async fn create_feed_document(
    AxState(sim): AxState<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = Operation::CreateFeedDocument;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = (|| {
        let req: CreateFeedDocumentSpecification = serde_json::from_slice(&body)
            .map_err(|e| bad("InvalidInput", format!("Invalid request body: {e}")))?;
        let base = base_url(&headers)?;
        let mut st = sim.settled();
        let id = st.document_id();
        st.feeds.documents.insert(
            id.clone(),
            Document {
                seller_id: seller,
                content_type: Some(req.content_type),
                content: None,
                grants: Vec::new(),
            },
        );
        let url = st.presign(&base, &id, true, now);
        Ok::<_, Refusal>(
            (
                StatusCode::CREATED,
                Json(json!({ "feedDocumentId": id, "url": url })),
            )
                .into_response(),
        )
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

#[derive(Deserialize)]
pub(super) struct Signed {
    #[serde(rename = "X-Amz-Signature", default)]
    signature: String,
}

/// The upload to a `createFeedDocument` URL: no SP-API token, the URL is the authority. A
/// second upload replaces the first, as S3 does.
pub(super) async fn upload_document(
    AxState(sim): AxState<Arc<Sim>>,
    Path(id): Path<String>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = sim.clock.now();
    let mut st = sim.settled();
    let Some(doc) = st.feeds.documents.get_mut(&id) else {
        return denied("SignatureDoesNotMatch");
    };
    if let Err(why) = doc.check(&q.signature, true, now) {
        return denied(why);
    }
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if doc.content_type.as_deref() != content_type {
        return denied("SignatureDoesNotMatch: the Content-Type is not the one signed");
    }
    doc.content = Some(body.to_vec());
    st.feeds.feed_documents_uploaded += 1;
    StatusCode::OK.into_response()
}

/// The download from a `getFeedDocument` URL.
pub(super) async fn download_document(
    AxState(sim): AxState<Arc<Sim>>,
    Path(id): Path<String>,
    Query(q): Query<Signed>,
) -> Response {
    let now = sim.clock.now();
    let st = sim.settled();
    let Some(doc) = st.feeds.documents.get(&id) else {
        return denied("SignatureDoesNotMatch");
    };
    if let Err(why) = doc.check(&q.signature, false, now) {
        return denied(why);
    }
    match &doc.content {
        Some(content) => {
            let content_type = doc
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            (
                StatusCode::OK,
                [(CONTENT_TYPE, content_type)],
                content.clone(),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateFeedSpecification {
    feed_type: String,
    marketplace_ids: Vec<String>,
    input_feed_document_id: String,
    /// Taken, not used: the listings feed reads none.
    #[serde(default)]
    #[allow(dead_code)]
    feed_options: Option<BTreeMap<String, String>>,
}

pub(super) async fn create_feed(
    AxState(sim): AxState<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = Operation::CreateFeed;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = (|| {
        let req: CreateFeedSpecification = serde_json::from_slice(&body)
            .map_err(|e| bad("InvalidInput", format!("Invalid request body: {e}")))?;
        if req.feed_type != FEED_TYPE {
            return Err(bad(
                "InvalidInput",
                format!("The simulator serves feedType {FEED_TYPE} only."),
            ));
        }
        if req.marketplace_ids != [own_marketplace(&sim, &seller)] {
            return Err(bad(
                "InvalidInput",
                "Invalid marketplaceIds for the seller.",
            ));
        }
        let mut st = sim.settled();
        let content = st
            .feeds
            .documents
            .get(&req.input_feed_document_id)
            .filter(|d| d.seller_id == seller && d.content_type.is_some())
            .ok_or_else(|| bad("InvalidInput", "The input feed document does not exist."))?
            .content
            .as_deref()
            .ok_or_else(|| {
                bad(
                    "InvalidInput",
                    "The input feed document has no content: upload it first.",
                )
            })?;
        let input = parse_feed(content, &seller);
        let messages = input.as_ref().map_or(0, Vec::len);
        let id = (FIRST_FEED_ID + st.feeds.feeds_created).to_string();
        st.feeds.feeds.insert(
            id.clone(),
            Feed {
                seller_id: seller,
                marketplace_ids: req.marketplace_ids,
                created: now,
                done_at: now + feed_done_after(messages),
                stage: Stage::Waiting(input),
            },
        );
        st.feeds.feeds_created += 1;
        Ok((StatusCode::ACCEPTED, Json(json!({ "feedId": id }))).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

pub(super) async fn get_feed(
    AxState(sim): AxState<Arc<Sim>>,
    Path(feed_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let op = Operation::GetFeed;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = {
        let st = sim.settled();
        match st
            .feeds
            .feeds
            .get(&feed_id)
            .filter(|f| f.seller_id == seller)
        {
            Some(f) => Json(feed_json(&feed_id, f, now)).into_response(),
            None => missing("The requested feed does not exist.").into_response(),
        }
    };
    respond(&sim, op, &request_id, resp)
}

pub(super) async fn get_feed_document(
    AxState(sim): AxState<Arc<Sim>>,
    Path(document_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let op = Operation::GetFeedDocument;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = (|| {
        let base = base_url(&headers)?;
        let mut st = sim.settled();
        let report = st
            .feeds
            .documents
            .get(&document_id)
            .filter(|d| d.seller_id == seller)
            .ok_or_else(|| missing("The requested feed document does not exist."))?
            .content_type
            .is_none();
        let url = st.presign(&base, &document_id, false, now);
        let mut v = json!({ "feedDocumentId": document_id, "url": url });
        if report {
            v["compressionAlgorithm"] = json!("GZIP");
        }
        Ok::<_, Refusal>(Json(v).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}
