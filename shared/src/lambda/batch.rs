//! The one SQS batch helper. Every queue consumer hands it its batch and a handler that decides
//! how each message ends (`kernel::Ending`); the helper runs the handler over the messages (a
//! bounded number at once), carries each ending out and answers SQS with the partial batch
//! failures:
//!
//! - `Done`: nothing to do; SQS deletes the message;
//! - `Retry(after)`: the message stays (a batch item failure), visible again after `after`;
//! - `DeadLetter(reason)`: the reason goes to the dead-letter queue, then SQS deletes the
//!   message. If the dead letter cannot be sent, the message stays instead: nothing is lost.

use crate::kernel::{BatchQueue, Ending, QueuedMessage};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use futures::{StreamExt, stream};
use std::future::Future;

/// How a message's ending was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Done,
    /// Left on the queue (a retry, or a dead letter that could not be sent).
    Kept,
    DeadLettered,
}

/// One message's result: what the handler made of it, and how it finished.
#[derive(Debug, Clone)]
pub struct BatchItem<T> {
    pub message_id: String,
    pub outcome: T,
    pub finished: Finished,
}

/// The message as a handler reads it, and its receipt handle.
fn queued(r: SqsMessage) -> (QueuedMessage, String) {
    let receipt = r.receipt_handle.unwrap_or_default();
    let message = QueuedMessage {
        message_id: r.message_id.unwrap_or_default(),
        receive_count: r
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
        body: r.body.unwrap_or_default(),
    };
    (message, receipt)
}

/// Run `handle` over `records` (at most `concurrency` at once) and carry out each ending.
pub async fn run_batch<T, F, Fut>(
    queue: &dyn BatchQueue,
    records: Vec<SqsMessage>,
    concurrency: usize,
    handle: F,
) -> Vec<BatchItem<T>>
where
    F: Fn(QueuedMessage) -> Fut,
    Fut: Future<Output = (T, Ending)>,
{
    stream::iter(records)
        .map(|r| {
            let (message, receipt) = queued(r);
            let message_id = message.message_id.clone();
            let handled = handle(message);
            async move {
                let (outcome, ending) = handled.await;
                let finished = finish(queue, &message_id, &receipt, ending).await;
                BatchItem {
                    message_id,
                    outcome,
                    finished,
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Hand the whole batch to `handle` (a consumer that takes each step for every message at
/// once) and carry out each ending; `handle` answers each message, in the order given.
pub async fn run_whole_batch<T, F, Fut>(
    queue: &dyn BatchQueue,
    records: Vec<SqsMessage>,
    handle: F,
) -> Vec<BatchItem<T>>
where
    F: FnOnce(Vec<QueuedMessage>) -> Fut,
    Fut: Future<Output = Vec<(T, Ending)>>,
{
    let (messages, receipts): (Vec<_>, Vec<_>) = records.into_iter().map(queued).unzip();
    let ids: Vec<String> = messages.iter().map(|m| m.message_id.clone()).collect();
    let answers = handle(messages).await;
    assert_eq!(answers.len(), ids.len(), "one answer per message");
    stream::iter(ids.into_iter().zip(receipts).zip(answers))
        .map(|((message_id, receipt), (outcome, ending))| async move {
            let finished = finish(queue, &message_id, &receipt, ending).await;
            BatchItem {
                message_id,
                outcome,
                finished,
            }
        })
        .buffered(10)
        .collect()
        .await
}

async fn finish(
    queue: &dyn BatchQueue,
    message_id: &str,
    receipt: &str,
    ending: Ending,
) -> Finished {
    match ending {
        Ending::Done => Finished::Done,
        Ending::Retry(None) => Finished::Kept,
        Ending::Retry(Some(delay)) => {
            if let Err(e) = queue.retry_after(receipt, delay).await {
                tracing::warn!(message_id, error = %e, "could not set the retry delay; the queue's visibility timeout applies");
            }
            Finished::Kept
        }
        Ending::DeadLetter(letter) => match queue.dead_letter(&letter).await {
            Ok(()) => {
                tracing::warn!(
                    message_id,
                    seller_id = letter.seller_id.as_ref().map(|s| s.as_str()),
                    order_id = letter.order_id.as_ref().map(|o| o.as_str()),
                    notification_id = letter.notification_id.as_deref(),
                    request_id = letter.request_id.as_deref(),
                    reason_kind = %letter.reason_kind,
                    reason = %letter.reason,
                    "message sent to the dead-letter queue"
                );
                Finished::DeadLettered
            }
            Err(e) => {
                // Not dropped: it stays on its queue, and the queue's own redrive is the backstop.
                tracing::error!(message_id, error = %e, "could not dead-letter; the message stays on its queue");
                Finished::Kept
            }
        },
    }
}

/// The answer to SQS: every message kept is a batch item failure.
pub fn answer(kept: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.set_failures(kept);
    response
}

/// The ids of the messages left on the queue.
pub fn kept<T>(handled: &[BatchItem<T>]) -> Vec<String> {
    handled
        .iter()
        .filter(|h| h.finished == Finished::Kept)
        .map(|h| h.message_id.clone())
        .collect()
}
