//! Queue messages as the services see them, and how each one ends: `Done`, `Retry(after)` or
//! `DeadLetter(reason)`. The Lambda layer's one batch helper (`lambda::batch`) carries the
//! endings out on SQS; services only decide them.

use super::ids::{AmazonOrderId, SellerId};
use super::store::IoFailure;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One message taken from a queue.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub message_id: String,
    pub body: String,
    /// SQS `ApproximateReceiveCount`: this delivery's number.
    pub receive_count: u32,
}

/// How a message ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Handled (or nothing to do): deleted from its queue.
    Done,
    /// Left on its queue, visible again after this long (`None`: the queue's own visibility
    /// timeout).
    Retry(Option<Duration>),
    /// Given up: to the dead-letter queue with its reason, then deleted from its queue.
    DeadLetter(DeadLetter),
}

/// Why a message was given up, as a dead-letter queue receives it: ids and reasons only,
/// never the message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub message_id: String,
    /// Short machine-readable kind: `malformed`, `unknown_seller`, `not_found`, ...
    pub reason_kind: String,
    pub reason: String,
    /// Attempts made (failures counted, or deliveries received).
    pub attempts: u32,
    pub dead_lettered_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<SellerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<AmazonOrderId>,
    /// The SP-API notification's id, for a notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    /// The deletion request's id, for a deletion request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl DeadLetter {
    pub fn new(
        message_id: &str,
        reason_kind: &str,
        reason: String,
        attempts: u32,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            message_id: message_id.to_owned(),
            reason_kind: reason_kind.to_owned(),
            reason,
            attempts,
            dead_lettered_at: at,
            seller_id: None,
            order_id: None,
            notification_id: None,
            request_id: None,
        }
    }
}

/// Errors of the queues. Messages name the queue and operation, never a message body.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue {queue}: {io}")]
    Failed {
        queue: String,
        #[source]
        io: IoFailure,
    },
    #[error("message for {queue} does not encode: {message}")]
    Encode { queue: String, message: String },
}

/// The queue a batch came from and its dead-letter queue.
#[async_trait]
pub trait BatchQueue: Send + Sync {
    /// Make a received message visible again after `delay`.
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError>;
    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), QueueError>;
}
