//! Configuration from the environment, checked once at start-up. A bad value stops the
//! function before it touches anything, with an error that names the variable.
//! Secrets are never configured here: only the ids of the secrets that hold them.

use crate::kernel::{Clock, OffsetClock, SystemClock};
use crate::pii::{RetentionError, RetentionPolicy};
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

/// Whether a URL points at this machine (the local stack), where plain http is allowed.
fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
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

    /// A number within `range`, `default` when unset. The refusal names the variable, the
    /// range and, when given, why the range is what it is.
    pub fn bounded<T>(
        &self,
        var: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
        why: &str,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
        T::Err: std::fmt::Display,
    {
        let value = self.parsed(var, default)?;
        if range.contains(&value) {
            return Ok(value);
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        Err(ConfigError::Invalid {
            var,
            reason: format!("must be {} to {}{why}", range.start(), range.end()),
        })
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
        match url.scheme() {
            "https" => Ok(url),
            "http" if is_loopback(&url) => Ok(url),
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
            .is_some_and(|url| url.scheme() == "http" && is_loopback(&url));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_value_is_refused_outside_its_range_with_the_reason() {
        let env = Env::from_pairs([("N", "101"), ("M", "7"), ("X", "x")]);
        let err = env.bounded("N", 5u8, 1..=100, "a page").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable N is invalid: must be 1 to 100 (a page)"
        );
        assert_eq!(env.bounded("M", 5u32, 1..=20, "").unwrap(), 7);
        assert_eq!(env.bounded("UNSET", 5u32, 1..=20, "").unwrap(), 5);
        assert!(
            env.bounded("X", 5u32, 1..=20, "")
                .unwrap_err()
                .to_string()
                .contains("X")
        );
    }

    #[test]
    fn refuses_plain_http_beyond_loopback() {
        let env = Env::from_pairs([("A", "http://example.org"), ("B", "http://127.0.0.1:4000")]);
        assert!(
            env.endpoint("A", None)
                .unwrap_err()
                .to_string()
                .contains("A")
        );
        assert!(env.endpoint("B", None).is_ok());
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
}
