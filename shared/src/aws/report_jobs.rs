//! Audit report jobs in the control table: `pk = report#<report_id>`, `sk = report`, expiring
//! with the reports bucket's copy (`expires_at`, `REPORT_KEPT_DAYS` after the ask).

use super::{DynamoControl, StoreError, put_if, read_item};
use crate::audit::{REPORT_KEPT_DAYS, ReportJob, ReportJobs};
use crate::kernel::ReportId;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

const SK: &str = "report";

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

fn record(job: &ReportJob) -> JobRecord {
    JobRecord {
        pk: pk(&job.report_id),
        sk: SK.into(),
        job: job.clone(),
        expires_at: (job.requested_at + chrono::Duration::days(REPORT_KEPT_DAYS)).timestamp(),
    }
}

#[async_trait]
impl ReportJobs for DynamoControl {
    async fn create(&self, job: &ReportJob) -> Result<bool, StoreError> {
        let what = || format!("report job {}", job.report_id);
        let condition = "attribute_not_exists(pk)";
        put_if(
            &self.client,
            &self.table,
            &record(job),
            condition,
            None,
            what,
        )
        .await
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

    async fn update(&self, job: &ReportJob, read: &ReportJob) -> Result<bool, StoreError> {
        let item = serde_dynamo::to_item(record(job)).map_err(|e| StoreError::Corrupt {
            what: format!("report job {}: {e}", job.report_id),
        })?;
        let status =
            serde_dynamo::to_attribute_value(read.status).map_err(|e| StoreError::Corrupt {
                what: format!("report job {}: {e}", job.report_id),
            })?;
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#status = :status AND attempts = :attempts")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", status)
            .expression_attribute_values(":attempts", AttributeValue::N(read.attempts.to_string()))
            .send()
            .await;
        super::written("PutItem", sent)
    }
}
