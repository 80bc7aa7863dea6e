//! `pii-redactor`: a scheduled (or on-demand) purge run, or a batch of deletion requests
//! from its SQS queue. One function, two events: an event with SQS `Records` is deletion
//! requests; anything else is a purge run.

pub mod config;

use super::deadline::deadline_instant;
use crate::aws::{
    DynamoAuditLog, DynamoControl, DynamoOrderStore, PiiTable, SecretsManagerCredentials, SqsQueue,
};
use crate::kernel::{Clock, SystemClock, serde_reason};
use crate::pii::{DeletionOutcome, DeletionRequest, PiiRedactor, PurgeReport, RedactorError};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use config::PiiRedactorConfig;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time kept back at the end of a purge run for the self-check and the answer.
const RESERVE: Duration = Duration::from_secs(30);

/// Why a deletion request was given up, as its dead-letter queue receives it. Ids only.
#[derive(Debug, Clone, Serialize)]
pub struct DeletionDeadLetter {
    pub message_id: String,
    pub request_id: Option<String>,
    pub seller_id: Option<String>,
    pub reason_kind: String,
    pub reason: String,
    pub receives: u32,
    pub dead_lettered_at: DateTime<Utc>,
}

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
    dead_letters: SqsQueue,
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
            dead_letters: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), config.deletion_dlq_url),
            clock,
            max_receives: config.deletion_max_receives,
        }
    }

    pub fn redactor(&self) -> PiiRedactor<'_> {
        PiiRedactor {
            records: &self.orders,
            vault: &self.pii_table,
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
            let mut response = SqsBatchResponse::default();
            response.set_failures(report.keep);
            return Ok(serde_json::to_value(response)?);
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
        let mut report = DeletionBatchReport::default();
        // One at a time: requests are rare and each one is a whole seller or order.
        for m in event.records {
            self.handle_deletion(m, &mut report).await;
        }
        report
    }

    async fn handle_deletion(&self, m: SqsMessage, report: &mut DeletionBatchReport) {
        let message_id = m.message_id.clone().unwrap_or_default();
        let receives: u32 = m
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let request: DeletionRequest =
            match serde_json::from_str(m.body.as_deref().unwrap_or_default()) {
                Ok(r) => r,
                Err(e) => {
                    // The parser's message names fields and types, never a value it read.
                    let reason = format!("not a deletion request: {}", serde_reason(&e));
                    let letter = self.letter(&message_id, None, "malformed", reason, receives);
                    return self.dead_letter(letter, &message_id, report).await;
                }
            };
        let redactor = self.redactor();
        match redactor
            .delete(&request, &self.control, &self.credentials)
            .await
        {
            Ok(DeletionOutcome::Completed(_)) => report.completed += 1,
            Ok(DeletionOutcome::AlreadyCompleted(_)) => report.already_completed += 1,
            Err(e) => {
                let permanent = matches!(e, RedactorError::RequestIdReused { .. });
                tracing::warn!(request_id = %request.request_id, error_kind = e.kind(), error = %e, receives, "deletion request failed");
                if permanent || receives >= self.max_receives {
                    let letter = self.letter(
                        &message_id,
                        Some(&request),
                        e.kind(),
                        e.to_string(),
                        receives,
                    );
                    return self.dead_letter(letter, &message_id, report).await;
                }
                report.retried += 1;
                report.keep.push(message_id);
            }
        }
    }

    fn letter(
        &self,
        message_id: &str,
        request: Option<&DeletionRequest>,
        kind: &str,
        reason: String,
        receives: u32,
    ) -> DeletionDeadLetter {
        DeletionDeadLetter {
            message_id: message_id.to_owned(),
            request_id: request.map(|r| r.request_id.to_string()),
            seller_id: request.map(|r| r.scope.seller_id().to_string()),
            reason_kind: kind.to_owned(),
            reason,
            receives,
            dead_lettered_at: self.clock.now(),
        }
    }

    async fn dead_letter(
        &self,
        letter: DeletionDeadLetter,
        message_id: &str,
        report: &mut DeletionBatchReport,
    ) {
        match self.dead_letters.send_json(&letter).await {
            Ok(()) => {
                tracing::warn!(message_id, request_id = letter.request_id.as_deref(), reason_kind = %letter.reason_kind, reason = %letter.reason, "deletion request sent to the dead-letter queue");
                report.dead_lettered += 1;
            }
            Err(e) => {
                // Not dropped: it stays on its queue; the queue's redrive is the backstop.
                tracing::error!(message_id, error = %e, "could not dead-letter; the request stays on its queue");
                report.retried += 1;
                report.keep.push(message_id.to_owned());
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
