//! The auditor's report and what it reads: CloudTrail's record of the PII key's opens, joined
//! with the audit log, the purges, the deletion requests and the PII held.

pub mod report;

use crate::kernel::IoFailure;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use report::{AuditReport, AuditReporter, Format, ReportError, ReportRange};

/// One KMS `Decrypt` of an order's data key, as CloudTrail recorded it: who, when, which
/// order (the encryption context), and whether KMS allowed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOpen {
    pub event_id: String,
    pub at: DateTime<Utc>,
    /// The caller's IAM identity (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    pub principal: String,
    pub source_ip: Option<String>,
    /// The encryption context's ids as recorded; `None` when the call carried none (not
    /// one of the vault's opens: the report flags it).
    pub seller_id: Option<String>,
    pub order_id: Option<String>,
    /// CloudTrail's `errorCode` when KMS refused (`AccessDenied`, ...); `None`: the key opened.
    pub error_code: Option<String>,
}

/// What the trail returned for a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailRead {
    pub opens: Vec<KeyOpen>,
    /// The earliest instant the trail could answer for (CloudTrail's event history keeps 90
    /// days); opens before it are only in the trail's bucket.
    pub covered_from: Option<DateTime<Utc>>,
    /// Stopped at the read limit: later opens in the range were not read.
    pub truncated: bool,
}

/// CloudTrail's record of the PII key: every `Decrypt` with an order's encryption context.
#[async_trait]
pub trait AccessTrail: Send + Sync {
    async fn pii_key_opens(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<TrailRead, TrailError>;
}

/// Reading CloudTrail failed. Carries the operation and the service's message, never an
/// event's content.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error("cloudtrail {0}")]
    Failed(IoFailure),
    #[error("cloudtrail event {event_id} is not in the documented record format: {reason}")]
    Malformed { event_id: String, reason: String },
}
