//! SQS: the stock queue (stock changes out), and a consumer's queue with its dead-letter queue
//! for the batch helper (a message's retry delay; dead letters with reasons, ids only).

use crate::kernel::{BatchQueue, DeadLetter};
use crate::kernel::{Chunk, QueueError, in_rounds};
use crate::stock::StockChange;
use crate::stock::StockEvents;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use std::time::Duration;

/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// One queue by URL.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    /// A FIFO queue's one message group: its messages are taken one at a time, in order.
    group: Option<String>,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
            group: None,
        }
    }

    /// A FIFO queue whose messages all go in `group`, each sent as a message of its own (no
    /// deduplication: its consumer is idempotent).
    pub fn fifo(client: Client, url: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
            group: Some(group.into()),
        }
    }

    fn name(&self) -> String {
        self.url.rsplit('/').next().unwrap_or(&self.url).to_owned()
    }

    fn sqs_error<E>(
        &self,
        operation: &'static str,
        e: aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    ) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        QueueError::Failed {
            queue: self.name(),
            io: super::io_failure(operation, e),
        }
    }

    /// Send `body` as JSON. Callers put ids and quantities in it, never PII.
    pub async fn send_json<T: serde::Serialize>(&self, body: &T) -> Result<(), QueueError> {
        self.send_json_after(body, Duration::ZERO).await
    }

    /// Send `body` as JSON, received no sooner than `delay` from now (SQS allows 15 minutes).
    pub async fn send_json_after<T: serde::Serialize>(
        &self,
        body: &T,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let text = serde_json::to_string(body).map_err(|e| QueueError::Encode {
            queue: self.name(),
            message: e.to_string(),
        })?;
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(text);
        // A FIFO queue takes no delay per message.
        if !delay.is_zero() {
            send = send.delay_seconds(delay.min(Duration::from_secs(900)).as_secs() as i32);
        }
        if let Some((group, dedupe)) = self.fifo_ids() {
            send = send
                .message_group_id(group)
                .message_deduplication_id(dedupe);
        }
        send.send()
            .await
            .map_err(|e| self.sqs_error("SendMessage", e))?;
        Ok(())
    }

    /// A FIFO queue's group and a fresh deduplication id for one message (no deduplication:
    /// its consumer is idempotent); `None` for a standard queue.
    fn fifo_ids(&self) -> Option<(&str, String)> {
        self.group.as_deref().map(|group| {
            let id: u128 = rand::random();
            (group, format!("{id:032x}"))
        })
    }

    /// Send each of `bodies` as JSON with as few `SendMessageBatch` requests (ten a request)
    /// as their number allows (`kernel::in_rounds`): what a batch request did not send is
    /// sent again, then alone. The answers in the order given, each apart.
    pub async fn send_json_each<T: serde::Serialize>(
        &self,
        bodies: &[T],
    ) -> Vec<Result<(), QueueError>> {
        // A body that does not encode goes alone, where `send_json` answers it so.
        let texts: Vec<Option<String>> = bodies
            .iter()
            .map(|body| serde_json::to_string(body).ok())
            .collect();
        let texts = &texts;
        in_rounds(
            bodies.len(),
            10,
            |chunk| async move {
                let entries: Result<Vec<SendMessageBatchRequestEntry>, _> = chunk
                    .iter()
                    .filter_map(|&i| texts[i].as_ref().map(|text| (i, text)))
                    .map(|(i, text)| {
                        let entry = SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(text);
                        match self.fifo_ids() {
                            Some((group, dedupe)) => entry
                                .message_group_id(group)
                                .message_deduplication_id(dedupe),
                            None => entry,
                        }
                        .build()
                    })
                    .collect();
                let (Ok(entries), true) = (entries, chunk.iter().all(|&i| texts[i].is_some()))
                else {
                    return Chunk::Refused;
                };
                let Ok(out) = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                else {
                    return Chunk::Refused;
                };
                let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                let (again, sent): (Vec<usize>, Vec<usize>) = chunk
                    .iter()
                    .partition(|i| failed.contains(&i.to_string().as_str()));
                Chunk::Done {
                    answered: sent.into_iter().map(|i| (i, Ok(()))).collect(),
                    again,
                }
            },
            |i| self.send_json(&bodies[i]),
        )
        .await
    }

    /// Make a received message visible again after `delay`.
    pub async fn defer(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let secs = delay.min(MAX_VISIBILITY).as_secs().max(1) as i32;
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| self.sqs_error("ChangeMessageVisibility", e))?;
        Ok(())
    }
}

#[async_trait]
impl StockEvents for SqsQueue {
    async fn publish(&self, change: &StockChange) -> Result<(), QueueError> {
        self.send_json(change).await
    }

    async fn publish_many(&self, changes: &[StockChange]) -> Vec<Result<(), QueueError>> {
        self.send_json_each(changes).await
    }

    async fn publish_movement(
        &self,
        movement: &crate::stock::StaffMovement,
    ) -> Result<(), QueueError> {
        self.send_json(movement).await
    }
}

#[async_trait]
impl crate::pii::DeletionInbox for SqsQueue {
    async fn submit(&self, request: &crate::pii::DeletionRequest) -> Result<(), QueueError> {
        self.send_json(request).await
    }
}

#[async_trait]
impl crate::labels::ShipmentJobs for SqsQueue {
    async fn send(&self, job: &crate::labels::ShipmentJob) -> Result<(), QueueError> {
        self.send_json(&job.body()).await
    }
}

/// A consumer's queue and its dead-letter queue.
pub struct SqsBatchQueue {
    /// `None` for a consumer whose retries only ever wait for the queue's own visibility
    /// timeout (no delay to set).
    pub source: Option<SqsQueue>,
    pub dead_letters: SqsQueue,
}

#[async_trait]
impl BatchQueue for SqsBatchQueue {
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        match &self.source {
            Some(source) => source.defer(receipt_handle, delay).await,
            None => {
                // A consumer wired without its queue: the visibility timeout applies instead.
                tracing::warn!(
                    delay_ms = delay.as_millis() as u64,
                    "no source queue to set a retry delay on; the visibility timeout applies"
                );
                Ok(())
            }
        }
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), QueueError> {
        self.dead_letters.send_json(letter).await
    }
}

#[async_trait]
impl crate::audit::ReportQueue for SqsQueue {
    async fn submit(&self, id: &crate::kernel::ReportId) -> Result<(), QueueError> {
        self.send_json(&serde_json::json!({ "report_id": id }))
            .await
    }
}
