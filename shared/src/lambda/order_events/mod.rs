//! `order-events`: SQS batches of `ORDER_CHANGE` notifications. Answers with the messages to
//! keep (`batchItemFailures`); every other message of the batch is done or dead-lettered.

pub mod config;

use super::batch::{Finished, answer, run_whole_batch};
use super::intake::IntakeAdapters;
use crate::aws::{SqsBatchQueue, SqsQueue};
use crate::kernel::BatchQueue;
use crate::orders::notifications::{BatchReport, EventSettings, OrderEvents};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use config::OrderEventsConfig;
use lambda_runtime::LambdaEvent;

pub struct OrderEventsHandler {
    adapters: IntakeAdapters,
    queue: SqsBatchQueue,
    settings: EventSettings,
}

impl OrderEventsHandler {
    /// Build every client once, at cold start.
    pub fn new(config: OrderEventsConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clock(config, sdk, std::sync::Arc::new(crate::kernel::SystemClock))
    }

    pub fn with_clock(
        config: OrderEventsConfig,
        sdk: &aws_config::SdkConfig,
        clock: std::sync::Arc<dyn crate::kernel::Clock>,
    ) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        Self {
            adapters: IntakeAdapters::new(&config.intake, sdk, clock),
            queue: SqsBatchQueue {
                source: Some(SqsQueue::new(sqs.clone(), config.notifications_queue_url)),
                dead_letters: SqsQueue::new(sqs, config.notifications_dlq_url),
            },
            settings: config.events,
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, std::convert::Infallible> {
        let (event, context) = event.into_parts();
        let report = self.handle_records(event).await;
        tracing::info!(
            request_id = %context.request_id,
            messages = report.messages,
            notifications_processed = report.notifications_processed,
            duplicate_notifications_ignored = report.duplicate_notifications_ignored,
            amazon_fulfilled_ignored = report.amazon_fulfilled_ignored,
            orders_inserted = report.orders_inserted,
            orders_updated = report.orders_updated,
            orders_unchanged = report.orders_unchanged,
            orders_stale = report.orders_stale,
            deferred = report.deferred,
            retried = report.retried,
            dead_lettered = report.dead_lettered,
            "notification batch finished"
        );
        Ok(answer(report.keep))
    }

    /// The batch's figures as well as the messages to keep (tests and the local run read them).
    pub async fn handle_records(&self, event: SqsEvent) -> BatchReport {
        let a = &self.adapters;
        let service = OrderEvents {
            api: &a.api,
            intake: a.intake(),
            claims: &a.control,
            sellers: &a.control,
            clock: a.clock.as_ref(),
            settings: self.settings,
        };
        handle_notifications(&service, &self.queue, event.records).await
    }
}

/// A batch of notifications through the batch helper, and its figures.
pub async fn handle_notifications(
    service: &OrderEvents<'_>,
    queue: &dyn BatchQueue,
    records: Vec<SqsMessage>,
) -> BatchReport {
    let handled = run_whole_batch(queue, records, |messages| async move {
        service.handle_batch(&messages).await
    })
    .await;
    let mut report = BatchReport::default();
    for h in &handled {
        report.add(&h.message_id, &h.outcome, h.finished == Finished::Kept);
    }
    report
}

#[cfg(test)]
mod tests {
    use crate::orders::parse_order_change;
    use aws_lambda_events::event::sqs::SqsEvent;

    /// The sample event (`cargo lambda invoke order-events --data-file ...`) is what the
    /// handler reads: an SQS event whose body is a valid ORDER_CHANGE.
    #[test]
    fn the_sample_event_is_an_sqs_batch_of_one_order_change() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/order-events/order-change.json"
        );
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(event.records.len(), 1);
        let body = event.records[0].body.as_deref().unwrap();
        let change = parse_order_change(body).unwrap();
        assert_eq!(change.order_id.as_str(), "111-0000000-1234567");
    }
}
