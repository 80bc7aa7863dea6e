//! Configuration from the environment, checked once at start-up. A bad value stops the
//! function before it touches anything, with an error that names the variable.
//! Secrets are never configured here: only the ids of the secrets that hold them.

use crate::domain::{RetentionError, RetentionPolicy};
use crate::order_events::EventSettings;
use crate::ports::{Clock, OffsetClock, SystemClock};
use chrono::Duration;
use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("environment variable RETENTION_DAYS is refused: {0}")]
    Retention(#[from] RetentionError),
}

/// Reads variables from a source: the process environment, or a map in tests.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    pub fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        match self.vars.get(var).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => Ok(v.to_owned()),
            _ => Err(ConfigError::Missing(var)),
        }
    }

    pub fn optional(&self, var: &'static str) -> Option<String> {
        self.vars
            .get(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn parsed<T: std::str::FromStr>(
        &self,
        var: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(var) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                var,
                reason: e.to_string(),
            }),
        }
    }

    /// An endpoint URL: https, or plain http on loopback only (the local stack).
    pub fn endpoint(&self, var: &'static str, default: Option<&str>) -> Result<Url, ConfigError> {
        let raw = match (self.optional(var), default) {
            (Some(v), _) => v,
            (None, Some(d)) => d.to_owned(),
            (None, None) => return Err(ConfigError::Missing(var)),
        };
        let url = Url::parse(&raw).map_err(|e| ConfigError::Invalid {
            var,
            reason: e.to_string(),
        })?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match url.scheme() {
            "https" => Ok(url),
            "http" if loopback => Ok(url),
            _ => Err(ConfigError::Invalid {
                var,
                reason: "must be https (plain http is allowed on loopback only)".into(),
            }),
        }
    }

    /// The clock a function runs on: the wall clock, or, on the local stack only, the wall
    /// clock moved by `LOCAL_CLOCK_OFFSET_SECONDS` (the local run's time travel to a purge
    /// date). Refused unless every AWS call goes to a loopback endpoint (`AWS_ENDPOINT_URL`),
    /// so that a deployed function can never be made to purge early or date records wrongly.
    pub fn clock(&self) -> Result<Arc<dyn Clock>, ConfigError> {
        const VAR: &str = "LOCAL_CLOCK_OFFSET_SECONDS";
        let Some(raw) = self.optional(VAR) else {
            return Ok(Arc::new(SystemClock));
        };
        let seconds: i64 =
            raw.parse()
                .map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
                    var: VAR,
                    reason: e.to_string(),
                })?;
        let local = self
            .optional("AWS_ENDPOINT_URL")
            .and_then(|raw| Url::parse(&raw).ok())
            .is_some_and(|url| {
                url.scheme() == "http"
                    && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
            });
        if !local {
            return Err(ConfigError::Invalid {
                var: VAR,
                reason: "is for the local stack only: AWS_ENDPOINT_URL must be a loopback http URL"
                    .into(),
            });
        }
        let offset = Duration::try_seconds(seconds)
            .filter(|d| d.num_days().abs() <= 3650)
            .ok_or(ConfigError::Invalid {
                var: VAR,
                reason: "must be within ten years".into(),
            })?;
        Ok(Arc::new(OffsetClock(offset)))
    }

    pub fn retention(&self) -> Result<RetentionPolicy, ConfigError> {
        let days: u32 = self.parsed("RETENTION_DAYS", RetentionPolicy::default().days())?;
        Ok(RetentionPolicy::new(days)?)
    }
}

/// Where the SP-API and its credentials are.
#[derive(Debug, Clone)]
pub struct SpApiConfig {
    pub endpoint: Url,
    pub lwa_token_url: Url,
    pub lwa_app_secret_id: String,
    pub seller_secret_prefix: String,
    /// The longest wait for a rate-budget place spent in place (`SPAPI_BUDGET_WAIT_MS`, 0 to
    /// 10,000, default 3,000); a longer one gives the work back to its queue or checkpoint.
    pub max_budget_wait: std::time::Duration,
}

impl SpApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let wait_ms: u64 = env.parsed("SPAPI_BUDGET_WAIT_MS", 3_000)?;
        if wait_ms > 10_000 {
            return Err(ConfigError::Invalid {
                var: "SPAPI_BUDGET_WAIT_MS",
                reason: "must be 0 to 10000".into(),
            });
        }
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

/// What every function that takes orders in needs: the tables, the PII key, the stock queue,
/// SP-API and the retention rule.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    pub orders_table: String,
    pub pii_table: String,
    pub control_table: String,
    /// Intake's purges (a cancel, a date passed) go on record like the redactor's.
    pub audit_table: String,
    pub pii_key_id: String,
    pub stock_queue_url: String,
    pub spapi: SpApiConfig,
    pub retention: RetentionPolicy,
}

