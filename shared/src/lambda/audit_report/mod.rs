//! `audit-report`: two events. Report jobs from its SQS queue (an event with `Records`: reports
//! auditors asked for over the API, made and kept in the reports bucket); or invoked directly
//! (an operator, a scheduled export) with a range and a format, answered with the report.
//!
//! Direct event: `{"from": RFC 3339, "to": RFC 3339, "format": "json" | "csv"}`. `to` defaults
//! to now, `from` to 30 days before `to`, `format` to JSON. Anything else is refused with a
//! message naming the field. The answer is the report itself (JSON), or
//! `{"content_type": "text/csv", "body": "..."}`.

pub mod config;

use super::batch::{Finished, answer, kept, run_batch};
use crate::audit::{
    AuditReport, AuditReporter, Format, JobOutcome, ReportError, ReportMaker, ReportRange,
};
use crate::aws::{
    CloudTrailAccessTrail, DynamoAuditLog, DynamoControl, PiiTable, S3ReportArchive, SqsBatchQueue,
    SqsQueue,
};
use crate::kernel::{Clock, DeadLetter, Ending, QueuedMessage, ReportId, serde_reason};
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Duration, Utc};
use config::AuditReportConfig;
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A failed try of a report job comes back after this (CloudTrail's throttling, a store).
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(120);

/// What a synchronous Lambda answer may carry (6 MB), less room for the envelope.
const MAX_ANSWER_BYTES: usize = 6_000_000 - 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub format: Format,
}

/// A report job's message: the id alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobMessage {
    report_id: ReportId,
}

/// What a batch of report jobs came to (tests and the local run read it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportBatchReport {
    pub made: u32,
    pub already_done: u32,
    pub given_up: u32,
    pub retried: u32,
    pub dead_lettered: u32,
    /// Message ids to leave on the queue (`batchItemFailures`).
    pub keep: Vec<String>,
}

pub struct AuditReportHandler {
    audit: DynamoAuditLog,
    trail: CloudTrailAccessTrail,
    control: DynamoControl,
    pii_table: PiiTable,
    archive: S3ReportArchive,
    /// Report jobs retry by staying on their queue; given up, they go to its DLQ.
    queue: SqsBatchQueue,
    max_tries: u32,
    clock: Arc<dyn Clock>,
}

impl AuditReportHandler {
    pub fn new(
        config: AuditReportConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        Self {
            audit: DynamoAuditLog::new(dynamo.clone(), config.audit_table),
            trail: CloudTrailAccessTrail::new(
                aws_sdk_cloudtrail::Client::new(sdk),
                config.pii_key_arn,
                config.trail_max_events,
                clock.clone(),
            ),
            control: DynamoControl::new(dynamo.clone(), config.control_table),
            // Lists keys and dates only: no KMS client, this function never opens PII.
            pii_table: PiiTable::new(dynamo, config.pii_table),
            archive: S3ReportArchive::new(sdk, config.reports_bucket),
            // FIFO, one message group: one report at a time, in the order asked.
            queue: SqsBatchQueue {
                source: config
                    .report_queue_url
                    .map(|url| SqsQueue::fifo(aws_sdk_sqs::Client::new(sdk), url, "audit-reports")),
                dead_letters: SqsQueue::fifo(
                    aws_sdk_sqs::Client::new(sdk),
                    config.report_dlq_url,
                    "audit-reports",
                ),
            },
            max_tries: config.report_max_tries,
            clock,
        }
    }

