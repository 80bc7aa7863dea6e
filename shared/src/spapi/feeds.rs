//! Feeds 2021-06-30 for `JSON_LISTINGS_FEED` ([`FeedsApi`], the `stock::ListingFeeds` port):
//! a feed document made (`createFeedDocument`), the feed uploaded to its pre-signed URL, the
//! feed created (`createFeed`); later `getFeed`, and once it is done its processing report
//! (`getFeedDocument`, then the report's URL, GZIP as Amazon serves it). Each message is one
//! SKU's `PATCH` of `/attributes/fulfillment_availability`, as the Listings Items path sends.
//! Shapes from `feeds_2021-06-30.json` and `listings-feed-schema-v2.json`; answers are bare.

use super::Operation;
use super::error::CallError;
use super::listings::DEFAULT_CHANNEL;
use super::transport::{Method, Request, Transport};
use crate::kernel::{MarketplaceId, SellerId};
use crate::stock::{FeedLine, FeedProgress, ListingError, ListingFeeds};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// The feed document's content type: declared at `createFeedDocument`, sent with the upload.
pub const FEED_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

pub struct FeedsApi {
    transport: Arc<Transport>,
}

impl FeedsApi {
    pub fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DocumentRequest {
    content_type: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentIn {
    feed_document_id: String,
    url: String,
    #[serde(default)]
    compression_algorithm: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FeedRequest<'a> {
    feed_type: &'static str,
    marketplace_ids: [&'a str; 1],
    input_feed_document_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedCreated {
    feed_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedIn {
    processing_status: String,
    #[serde(default)]
    result_feed_document_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FeedBody<'a> {
    header: Header<'a>,
    messages: Vec<Message<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Header<'a> {
    seller_id: &'a str,
    version: &'static str,
    issue_locale: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    message_id: u32,
    sku: &'a str,
    operation_type: &'static str,
    product_type: &'a str,
    patches: [Patch; 1],
}

#[derive(Serialize)]
struct Patch {
    op: &'static str,
    path: &'static str,
    value: [Availability; 1],
}

#[derive(Serialize)]
struct Availability {
    fulfillment_channel_code: &'static str,
    quantity: u32,
}

/// The processing report: Amazon's issues per message (none for an accepted one).
#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    issues: Vec<ReportIssue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportIssue {
    #[serde(default)]
    message_id: Option<u32>,
    code: String,
    severity: String,
}

fn feed_error(op: Operation, e: CallError) -> ListingError {
    let what = format!("{}: {e}", op.name());
    if e.is_retryable() || matches!(e, CallError::BudgetExhausted { .. } | CallError::Budget(_)) {
        ListingError::Retryable(what)
    } else {
        ListingError::Refused(what)
    }
}

/// The feed as Amazon reads it: message `i + 1` is `lines[i]`.
fn feed_body(seller: &SellerId, lines: &[FeedLine]) -> Vec<u8> {
    let body = FeedBody {
        header: Header {
            seller_id: seller.as_str(),
            version: "2.0",
            issue_locale: "en_US",
        },
        messages: lines
            .iter()
            .zip(1..)
            .map(|(l, message_id)| Message {
                message_id,
                sku: l.sku.as_str(),
                operation_type: "PATCH",
                product_type: &l.product_type,
                patches: [Patch {
                    op: "merge",
                    path: "/attributes/fulfillment_availability",
                    value: [Availability {
                        fulfillment_channel_code: DEFAULT_CHANNEL,
                        quantity: l.quantity,
                    }],
                }],
            })
            .collect(),
    };
    serde_json::to_vec(&body).expect("a feed body always serialises")
}

/// Amazon's issue codes by message id.
type MessageIssues = BTreeMap<u32, Vec<String>>;

/// The report's ERROR issues by message id; those without one concern the whole feed.
fn read_report(bytes: &[u8], gzip: bool) -> Result<(MessageIssues, Vec<String>), ListingError> {
    let mut text = Vec::new();
    if gzip {
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|e| ListingError::Retryable(format!("processing report unreadable: {e}")))?;
    } else {
        text.extend_from_slice(bytes);
    }
    let report: Report = serde_json::from_slice(&text).map_err(|e| {
        ListingError::Retryable(format!(
            "processing report unreadable: {}",
            crate::kernel::serde_reason(&e)
        ))
    })?;
    let (mut by_message, mut whole) = (MessageIssues::new(), Vec::new());
    for issue in report.issues.into_iter().filter(|i| i.severity == "ERROR") {
        match issue.message_id {
            Some(id) => by_message.entry(id).or_default().push(issue.code),
            None => whole.push(issue.code),
        }
    }
    Ok((by_message, whole))
}

#[async_trait]
impl ListingFeeds for FeedsApi {
    async fn submit(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        lines: &[FeedLine],
    ) -> Result<String, ListingError> {
        let op = Operation::CreateFeedDocument;
        let doc: DocumentIn = self
            .transport
            .call(
                seller,
                &Request::new(op, Method::POST, "/feeds/2021-06-30/documents").json(
                    &DocumentRequest {
                        content_type: FEED_CONTENT_TYPE,
                    },
                ),
            )
            .await
            .map_err(|e| feed_error(op, e))?;
        self.transport
            .document(
                Method::PUT,
                &doc.url,
                Some((FEED_CONTENT_TYPE, feed_body(seller, lines))),
            )
            .await
            .map_err(|e| feed_error(op, e))?;
        let op = Operation::CreateFeed;
        let created: FeedCreated = self
            .transport
            .call(
                seller,
                &Request::new(op, Method::POST, "/feeds/2021-06-30/feeds").json(&FeedRequest {
                    feed_type: "JSON_LISTINGS_FEED",
                    marketplace_ids: [marketplace.as_str()],
                    input_feed_document_id: &doc.feed_document_id,
                }),
            )
            .await
            .map_err(|e| feed_error(op, e))?;
        Ok(created.feed_id)
    }

    async fn progress(
        &self,
        seller: &SellerId,
        feed_id: &str,
    ) -> Result<FeedProgress, ListingError> {
        let op = Operation::GetFeed;
        let feed: FeedIn = self
            .transport
            .call(
                seller,
                &Request::get(op, format!("/feeds/2021-06-30/feeds/{feed_id}")),
            )
            .await
            .map_err(|e| feed_error(op, e))?;
        let status = feed.processing_status.as_str();
        match status {
            "IN_QUEUE" | "IN_PROGRESS" => return Ok(FeedProgress::Processing),
            "DONE" | "FATAL" => {}
            _ => {
                return Ok(FeedProgress::Failed {
                    codes: vec![status.to_owned()],
                });
            }
        }
        let Some(result) = feed.result_feed_document_id else {
            return Ok(if status == "DONE" {
                FeedProgress::Done {
                    rejected: BTreeMap::new(),
                }
            } else {
                FeedProgress::Failed {
                    codes: vec![status.to_owned()],
                }
            });
        };
        let op = Operation::GetFeedDocument;
        let doc: DocumentIn = self
            .transport
            .call(
                seller,
                &Request::get(op, format!("/feeds/2021-06-30/documents/{result}")),
            )
            .await
            .map_err(|e| feed_error(op, e))?;
        let bytes = self
            .transport
            .document(Method::GET, &doc.url, None)
            .await
            .map_err(|e| feed_error(op, e))?;
        let gzip = doc.compression_algorithm.as_deref() == Some("GZIP");
        let (rejected, whole) = read_report(&bytes, gzip)?;
        Ok(if status == "FATAL" {
            FeedProgress::Failed {
                codes: if whole.is_empty() {
                    vec![status.to_owned()]
                } else {
                    whole
                },
            }
        } else {
            FeedProgress::Done { rejected }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Sku;

    #[test]
    fn a_feed_is_one_patch_message_per_sku_numbered_from_one() {
        let seller = SellerId::parse("A1").unwrap();
        let line = |sku: &str, quantity| FeedLine {
            sku: Sku::parse(sku).unwrap(),
            product_type: "HOME".into(),
            quantity,
        };
        let body: serde_json::Value =
            serde_json::from_slice(&feed_body(&seller, &[line("S-1", 3), line("S-2", 0)])).unwrap();
        assert_eq!(body["header"]["version"], "2.0");
        assert_eq!(body["messages"][1]["messageId"], 2);
        assert_eq!(body["messages"][1]["operationType"], "PATCH");
        assert_eq!(
            body["messages"][1]["patches"][0]["value"][0],
            serde_json::json!({"fulfillment_channel_code": "DEFAULT", "quantity": 0})
        );
    }

    #[test]
    fn a_report_names_the_refused_messages_and_only_errors_count() {
        let report = br#"{"header":{"sellerId":"A1","version":"2.0","feedId":"1"},
            "issues":[{"messageId":2,"code":"4000003","severity":"ERROR","message":"m"},
                      {"messageId":3,"code":"99","severity":"WARNING","message":"m"}],
            "summary":{"errors":1,"warnings":1,"messagesProcessed":3,"messagesAccepted":2,"messagesInvalid":1}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, report).unwrap();
        let (by_message, whole) = read_report(&gz.finish().unwrap(), true).unwrap();
        assert_eq!(by_message, [(2, vec!["4000003".to_owned()])].into());
        assert!(whole.is_empty());
    }
}
