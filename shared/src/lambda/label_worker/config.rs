//! `label-worker`'s configuration.

use super::super::env::{ConfigError, Env};
use super::super::intake::SpApiConfig;

#[derive(Debug, Clone)]
pub struct LabelWorkerConfig {
    pub orders_table: String,
    pub pii_table: String,
    pub control_table: String,
    /// Voids are audited here.
    pub audit_table: String,
    /// Label documents are sealed under it (data keys only: the worker never opens PII).
    pub pii_key_id: String,
    /// Where a labeled order's pick is announced.
    pub stock_queue_url: String,
    /// Where jobs that cannot be carried out go, with their reason.
    pub label_jobs_dlq_url: String,
    /// Receives of a failing job before it is dead-lettered with its reason.
    pub max_receives: u32,
    pub spapi: SpApiConfig,
}

impl LabelWorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: env.required("ORDERS_TABLE")?,
            pii_table: env.required("PII_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            audit_table: env.required("AUDIT_TABLE")?,
            pii_key_id: env.required("PII_KEY_ID")?,
            stock_queue_url: env.required("STOCK_QUEUE_URL")?,
            label_jobs_dlq_url: env.required("LABEL_JOBS_DLQ_URL")?,
            max_receives: env.bounded("LABEL_JOB_MAX_RECEIVES", 5, 1..=20, "")?,
            spapi: SpApiConfig::from_env(env)?,
        })
    }
}
