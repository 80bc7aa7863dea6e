//! Audit report jobs in the control table: `pk = report#<report_id>`, `sk = report`, expiring
//! with the reports bucket's copy (`expires_at`, [`REPORT_KEPT_DAYS`] after the ask).

use super::{DynamoControl, StoreError, put_if, read_item};
use crate::audit::{ReportJob, ReportJobs};
use crate::kernel::ReportId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

const SK: &str = "report";
/// How long a job's record is kept: as long as the bucket keeps its report.
pub const REPORT_KEPT_DAYS: i64 = 30;

#[derive(Serialize, Deserialize)]
struct JobRecord {
    pk: String,
    sk: String,
    #[serde(flatten)]
    job: ReportJob,
    expires_at: i64,
}

fn pk(id: &ReportId) -> String {
    format!("report#{id}")
}

impl DynamoControl {
    async fn put_job(&self, job: &ReportJob, condition: &str) -> Result<bool, StoreError> {
        let record = JobRecord {
            pk: pk(&job.report_id),
            sk: SK.into(),
            job: job.clone(),
            expires_at: (job.requested_at + chrono::Duration::days(REPORT_KEPT_DAYS)).timestamp(),
        };
        let what = || format!("report job {}", job.report_id);
        put_if(&self.client, &self.table, &record, condition, None, what).await
    }
}

#[async_trait]
impl ReportJobs for DynamoControl {
    async fn create(&self, job: &ReportJob) -> Result<bool, StoreError> {
        self.put_job(job, "attribute_not_exists(pk)").await
    }

    async fn job(&self, id: &ReportId) -> Result<Option<ReportJob>, StoreError> {
        let record: Option<JobRecord> = read_item(
            &self.client,
            &self.table,
            [("pk", pk(id)), ("sk", SK.to_owned())],
            || format!("report job {id}"),
        )
        .await?;
        Ok(record.map(|r| r.job))
    }

    async fn update(&self, job: &ReportJob) -> Result<(), StoreError> {
        if self.put_job(job, "attribute_exists(pk)").await? {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                what: format!("report job {} vanished before its update", job.report_id),
            })
        }
    }
}
