//! What Lambda's SQS event source mapping does, for the local stack and tests (moto has no
//! event source mappings): receive a batch, hand it to the function as an `SqsEvent`, delete
//! the messages the function did not list in `batchItemFailures`.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};
use std::future::Future;

/// What pumping a queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pumped {
    pub batches: u32,
    pub messages: u32,
    /// Messages the function kept (batch item failures), counted per receive.
    pub kept: u32,
}

pub struct EventSource {
    sqs: Client,
    queue_url: String,
    arn: String,
    batch_size: i32,
}

impl EventSource {
    pub fn new(sqs: Client, queue_url: &str) -> Self {
        let name = queue_url.rsplit('/').next().unwrap_or_default();
        Self {
            sqs,
            queue_url: queue_url.to_owned(),
            arn: format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
            batch_size: 10,
        }
    }

    /// Batches of at most `size` messages (10, SQS's most, unless set), as the event source
    /// mapping's batch size.
    pub fn batch_size(mut self, size: i32) -> Self {
        self.batch_size = size.clamp(1, 10);
        self
    }

    /// Receive and hand over batches until the queue has nothing visible. `redeliver_kept`:
    /// make kept messages visible at once (as if their visibility timeout had passed) instead
    /// of leaving them hidden, to drive retries in tests without waiting.
    pub async fn pump<F, Fut>(&self, mut invoke: F, redeliver_kept: bool) -> Result<Pumped, String>
    where
        F: FnMut(Value) -> Fut,
        Fut: Future<Output = Result<Vec<String>, String>>,
    {
        let mut pumped = Pumped::default();
        loop {
            let messages = receive(&self.sqs, &self.queue_url, self.batch_size).await?;
            if messages.is_empty() {
                return Ok(pumped);
            }
            pumped.batches += 1;
            pumped.messages += messages.len() as u32;
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let attributes: serde_json::Map<String, Value> = m
                        .attributes()
                        .map(|a| {
                            a.iter()
                                .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                                .collect()
                        })
                        .unwrap_or_default();
                    json!({
                        "messageId": m.message_id(),
                        "receiptHandle": m.receipt_handle(),
                        "body": m.body(),
                        "attributes": attributes,
                        "messageAttributes": {},
                        "md5OfBody": m.md5_of_body(),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": self.arn,
                        "awsRegion": "us-east-1",
                    })
                })
                .collect();
            let kept = invoke(json!({ "Records": records })).await?;
            pumped.kept += kept.len() as u32;
            for m in &messages {
                let (Some(id), Some(receipt)) = (m.message_id(), m.receipt_handle()) else {
                    continue;
                };
                let result = if kept.iter().any(|k| k == id) {
                    if !redeliver_kept {
                        continue;
                    }
                    self.sqs
                        .change_message_visibility()
                        .queue_url(&self.queue_url)
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                } else {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                };
                result?;
            }
        }
    }
}

/// Up to `max` visible messages, with their system attributes, without waiting.
async fn receive(
    sqs: &Client,
    queue_url: &str,
    max: i32,
) -> Result<Vec<aws_sdk_sqs::types::Message>, String> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .wait_time_seconds(0)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(out.messages.unwrap_or_default())
}

/// Every message body on a queue, received and deleted (reading a DLQ or the stock queue).
pub async fn drain_bodies(sqs: &Client, queue_url: &str) -> Result<Vec<String>, String> {
    let mut bodies = Vec::new();
    loop {
        let messages = receive(sqs, queue_url, 10).await?;
        if messages.is_empty() {
            return Ok(bodies);
        }
        for m in messages {
            bodies.extend(m.body().map(str::to_owned));
            if let Some(r) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(r)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            }
        }
    }
}

/// The message ids a function's `SqsBatchResponse` asks to keep on the queue.
pub fn batch_item_failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
