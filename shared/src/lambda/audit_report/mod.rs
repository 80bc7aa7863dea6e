//! `audit-report`: invoked on demand (an auditor, an operator, a scheduled export) with a
//! range and a format; answers with the report.
//!
//! Event: `{"from": RFC 3339, "to": RFC 3339, "format": "json" | "csv"}`. `to` defaults to
//! now, `from` to 30 days before `to`, `format` to JSON. Anything else is refused with a
//! message naming the field. The answer is the report itself (JSON), or
//! `{"content_type": "text/csv", "body": "..."}`.

pub mod config;

use crate::audit::{AuditReport, AuditReporter, Format, ReportError, ReportRange};
use crate::aws::{CloudTrailAccessTrail, DynamoAuditLog, DynamoControl, PiiTable};
use crate::kernel::Clock;
use chrono::{DateTime, Duration, Utc};
use config::AuditReportConfig;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use std::sync::Arc;

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

pub struct AuditReportHandler {
    audit: DynamoAuditLog,
    trail: CloudTrailAccessTrail,
    control: DynamoControl,
    pii_table: PiiTable,
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
            clock,
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
