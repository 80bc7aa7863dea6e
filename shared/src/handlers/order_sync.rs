//! `order-sync`: scheduled (EventBridge) or on demand (`{"seller_ids": [...]}`).

use super::IntakeAdapters;
use crate::adapters::StoreError;
use crate::config::{OrderSyncConfig, SweepSettings};
use crate::domain::SellerId;
use crate::sync::{OrderSync, SweepReport, SweepRequest};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("event is not an order-sync request: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let kind = match e {
            HandlerError::BadEvent(_) => "BadEvent",
            HandlerError::Store(_) => "StoreUnavailable",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.into(),
            error_message: e.to_string(),
        }
    }
}

/// An on-demand run names sellers; a scheduled event (any other shape) sweeps them all.
#[derive(Debug, Deserialize, Default)]
struct OnDemand {
    #[serde(default)]
    seller_ids: Option<Vec<String>>,
    #[serde(default)]
    max_pages: Option<u32>,
}

pub struct OrderSyncHandler {
    adapters: IntakeAdapters,
    sweep: SweepSettings,
}

impl OrderSyncHandler {
    /// Build every client once, at cold start.
    pub fn new(config: OrderSyncConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clock(config, sdk, std::sync::Arc::new(crate::ports::SystemClock))
    }

    pub fn with_clock(
        config: OrderSyncConfig,
        sdk: &aws_config::SdkConfig,
        clock: std::sync::Arc<dyn crate::ports::Clock>,
    ) -> Self {
        Self {
            adapters: IntakeAdapters::new(&config.intake, sdk, clock),
            sweep: config.sweep,
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<SweepReport, HandlerError> {
        let (payload, context) = event.into_parts();
        let on_demand: OnDemand = serde_json::from_value(payload).unwrap_or_default();
        let only_sellers = on_demand
            .seller_ids
            .map(|ids| {
                ids.into_iter()
                    .map(SellerId::parse)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|e| HandlerError::BadEvent(e.to_string()))?;
        let deadline = deadline_instant(context.deadline);
        tracing::info!(
            request_id = %context.request_id,
            time_left_ms = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as u64),
            "order sync started"
        );
        let request = SweepRequest {
            only_sellers,
            deadline,
            max_pages: on_demand.max_pages,
        };
        let a = &self.adapters;
        let service = OrderSync {
            api: &a.api,
            intake: a.intake(),
            checkpoints: &a.control,
            sellers: &a.control,
            unreadable: &a.control,
            clock: a.clock.as_ref(),
            settings: self.sweep,
        };
        let report = service.run(&request).await?;
        tracing::info!(
            request_id = %context.request_id,
            sellers = report.sellers.len(),
            sellers_failed = report.sellers_failed,
            orders_stored = report.orders_stored,
            orders_unreadable = report.orders_unreadable,
            pii_items_sealed = report.pii_items_sealed,
            stock_changes = report.stock_changes,
            "order sync finished"
        );
        Ok(report)
    }
}

/// The Lambda deadline (ms since the epoch) as an `Instant`. cargo-lambda's Runtime API
/// emulator sends the time left instead (e.g. `600000`); a value that cannot be a date this
/// century is read that way rather than as a deadline long past.
pub(crate) fn deadline_instant(deadline_ms: u64) -> Option<Instant> {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    if deadline_ms == 0 {
        return None;
    }
    if deadline_ms < YEAR_2001_MS {
        return Some(Instant::now() + Duration::from_millis(deadline_ms));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_epoch_deadlines_and_the_emulators_time_left() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = |d: Option<Instant>| d.unwrap().saturating_duration_since(Instant::now());
        let epoch = left(deadline_instant(now_ms + 60_000));
        assert!(epoch > Duration::from_secs(55) && epoch <= Duration::from_secs(60));
        let relative = left(deadline_instant(600_000));
        assert!(relative > Duration::from_secs(595));
        assert_eq!(left(deadline_instant(now_ms - 1_000)), Duration::ZERO);
        assert!(deadline_instant(0).is_none());
    }
}