impl IntakeConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: env.required("ORDERS_TABLE")?,
            pii_table: env.required("PII_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            audit_table: env.required("AUDIT_TABLE")?,
            pii_key_id: env.required("PII_KEY_ID")?,
            stock_queue_url: env.required("STOCK_QUEUE_URL")?,
            spapi: SpApiConfig::from_env(env)?,
            retention: env.retention()?,
        })
    }
}

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
            sweep: SweepSettings::from_env(env)?,
        })
    }
}

/// `order-events`' configuration.
#[derive(Debug, Clone)]
pub struct OrderEventsConfig {
    pub intake: IntakeConfig,
    /// The queue the messages come from (deferrals change their visibility there).
    pub notifications_queue_url: String,
    /// Where messages given up go, with their reason.
    pub notifications_dlq_url: String,
    pub events: EventSettings,
}

impl OrderEventsConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = EventSettings::default();
        let max_failures: u32 = env.parsed("NOTIFICATION_MAX_FAILURES", d.max_failures)?;
        if !(1..=20).contains(&max_failures) {
            return Err(ConfigError::Invalid {
                var: "NOTIFICATION_MAX_FAILURES",
                reason: "must be 1 to 20".into(),
            });
        }
        let lease_secs: u64 = env.parsed("NOTIFICATION_CLAIM_SECS", d.claim_lease.as_secs())?;
        if !(10..=43_200).contains(&lease_secs) {
            return Err(ConfigError::Invalid {
                var: "NOTIFICATION_CLAIM_SECS",
                reason: "must be 10 to 43200 (the queue's visibility timeout)".into(),
            });
        }
        Ok(Self {
            intake: IntakeConfig::from_env(env)?,
            notifications_queue_url: env.required("NOTIFICATIONS_QUEUE_URL")?,
            notifications_dlq_url: env.required("NOTIFICATIONS_DLQ_URL")?,
            events: EventSettings {
                max_failures,
                claim_lease: std::time::Duration::from_secs(lease_secs),
                ..d
            },
        })
    }
}

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
        let deletion_max_receives: u32 = env.parsed("DELETION_MAX_RECEIVES", 5)?;
        if !(1..=20).contains(&deletion_max_receives) {
            return Err(ConfigError::Invalid {
                var: "DELETION_MAX_RECEIVES",
                reason: "must be 1 to 20".into(),
            });
        }
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

/// `audit-report`'s configuration.
#[derive(Debug, Clone)]
pub struct AuditReportConfig {
    pub audit_table: String,
    pub control_table: String,
    pub pii_table: String,
    /// The PII key's ARN: its `Decrypt` events in CloudTrail are the PII opens.
    pub pii_key_arn: String,
    /// CloudTrail `Decrypt` events read at most per report (`LookupEvents` gives 100 a
    /// second; 50,000 take about 8 minutes of the function's 15). Beyond it the report says
    /// it is truncated.
    pub trail_max_events: usize,
}

