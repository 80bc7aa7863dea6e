//! `stock-sync`'s configuration.

use super::super::env::{ConfigError, Env};
use super::super::spapi::SpApiConfig;

#[derive(Debug, Clone)]
pub struct StockSyncConfig {
    pub stock_table: String,
    /// The seller registry (marketplaces) and the rate budget.
    pub control_table: String,
    /// Where movements that cannot be applied go, with their reason.
    pub stock_dlq_url: String,
    /// Receives of a failing message before it is dead-lettered with its reason.
    pub max_receives: u32,
    pub spapi: SpApiConfig,
}

impl StockSyncConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            stock_table: env.required("STOCK_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            stock_dlq_url: env.required("STOCK_DLQ_URL")?,
            max_receives: env.bounded("STOCK_MAX_RECEIVES", 5, 1..=20, "")?,
            spapi: SpApiConfig::from_env(env)?,
        })
    }
}
