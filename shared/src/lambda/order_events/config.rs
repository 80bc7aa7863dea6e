//! `order-events`' configuration: the intake's, its queues, and how often a notification is
//! tried.

use super::super::env::{ConfigError, Env};
use super::super::intake::IntakeConfig;
use crate::orders::notifications::EventSettings;

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
        let max_failures = env.bounded("NOTIFICATION_MAX_FAILURES", d.max_failures, 1..=20, "")?;
        let lease_secs = env.bounded(
            "NOTIFICATION_CLAIM_SECS",
            d.claim_lease.as_secs(),
            10..=43_200,
            "the queue's visibility timeout",
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::order_sync::config::tests::env_with;

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
}
