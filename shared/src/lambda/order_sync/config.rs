//! `order-sync`'s configuration: the intake's, and the sweep's settings (`SYNC_*`).

use super::super::env::{ConfigError, Env};
use super::super::intake::IntakeConfig;
use crate::orders::sweep::SweepSettings;
use chrono::Duration;

/// `order-sync`'s configuration.
#[derive(Debug, Clone)]
pub struct OrderSyncConfig {
    pub intake: IntakeConfig,
    pub sweep: SweepSettings,
}

impl OrderSyncConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            intake: IntakeConfig::from_env(env)?,
            sweep: sweep_settings(env)?,
        })
    }
}

/// The sweep's settings from `SYNC_*`.
fn sweep_settings(env: &Env) -> Result<SweepSettings, ConfigError> {
    let d = SweepSettings::default();
    let page_size = env.bounded(
        "SYNC_PAGE_SIZE",
        d.page_size,
        1..=100,
        "searchOrders maxResultsPerPage",
    )?;
    let lookback_days = env.bounded(
        "SYNC_FIRST_LOOKBACK_DAYS",
        d.first_lookback.num_days(),
        1..=30,
        "",
    )?;
    let overlap_minutes =
        env.bounded("SYNC_OVERLAP_MINUTES", d.overlap.num_minutes(), 0..=120, "")?;
    Ok(SweepSettings {
        page_size,
        overlap: Duration::minutes(overlap_minutes),
        first_lookback: Duration::days(lookback_days),
        seller_concurrency: env.bounded(
            "SYNC_SELLER_CONCURRENCY",
            d.seller_concurrency,
            1..=16,
            "",
        )?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pii::RetentionError;

    pub(crate) const BASE: [(&str, &str); 9] = [
        (
            "STOCK_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/stock",
        ),
        ("ORDERS_TABLE", "orders"),
        ("PII_TABLE", "pii"),
        ("CONTROL_TABLE", "control"),
        ("AUDIT_TABLE", "audit"),
        ("PII_KEY_ID", "alias/fbm/pii"),
        ("SPAPI_ENDPOINT", "https://sellingpartnerapi-na.amazon.com"),
        ("LWA_APP_SECRET_ID", "fbm/lwa-app"),
        ("SELLER_SECRET_PREFIX", "fbm/sellers/"),
    ];

    pub(crate) fn env_with(extra: &[(&'static str, &'static str)]) -> Env {
        Env::from_pairs(BASE.iter().copied().chain(extra.iter().copied()))
    }

    #[test]
    fn reads_a_complete_environment_with_defaults() {
        let c = OrderSyncConfig::from_env(&env_with(&[])).unwrap();
        assert_eq!(c.intake.retention.days(), 30);
        assert_eq!(c.sweep.overlap, Duration::minutes(10));
        assert_eq!(c.sweep.page_size, 100);
        assert_eq!(
            c.intake.spapi.lwa_token_url.as_str(),
            "https://api.amazon.com/auth/o2/token"
        );
    }

    #[test]
    fn refuses_retention_over_thirty_days() {
        let err = OrderSyncConfig::from_env(&env_with(&[("RETENTION_DAYS", "31")])).unwrap_err();
        assert!(
            matches!(err, ConfigError::Retention(RetentionError::OverLimit(31))),
            "{err}"
        );
        assert!(err.to_string().contains("RETENTION_DAYS"));
    }

    #[test]
    fn names_the_missing_variable() {
        let env = Env::from_pairs(BASE.iter().copied().filter(|(k, _)| *k != "PII_KEY_ID"));
        let err = OrderSyncConfig::from_env(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable PII_KEY_ID is not set"
        );
    }

    #[test]
    fn refuses_out_of_range_page_size() {
        let err = OrderSyncConfig::from_env(&env_with(&[("SYNC_PAGE_SIZE", "101")])).unwrap_err();
        assert!(err.to_string().contains("SYNC_PAGE_SIZE"));
        let err = OrderSyncConfig::from_env(&env_with(&[("SYNC_PAGE_SIZE", "x")])).unwrap_err();
        assert!(err.to_string().contains("SYNC_PAGE_SIZE"));
    }
}
