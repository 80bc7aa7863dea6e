//! The auditor's report and what it reads: CloudTrail's record of the PII key (its opens, and
//! the calls that could open PII unseen or end its protection), joined with the audit log, the
//! purges, the deletion requests and the PII held.

pub mod jobs;
pub mod report;

use crate::kernel::IoFailure;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use jobs::{
    JobOutcome, REPORT_KEPT_DAYS, ReportArchive, ReportDocument, ReportJob, ReportJobs,
    ReportMaker, ReportQueue, ReportStatus,
};
pub use report::{AuditReport, AuditReporter, Format, ReportError, ReportRange, Totals};

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

/// The PII key's calls that could open PII without a `Decrypt` of it on record (a re-wrap of
/// an order's data key under another key, a grant), or end its protection (a policy change,
/// disabling, deletion). Each alarms as it happens (the stack's tripwires); the report lists
/// them beside the opens. Named as CloudTrail names the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlarmedCall {
    ReEncrypt,
    CreateGrant,
    PutKeyPolicy,
    DisableKey,
    ScheduleKeyDeletion,
}

impl AlarmedCall {
    pub const ALL: [AlarmedCall; 5] = [
        AlarmedCall::ReEncrypt,
        AlarmedCall::CreateGrant,
        AlarmedCall::PutKeyPolicy,
        AlarmedCall::DisableKey,
        AlarmedCall::ScheduleKeyDeletion,
    ];

    /// CloudTrail's `eventName`.
    pub fn event_name(self) -> &'static str {
        match self {
            AlarmedCall::ReEncrypt => "ReEncrypt",
            AlarmedCall::CreateGrant => "CreateGrant",
            AlarmedCall::PutKeyPolicy => "PutKeyPolicy",
            AlarmedCall::DisableKey => "DisableKey",
            AlarmedCall::ScheduleKeyDeletion => "ScheduleKeyDeletion",
        }
    }

    pub fn from_event_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.event_name() == name)
    }
}

/// One alarmed call on the PII key, as CloudTrail recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCall {
    pub event_id: String,
    pub at: DateTime<Utc>,
    pub call: AlarmedCall,
    pub principal: String,
    pub source_ip: Option<String>,
    /// The order whose data key a `ReEncrypt` re-wrapped (its source encryption context).
    pub seller_id: Option<String>,
    pub order_id: Option<String>,
    /// What the call named besides the key: the destination key of a `ReEncrypt`, the grantee
    /// of a `CreateGrant`, the waiting period of a `ScheduleKeyDeletion`. Ids only.
    pub detail: Option<String>,
    /// CloudTrail's `errorCode` when KMS refused; `None`: the call took effect.
    pub error_code: Option<String>,
}

/// What the trail returned for a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailRead {
    pub opens: Vec<KeyOpen>,
    /// Oldest first.
    pub alarmed_calls: Vec<KeyCall>,
    /// The earliest instant the trail could answer for (CloudTrail's event history keeps 90
    /// days); opens before it are only in the trail's bucket.
    pub covered_from: Option<DateTime<Utc>>,
    /// Stopped at the read limit: later opens in the range were not read.
    pub truncated: bool,
}

/// CloudTrail's record of the PII key: every `Decrypt` (with an order's encryption context or
/// without), and every [`AlarmedCall`].
#[async_trait]
pub trait AccessTrail: Send + Sync {
    async fn pii_key_record(
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