impl AuditReportConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let pii_key_arn = env.required("PII_KEY_ARN")?;
        if !(pii_key_arn.starts_with("arn:") && pii_key_arn.contains(":key/")) {
            return Err(ConfigError::Invalid {
                var: "PII_KEY_ARN",
                reason: "must be the key's ARN (arn:...:key/...), as CloudTrail records it".into(),
            });
        }
        let trail_max_events: usize = env.parsed("TRAIL_MAX_EVENTS", 50_000)?;
        if !(50..=500_000).contains(&trail_max_events) {
            return Err(ConfigError::Invalid {
                var: "TRAIL_MAX_EVENTS",
                reason: "must be 50 to 500000".into(),
            });
        }
        Ok(Self {
            audit_table: env.required("AUDIT_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            pii_table: env.required("PII_TABLE")?,
            pii_key_arn,
            trail_max_events,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SweepSettings {
    /// `maxResultsPerPage`, 1 to 100.
    pub page_size: u8,
    /// How far back a seller's first sweep reaches.
    pub first_lookback: Duration,
    /// Orders stored concurrently within a page.
    pub store_concurrency: usize,
    /// Sellers swept concurrently.
    pub seller_concurrency: usize,
    /// How far each window reaches back before the last one ended, for late updates.
    pub overlap: Duration,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            page_size: 100,
            first_lookback: Duration::days(7),
            store_concurrency: 8,
            seller_concurrency: 4,
            overlap: Duration::minutes(10),
        }
    }
}

impl SweepSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = Self::default();
        let page_size: u8 = env.parsed("SYNC_PAGE_SIZE", d.page_size)?;
        if !(1..=100).contains(&page_size) {
            return Err(ConfigError::Invalid {
                var: "SYNC_PAGE_SIZE",
                reason: "must be 1 to 100 (searchOrders maxResultsPerPage)".into(),
            });
        }
        let lookback_days: i64 =
            env.parsed("SYNC_FIRST_LOOKBACK_DAYS", d.first_lookback.num_days())?;
        if !(1..=30).contains(&lookback_days) {
            return Err(ConfigError::Invalid {
                var: "SYNC_FIRST_LOOKBACK_DAYS",
                reason: "must be 1 to 30".into(),
            });
        }
        let overlap_minutes: i64 = env.parsed("SYNC_OVERLAP_MINUTES", d.overlap.num_minutes())?;
        if !(0..=120).contains(&overlap_minutes) {
            return Err(ConfigError::Invalid {
                var: "SYNC_OVERLAP_MINUTES",
                reason: "must be 0 to 120".into(),
            });
        }
        Ok(Self {
            page_size,
            overlap: Duration::minutes(overlap_minutes),
            first_lookback: Duration::days(lookback_days),
            store_concurrency: env
                .parsed("SYNC_STORE_CONCURRENCY", d.store_concurrency)?
                .clamp(1, 32),
            seller_concurrency: env
                .parsed("SYNC_SELLER_CONCURRENCY", d.seller_concurrency)?
                .clamp(1, 16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 9] = [
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

    fn env_with(extra: &[(&'static str, &'static str)]) -> Env {
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
    fn refuses_plain_http_beyond_loopback() {
        let err = OrderSyncConfig::from_env(&env_with(&[("SPAPI_ENDPOINT", "http://example.org")]))
            .unwrap_err();
        assert!(err.to_string().contains("SPAPI_ENDPOINT"), "{err}");
        let ok =
            OrderSyncConfig::from_env(&env_with(&[("SPAPI_ENDPOINT", "http://127.0.0.1:4000")]));
        assert!(ok.is_ok());
    }

    #[test]
    fn refuses_out_of_range_page_size() {
        let err = OrderSyncConfig::from_env(&env_with(&[("SYNC_PAGE_SIZE", "101")])).unwrap_err();
        assert!(err.to_string().contains("SYNC_PAGE_SIZE"));
        let err = OrderSyncConfig::from_env(&env_with(&[("SYNC_PAGE_SIZE", "x")])).unwrap_err();
        assert!(err.to_string().contains("SYNC_PAGE_SIZE"));
    }

    #[test]
    fn order_events_needs_its_queues_and_bounds_its_tries() {
        let queues = [
            (
                "NOTIFICATIONS_QUEUE_URL",
                "https://sqs.example/notifications",
            ),
            (
                "NOTIFICATIONS_DLQ_URL",
                "https://sqs.example/notifications-dlq",
            ),
        ];
        let c = OrderEventsConfig::from_env(&env_with(&queues)).unwrap();
        assert_eq!(c.events.max_failures, 5);
        let err = OrderEventsConfig::from_env(&env_with(&queues[..1])).unwrap_err();
        assert!(err.to_string().contains("NOTIFICATIONS_DLQ_URL"), "{err}");
        let mut bad = queues.to_vec();
        bad.push(("NOTIFICATION_MAX_FAILURES", "0"));
        let err = OrderEventsConfig::from_env(&env_with(&bad)).unwrap_err();
        assert!(
            err.to_string().contains("NOTIFICATION_MAX_FAILURES"),
            "{err}"
        );
    }

    #[test]
    fn time_travel_is_for_the_local_stack_only() {
        let plain = Env::from_pairs([]);
        let now = chrono::Utc::now();
        assert!((plain.clock().unwrap().now() - now).num_seconds().abs() < 5);
        let local = Env::from_pairs([
            ("LOCAL_CLOCK_OFFSET_SECONDS", "5184000"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ]);
        let ahead = local.clock().unwrap().now() - now;
        assert!((ahead.num_days() - 60).abs() <= 1, "{ahead}");
        for endpoint in [
            None,
            Some("https://dynamodb.us-east-1.amazonaws.com"),
            Some("http://10.0.0.5:4566"),
        ] {
            let mut pairs = vec![("LOCAL_CLOCK_OFFSET_SECONDS", "5184000")];
            pairs.extend(endpoint.map(|e| ("AWS_ENDPOINT_URL", e)));
            let err = Env::from_pairs(pairs).clock().err().expect("refused");
            assert!(err.to_string().contains("local stack only"), "{err}");
        }
    }

    #[test]
    fn audit_report_needs_the_key_arn_as_cloudtrail_records_it() {
        let tables = [
            ("AUDIT_TABLE", "audit"),
            ("CONTROL_TABLE", "control"),
            ("PII_TABLE", "pii"),
        ];
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let c = AuditReportConfig::from_env(&Env::from_pairs(
            tables.into_iter().chain([("PII_KEY_ARN", arn)]),
        ))
        .unwrap();
        assert_eq!(c.trail_max_events, 50_000);
        let err = AuditReportConfig::from_env(&Env::from_pairs(
            tables.into_iter().chain([("PII_KEY_ARN", "alias/fbm/pii")]),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("PII_KEY_ARN"), "{err}");
    }
}
