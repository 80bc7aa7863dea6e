//! `pii-redactor`: a scheduled (or on-demand) purge run, or a batch of deletion requests
//! from its SQS queue. One function, two events: an event with SQS `Records` is deletion
//! requests; anything else is a purge run.

pub mod config;

use super::batch::{Finished, answer, kept, run_batch};
use super::deadline::deadline_instant;
use crate::aws::{
    DynamoAuditLog, DynamoControl, DynamoOrderStore, PiiTable, SecretsManagerCredentials,
    SqsBatchQueue, SqsQueue,
};
use crate::kernel::{Clock, SystemClock, serde_reason};
use crate::kernel::{DeadLetter, Ending, QueuedMessage};
use crate::pii::{DeletionOutcome, DeletionRequest, PiiRedactor, PurgeReport, RedactorError};
use aws_lambda_events::event::sqs::SqsEvent;
use config::PiiRedactorConfig;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time kept back at the end of a purge run for the self-check and the answer.
const RESERVE: Duration = Duration::from_secs(30);

/// What a batch of deletion requests came to (tests and the local run read it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeletionBatchReport {
    pub completed: u32,
    pub already_completed: u32,
    pub dead_lettered: u32,
    pub retried: u32,
    /// Message ids to leave on the queue (`batchItemFailures`).
    pub keep: Vec<String>,
}

pub struct PiiRedactorHandler {
    orders: DynamoOrderStore,
    pii_table: PiiTable,
    audit: DynamoAuditLog,
    control: DynamoControl,
    credentials: SecretsManagerCredentials,
    /// Deletion requests retry by staying on their queue; given up, they go to its DLQ.
    queue: SqsBatchQueue,
    clock: Arc<dyn Clock>,
    max_receives: u32,
}

impl PiiRedactorHandler {
    /// Build every client once, at cold start.
    pub fn new(config: PiiRedactorConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clock(config, sdk, Arc::new(SystemClock))
    }

    pub fn with_clock(
        config: PiiRedactorConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        Self {
            orders: DynamoOrderStore::new(dynamo.clone(), config.orders_table),
            // Purging deletes by key: no KMS client, nothing here can open PII.
            pii_table: PiiTable::new(dynamo.clone(), config.pii_table),
            audit: DynamoAuditLog::new(dynamo.clone(), config.audit_table),
            control: DynamoControl::new(dynamo, config.control_table),
            credentials: SecretsManagerCredentials::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                None,
                config.seller_secret_prefix,
            ),
            queue: SqsBatchQueue {
                source: None,
                dead_letters: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), config.deletion_dlq_url),
            },
            clock,
            max_receives: config.deletion_max_receives,
        }
    }

    pub fn redactor(&self) -> PiiRedactor<'_> {
        PiiRedactor {
            records: &self.orders,
            sealed_items: &self.pii_table,
            audit: &self.audit,
            sellers: &self.control,
            clock: self.clock.as_ref(),
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        let (payload, context) = event.into_parts();
        if payload.get("Records").is_some() {
            let event: SqsEvent = serde_json::from_value(payload)?;
            let report = self.handle_deletions(event).await;
            return Ok(serde_json::to_value(answer(report.keep))?);
        }
        let deadline = deadline_instant(context.deadline);
        let out_of_time = move || deadline.is_some_and(|d: Instant| Instant::now() + RESERVE >= d);
        let report = self.purge_run(&out_of_time).await?;
        Ok(serde_json::to_value(report)?)
    }

    /// One purge run, stopping where it is when `out_of_time` says so (the Lambda deadline).
    pub async fn purge_run(
        &self,
        out_of_time: &(dyn Fn() -> bool + Sync),
    ) -> Result<PurgeReport, RedactorError> {
        let report = self.redactor().purge_due(out_of_time).await?;
        tracing::info!(
            sellers = report.sellers,
            orders_purged = report.orders_purged,
            pii_items_deleted = report.pii_items_deleted,
            stragglers_purged = report.stragglers_purged,
            orders_moved_on = report.orders_moved_on,
            failures = report.failures,
            pii_past_due = report.pii_past_due,
            complete = report.complete,
            "purge run finished"
        );
        Ok(report)
    }

    pub async fn handle_deletions(&self, event: SqsEvent) -> DeletionBatchReport {
        // One at a time: requests are rare and each one is a whole seller or order.
        let handled = run_batch(&self.queue, event.records, 1, |m| async move {
            self.handle_deletion(&m).await
        })
        .await;
        let mut report = DeletionBatchReport::default();
        for h in &handled {
            match (&h.outcome, h.finished) {
                (_, Finished::Kept) => report.retried += 1,
                (_, Finished::DeadLettered) => report.dead_lettered += 1,
                (Some(DeletionOutcome::Completed(_)), _) => report.completed += 1,
                (Some(DeletionOutcome::AlreadyCompleted(_)), _) => report.already_completed += 1,
                (None, Finished::Done) => {}
            }
        }
        report.keep = kept(&handled);
        report
    }

    async fn handle_deletion(&self, m: &QueuedMessage) -> (Option<DeletionOutcome>, Ending) {
        let now = self.clock.now();
        let request: DeletionRequest = match serde_json::from_str(&m.body) {
            Ok(r) => r,
            Err(e) => {
                // The parser's message names fields and types, never a value it read.
                let reason = format!("not a deletion request: {}", serde_reason(&e));
                let letter =
                    DeadLetter::new(&m.message_id, "malformed", reason, m.receive_count, now);
                return (None, Ending::DeadLetter(letter));
            }
        };
        let redactor = self.redactor();
        match redactor
            .delete(&request, &self.control, &self.credentials)
            .await
        {
            Ok(outcome) => (Some(outcome), Ending::Done),
            Err(e) => {
                let permanent = matches!(e, RedactorError::RequestIdReused { .. });
                let receives = m.receive_count;
                tracing::warn!(request_id = %request.request_id, error_kind = e.kind(), error = %e, receives, "deletion request failed");
                if permanent || receives >= self.max_receives {
                    let letter = DeadLetter {
                        request_id: Some(request.request_id.to_string()),
                        seller_id: Some(request.scope.seller_id().clone()),
                        ..DeadLetter::new(&m.message_id, e.kind(), e.to_string(), receives, now)
                    };
                    return (None, Ending::DeadLetter(letter));
                }
                // Back after the queue's visibility timeout, counted by its receive count.
                (None, Ending::Retry(None))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_reasons_name_fields_but_never_values() {
        let e = serde_json::from_str::<DeletionRequest>(
            r#"{"request_id":"r1","scope":"seller","seller_id":"A1","requested_by":"ops","buyer":"Odalys Brennan"}"#,
        )
        .unwrap_err();
        let reason = serde_reason(&e);
        assert!(reason.contains("buyer"), "{reason}");
        let e = serde_json::from_str::<DeletionRequest>(
            r#"{"request_id":"r1","scope":"seller","seller_id":"Odalys Brennan","requested_by":"ops"}"#,
        )
        .unwrap_err();
        let reason = serde_reason(&e);
        assert!(!reason.contains("Odalys"), "{reason}");
        assert!(
            serde_reason(&serde_json::from_str::<DeletionRequest>("{nope").unwrap_err())
                .starts_with("invalid JSON")
        );
    }
}
