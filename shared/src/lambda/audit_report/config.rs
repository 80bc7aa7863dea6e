//! `audit-report`'s configuration.

use super::super::env::{ConfigError, Env};

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
    /// Reports asked over the API are kept here.
    pub reports_bucket: String,
    /// Its report jobs' FIFO queue (a failed try's retry delay is set there); not set for a
    /// function only invoked directly.
    pub report_queue_url: Option<String>,
    /// A report job given up goes here (FIFO too), with its reason.
    pub report_dlq_url: String,
    /// Tries of one report job before it is given up (a try may take the function's 15
    /// minutes: CloudTrail at 2 requests a second).
    pub report_max_tries: u32,
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
        let trail_max_events = env.bounded("TRAIL_MAX_EVENTS", 50_000, 50..=500_000, "")?;
        let report_max_tries = env.bounded("REPORT_MAX_TRIES", 3, 1..=10, "")?;
        Ok(Self {
            audit_table: env.required("AUDIT_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            pii_table: env.required("PII_TABLE")?,
            pii_key_arn,
            trail_max_events,
            reports_bucket: env.required("REPORTS_BUCKET")?,
            report_queue_url: env.optional("REPORT_QUEUE_URL"),
            report_dlq_url: env.required("REPORT_DLQ_URL")?,
            report_max_tries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_report_needs_the_key_arn_as_cloudtrail_records_it() {
        let tables = [
            ("AUDIT_TABLE", "audit"),
            ("CONTROL_TABLE", "control"),
            ("PII_TABLE", "pii"),
            ("REPORTS_BUCKET", "reports"),
            ("REPORT_DLQ_URL", "https://sqs.example/dlq"),
        ];
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let c = AuditReportConfig::from_env(&Env::from_pairs(
            tables.into_iter().chain([("PII_KEY_ARN", arn)]),
        ))
        .unwrap();
        assert_eq!((c.trail_max_events, c.report_max_tries), (50_000, 3));
        let err = AuditReportConfig::from_env(&Env::from_pairs(
            tables.into_iter().chain([("PII_KEY_ARN", "alias/fbm/pii")]),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("PII_KEY_ARN"), "{err}");
    }
}
