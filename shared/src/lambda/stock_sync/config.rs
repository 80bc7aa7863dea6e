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
    /// The stock queue itself: stock-sync leaves itself a note there to read a feed's result.
    pub stock_queue_url: String,
    /// SKUs of one seller from which a push or a reconciliation goes as one listings feed
    /// rather than a Listings Items call per SKU.
    pub feed_min_skus: u32,
    /// The wait between looks at a submitted feed's result.
    pub feed_check_secs: u64,
    pub spapi: SpApiConfig,
}

impl StockSyncConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            stock_table: env.required("STOCK_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            stock_dlq_url: env.required("STOCK_DLQ_URL")?,
            max_receives: env.bounded("STOCK_MAX_RECEIVES", 5, 1..=20, "")?,
            stock_queue_url: env.required("STOCK_QUEUE_URL")?,
            // Below this the Listings Items path (5 calls a second: 1,000 SKUs in 200 s, inside
            // the 5-minute limit) is done before Amazon has processed a feed (minutes).
            feed_min_skus: env.bounded("STOCK_FEED_MIN_SKUS", 1_000, 1..=25_000, "")?,
            // Checks are counted (180 at most): back to back they would give up in seconds.
            feed_check_secs: env.bounded("STOCK_FEED_CHECK_SECS", 60, 10..=900, "")?,
            spapi: SpApiConfig::from_env(env)?,
        })
    }
}
