//! `pii-redactor`'s configuration.

use super::super::env::{ConfigError, Env};
use crate::pii::RetentionPolicy;

/// `pii-redactor`'s configuration.
#[derive(Debug, Clone)]
pub struct PiiRedactorConfig {
    pub orders_table: String,
    pub pii_table: String,
    pub control_table: String,
    pub audit_table: String,
    /// Where deletion requests that cannot be carried out go, with their reason.
    pub deletion_dlq_url: String,
    /// Seller refresh tokens, deleted on offboarding.
    pub seller_secret_prefix: String,
    /// Checked like every function that handles PII: more than 30 days is refused.
    pub retention: RetentionPolicy,
    /// Receives of a deletion request before it is dead-lettered with its reason.
    pub deletion_max_receives: u32,
}

impl PiiRedactorConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let deletion_max_receives = env.bounded("DELETION_MAX_RECEIVES", 5, 1..=20, "")?;
        Ok(Self {
            orders_table: env.required("ORDERS_TABLE")?,
            pii_table: env.required("PII_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            audit_table: env.required("AUDIT_TABLE")?,
            deletion_dlq_url: env.required("DELETION_DLQ_URL")?,
            seller_secret_prefix: env.required("SELLER_SECRET_PREFIX")?,
            retention: env.retention()?,
            deletion_max_receives,
        })
    }
}
