//! Audit reports as jobs. An auditor asks over HTTP, where API Gateway answers within 30 s, yet
//! a report pages through CloudTrail at 2 requests a second for minutes: so the ask is recorded
//! and queued, `audit-report` makes the report from its queue and keeps it in the reports
//! bucket, and the auditor reads where it stands and, once ready, the report itself (inline
//! while small, else through a short-lived link).

use super::report::{AuditReporter, Format, ReportError, ReportRange, Totals};
use crate::kernel::{Clock, QueueError, ReportId, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long an asked report and its job are kept (the bucket's lifecycle and the record's TTL).
pub const REPORT_KEPT_DAYS: i64 = 30;

/// Where a report job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Recorded and queued.
    Requested,
    /// `audit-report` is making it (again, after a failed try).
    Running,
    Ready,
    /// Given up: `failure` says why (ids only).
    Failed,
}

/// The report as kept in the reports bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDocument {
    /// The object's key in the bucket.
    pub key: String,
    pub content_type: String,
    pub bytes: u64,
}

/// One report asked for: the range and format, who asked, and where it stands. Ids, dates and
/// counts only, as the report itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportJob {
    pub report_id: ReportId,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// A SHA-256 of the request as sent: the same idempotency key with another request is
    /// refused, not taken for this one.
    pub request_fingerprint: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub format: Format,
    pub status: ReportStatus,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub document: Option<ReportDocument>,
    #[serde(default)]
    pub totals: Option<Totals>,
    #[serde(default)]
    pub failure: Option<String>,
}

/// The jobs' records (the control table, `report#<id>`).
#[async_trait]
pub trait ReportJobs: Send + Sync {
    /// Record a new job; `false` when one with its id is recorded already (asked again).
    async fn create(&self, job: &ReportJob) -> Result<bool, StoreError>;
    async fn job(&self, id: &ReportId) -> Result<Option<ReportJob>, StoreError>;
    /// Write the job's new state over `read` (its status and tries as read); `false` when
    /// someone moved it in between (nothing written).
    async fn update(&self, job: &ReportJob, read: &ReportJob) -> Result<bool, StoreError>;
}

/// Where asked reports wait for `audit-report` (its queue: the message names the id only).
#[async_trait]
pub trait ReportQueue: Send + Sync {
    async fn submit(&self, id: &ReportId) -> Result<(), QueueError>;
}

/// The reports bucket: encrypted, private, reports kept a while then expired.
#[async_trait]
pub trait ReportArchive: Send + Sync {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), StoreError>;
    /// The document; `None` when it is no longer kept (expired).
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A link that reads the document, and nothing else, for `valid_for`.
    async fn link(&self, key: &str, valid_for: std::time::Duration) -> Result<String, StoreError>;
}

/// What became of one queued job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Made and kept: ready.
    Made { bytes: u64 },
    /// Ready or given up before: nothing done again.
    AlreadyDone,
    /// No job with that id is recorded (a stray message).
    NoSuchJob,
    /// Failed for good (ids only): its range refused, or its tries spent (a try that failed,
    /// or one that never finished: the function stopped at its time limit).
    GivenUp(String),
}

/// Makes queued reports: one job, read, run and kept, its record moved along.
pub struct ReportMaker<'a> {
    pub reporter: AuditReporter<'a>,
    pub jobs: &'a dyn ReportJobs,
    pub archive: &'a dyn ReportArchive,
    pub clock: &'a dyn Clock,
    /// Tries of a job before it is given up.
    pub max_tries: u32,
}

impl ReportMaker<'_> {
    /// Make the job's report. An error is for now (CloudTrail, a store, the job moved by
    /// someone else): the caller lets the message come back for another try.
    pub async fn make(&self, id: &ReportId) -> Result<JobOutcome, ReportError> {
        let Some(read) = self.jobs.job(id).await? else {
            return Ok(JobOutcome::NoSuchJob);
        };
        if matches!(read.status, ReportStatus::Ready | ReportStatus::Failed) {
            return Ok(JobOutcome::AlreadyDone);
        }
        // Running with its tries spent: the last try never finished.
        if read.attempts >= self.max_tries {
            let reason = format!("{} tries did not finish", read.attempts);
            self.fail(&read, reason.clone()).await?;
            return Ok(JobOutcome::GivenUp(reason));
        }
        let mut job = read.clone();
        job.status = ReportStatus::Running;
        job.started_at = Some(self.clock.now());
        job.attempts += 1;
        self.moved_along(&job, &read).await?;
        match self.run(&mut job).await {
            Ok(bytes) => Ok(JobOutcome::Made { bytes }),
            Err(e) => {
                let permanent = matches!(e, ReportError::Range(_));
                if !permanent && job.attempts < self.max_tries {
                    return Err(e);
                }
                let reason = format!("given up at try {}: {e}", job.attempts);
                self.fail(&job, reason.clone()).await?;
                Ok(JobOutcome::GivenUp(reason))
            }
        }
    }

    /// The report of `job` (running, as recorded), made, kept and the job marked ready.
    async fn run(&self, job: &mut ReportJob) -> Result<u64, ReportError> {
        let id = job.report_id.clone();
        let range = ReportRange::new(job.from, job.to)?;
        let report = self.reporter.report(range).await?;
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt {
            what: format!("report {id}: {e}"),
        };
        let (body, content_type, extension) = match job.format {
            Format::Json => (
                serde_json::to_vec(&report).map_err(|e| corrupt(&e))?,
                "application/json",
                "json",
            ),
            Format::Csv => (
                report.to_csv().map_err(|e| corrupt(&e))?.into_bytes(),
                "text/csv",
                "csv",
            ),
        };
        let bytes = body.len() as u64;
        let key = format!("reports/{id}.{extension}");
        self.archive.put(&key, content_type, body).await?;
        let read = job.clone();
        job.status = ReportStatus::Ready;
        job.completed_at = Some(self.clock.now());
        job.document = Some(ReportDocument {
            key,
            content_type: content_type.to_owned(),
            bytes,
        });
        job.totals = Some(report.totals);
        self.moved_along(job, &read).await?;
        Ok(bytes)
    }

    async fn moved_along(&self, job: &ReportJob, read: &ReportJob) -> Result<(), StoreError> {
        if self.jobs.update(job, read).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                what: format!("report job {} moved by another writer", job.report_id),
            })
        }
    }

    async fn fail(&self, read: &ReportJob, reason: String) -> Result<(), StoreError> {
        let mut job = read.clone();
        job.status = ReportStatus::Failed;
        job.completed_at = Some(self.clock.now());
        job.failure = Some(reason);
        self.moved_along(&job, read).await
    }
}