    fn maker(&self) -> ReportMaker<'_> {
        ReportMaker {
            reporter: self.reporter(),
            jobs: &self.control,
            archive: &self.archive,
            clock: self.clock.as_ref(),
            max_tries: self.max_tries,
        }
    }

    pub fn reporter(&self) -> AuditReporter<'_> {
        AuditReporter {
            audit: &self.audit,
            trail: &self.trail,
            ledger: &self.control,
            sealed: &self.pii_table,
            clock: self.clock.as_ref(),
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        if event.payload.get("Records").is_some() {
            let jobs: SqsEvent = serde_json::from_value(event.payload)?;
            let report = self.handle_jobs(jobs).await;
            return Ok(serde_json::to_value(answer(report.keep))?);
        }
        let request: ReportRequest = serde_json::from_value(event.payload)
            .map_err(|e| ReportError::Range(format!("bad report request: {e}")))?;
        let report = self.run(&request).await?;
        let answer = match request.format {
            Format::Json => serde_json::to_value(&report)?,
            Format::Csv => serde_json::json!({
                "content_type": "text/csv",
                "body": report.to_csv()?,
            }),
        };
        // Lambda refuses a larger answer with an error that names nothing; say what to do.
        let bytes = serde_json::to_vec(&answer)?.len();
        if bytes > MAX_ANSWER_BYTES {
            return Err(ReportError::TooLarge { bytes }.into());
        }
        Ok(answer)
    }

    /// Report jobs, one at a time (each one reads CloudTrail for minutes).
    pub async fn handle_jobs(&self, event: SqsEvent) -> ReportBatchReport {
        let handled = run_batch(&self.queue, event.records, 1, |m| async move {
            self.handle_job(&m).await
        })
        .await;
        let mut report = ReportBatchReport::default();
        for h in &handled {
            match (&h.outcome, h.finished) {
                (_, Finished::Kept) => report.retried += 1,
                (Some(JobOutcome::GivenUp(_)), Finished::DeadLettered) => {
                    report.given_up += 1;
                    report.dead_lettered += 1;
                }
                (_, Finished::DeadLettered) => report.dead_lettered += 1,
                (Some(JobOutcome::Made { .. }), _) => report.made += 1,
                (Some(JobOutcome::AlreadyDone), _) => report.already_done += 1,
                _ => {}
            }
        }
        report.keep = kept(&handled);
        report
    }

    async fn handle_job(&self, m: &QueuedMessage) -> (Option<JobOutcome>, Ending) {
        let now = self.clock.now();
        let letter = |kind: &str, reason: String| {
            Ending::DeadLetter(DeadLetter::new(
                &m.message_id,
                kind,
                reason,
                m.receive_count,
                now,
            ))
        };
        let id = match serde_json::from_str::<JobMessage>(&m.body) {
            Ok(j) => j.report_id,
            Err(e) => {
                let reason = format!("not a report job: {}", serde_reason(&e));
                return (None, letter("malformed", reason));
            }
        };
        match self.maker().make(&id).await {
            Ok(JobOutcome::NoSuchJob) => (
                Some(JobOutcome::NoSuchJob),
                letter("no-such-job", format!("report job {id} is not recorded")),
            ),
            // Marked failed on its record; the letter says why, for the alarm's reader.
            Ok(JobOutcome::GivenUp(reason)) => {
                tracing::warn!(report_id = %id, reason, "report job given up");
                let ending = letter("report-failed", format!("report job {id}: {reason}"));
                (Some(JobOutcome::GivenUp(reason)), ending)
            }
            Ok(outcome) => {
                tracing::info!(report_id = %id, outcome = ?outcome, "report job done");
                (Some(outcome), Ending::Done)
            }
            Err(e) => {
                tracing::warn!(report_id = %id, error = %e, "report job try failed");
                // The job's group waits meanwhile (FIFO): back soon, not after the whole
                // visibility timeout.
                (None, Ending::Retry(Some(RETRY_AFTER)))
            }
        }
    }

    pub async fn run(&self, request: &ReportRequest) -> Result<AuditReport, ReportError> {
        let to = request.to.unwrap_or_else(|| self.clock.now());
        let from = request.from.unwrap_or(to - Duration::days(30));
        let report = self.reporter().report(ReportRange::new(from, to)?).await?;
        let t = &report.totals;
        tracing::info!(
            from = %report.from,
            to = %report.to,
            pii_opens = t.pii_opens,
            pii_opens_unaccounted = t.pii_opens_unaccounted,
            alarmed_key_calls = t.alarmed_key_calls,
            orders_purged = t.orders_purged,
            deletion_requests = t.deletion_requests,
            pii_items_held = report.pii_held.items,
            pii_items_past_due = report.pii_held.items_past_due,
            cloudtrail_truncated = report.cloudtrail.truncated,
            "audit report made"
        );
        Ok(report)
    }
}
