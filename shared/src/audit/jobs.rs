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
    /// Write the job's new state. After its creation only `audit-report` writes a job, one
    /// report at a time (its reserved concurrency is 1).
    async fn update(&self, job: &ReportJob) -> Result<(), StoreError>;
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
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
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
    /// Cannot be made (its range is refused): failed for good.
    Refused(String),
}

/// Makes queued reports: one job, read, run and kept, its record moved along.
pub struct ReportMaker<'a> {
    pub reporter: AuditReporter<'a>,
    pub jobs: &'a dyn ReportJobs,
    pub archive: &'a dyn ReportArchive,
    pub clock: &'a dyn Clock,
}

impl ReportMaker<'_> {
    /// Make the job's report. An error is for now (CloudTrail, a store): the caller retries
    /// and, at its last try, [`ReportMaker::give_up`].
    pub async fn make(&self, id: &ReportId) -> Result<JobOutcome, ReportError> {
        let Some(mut job) = self.jobs.job(id).await? else {
            return Ok(JobOutcome::NoSuchJob);
        };
        if matches!(job.status, ReportStatus::Ready | ReportStatus::Failed) {
            return Ok(JobOutcome::AlreadyDone);
        }
        job.status = ReportStatus::Running;
        job.started_at = Some(self.clock.now());
        job.attempts += 1;
        self.jobs.update(&job).await?;
        let range = match ReportRange::new(job.from, job.to) {
            Ok(r) => r,
            Err(e) => {
                let reason = e.to_string();
                self.fail(job, reason.clone()).await?;
                return Ok(JobOutcome::Refused(reason));
            }
        };
        let report = self.reporter.report(range).await?;
        let (body, content_type, extension) = match job.format {
            Format::Json => (
                serde_json::to_vec(&report).map_err(|e| StoreError::Corrupt {
                    what: format!("report {id}: {e}"),
                })?,
                "application/json",
                "json",
            ),
            Format::Csv => (
                report
                    .to_csv()
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("report {id}: {e}"),
                    })?
                    .into_bytes(),
                "text/csv",
                "csv",
            ),
        };
        let bytes = body.len() as u64;
        let key = format!("reports/{id}.{extension}");
        self.archive.put(&key, content_type, body).await?;
        job.status = ReportStatus::Ready;
        job.completed_at = Some(self.clock.now());
        job.document = Some(ReportDocument {
            key,
            content_type: content_type.to_owned(),
            bytes,
        });
        job.totals = Some(report.totals);
        self.jobs.update(&job).await?;
        Ok(JobOutcome::Made { bytes })
    }

    /// The job failed for good (its tries spent): recorded so, with `reason` (ids only).
    pub async fn give_up(&self, id: &ReportId, reason: String) -> Result<(), StoreError> {
        match self.jobs.job(id).await? {
            Some(job) if job.status != ReportStatus::Ready => self.fail(job, reason).await,
            _ => Ok(()),
        }
    }

    async fn fail(&self, mut job: ReportJob, reason: String) -> Result<(), StoreError> {
        job.status = ReportStatus::Failed;
        job.completed_at = Some(self.clock.now());
        job.failure = Some(reason);
        self.jobs.update(&job).await
    }
}
