//! Every SP-API caller's configuration: where the API and its credentials are, and its
//! transport built on them.

use super::env::{ConfigError, Env};
use crate::aws::{DynamoRateBudget, SecretsManagerCredentials};
use crate::kernel::Clock;
use crate::spapi::{RetryPolicy, Transport};
use std::sync::Arc;
use url::Url;

/// Where the SP-API and its credentials are.
#[derive(Debug, Clone)]
pub struct SpApiConfig {
    pub endpoint: Url,
    pub lwa_token_url: Url,
    pub lwa_app_secret_id: String,
    pub seller_secret_prefix: String,
    /// The longest wait for a rate-budget place slept out in the function (`SPAPI_BUDGET_WAIT_MS`, 0 to
    /// 10,000, default 3,000); a longer one gives the work back to its queue or checkpoint.
    pub max_budget_wait: std::time::Duration,
}

impl SpApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let wait_ms: u64 = env.bounded("SPAPI_BUDGET_WAIT_MS", 3_000, 0..=10_000, "")?;
        Ok(Self {
            max_budget_wait: std::time::Duration::from_millis(wait_ms),
            endpoint: env.endpoint("SPAPI_ENDPOINT", None)?,
            lwa_token_url: env
                .endpoint("LWA_ENDPOINT", Some("https://api.amazon.com/auth/o2/token"))?,
            lwa_app_secret_id: env.required("LWA_APP_SECRET_ID")?,
            seller_secret_prefix: env.required("SELLER_SECRET_PREFIX")?,
        })
    }
}

impl SpApiConfig {
    /// The SP-API transport of a function: LWA credentials from Secrets Manager, and one rate
    /// budget per seller × operation in the control table, shared with every other instance
    /// of every function that calls SP-API.
    pub fn transport(
        &self,
        sdk: &aws_config::SdkConfig,
        control_table: &str,
        clock: Arc<dyn Clock>,
    ) -> Arc<Transport> {
        let credentials = Arc::new(SecretsManagerCredentials::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            Some(self.lwa_app_secret_id.clone()),
            self.seller_secret_prefix.clone(),
        ));
        let budget = Arc::new(DynamoRateBudget::new(
            aws_sdk_dynamodb::Client::new(sdk),
            control_table.to_owned(),
            clock,
        ));
        Arc::new(Transport::new(
            self.endpoint.clone(),
            self.lwa_token_url.clone(),
            credentials,
            budget,
            RetryPolicy {
                max_budget_wait: self.max_budget_wait,
                ..RetryPolicy::default()
            },
        ))
    }
}
