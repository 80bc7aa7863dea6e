//! SQS: the stock queue (stock changes out), the notifications queue (deferring a message
//! when the rate budget has no token near) and its dead-letter queue (reasons, ids only).

use crate::domain::StockChange;
use crate::ports::{DeadLetter, NotificationQueue, StockEvents};
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use std::time::Duration;

/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// Errors of the queues. Messages name the queue and operation, never a message body.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("sqs {operation} on {queue} failed: {message}")]
    Sqs {
        operation: &'static str,
        queue: String,
        message: String,
    },
    #[error("message for {queue} does not encode: {message}")]
    Encode { queue: String, message: String },
}

/// One queue by URL.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    fn name(&self) -> String {
        self.url.rsplit('/').next().unwrap_or(&self.url).to_owned()
    }

    fn sqs_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        operation: &'static str,
        e: aws_sdk_sqs::error::SdkError<E, R>,
    ) -> QueueError {
        QueueError::Sqs {
            operation,
            queue: self.name(),
            message: DisplayErrorContext(&e).to_string(),
        }
    }

    /// Send `body` as JSON. Callers put ids and quantities in it, never PII.
    pub async fn send_json<T: serde::Serialize>(&self, body: &T) -> Result<(), QueueError> {
        let text = serde_json::to_string(body).map_err(|e| QueueError::Encode {
            queue: self.name(),
            message: e.to_string(),
        })?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(text)
            .send()
            .await
            .map_err(|e| self.sqs_error("SendMessage", e))?;
        Ok(())
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
}

/// The notifications queue and its dead-letter queue.
pub struct SqsNotificationQueue {
    pub source: SqsQueue,
    pub dead_letters: SqsQueue,
}

#[async_trait]
impl NotificationQueue for SqsNotificationQueue {
    async fn defer(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        self.source.defer(receipt_handle, delay).await
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), QueueError> {
        self.dead_letters.send_json(letter).await
    }
}
