//! `order-sync`: scheduled (EventBridge) or on demand (`{"seller_ids": [...]}`).

pub mod config;

use super::deadline::deadline_instant;
use super::intake::IntakeAdapters;
use crate::kernel::{SellerId, StoreError};
use crate::orders::sweep::{OrderSync, SweepReport, SweepRequest, SweepSettings};
use config::OrderSyncConfig;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use std::time::Instant;

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
        Self::with_clock(config, sdk, std::sync::Arc::new(crate::kernel::SystemClock))
    }

    pub fn with_clock(
        config: OrderSyncConfig,
        sdk: &aws_config::SdkConfig,
        clock: std::sync::Arc<dyn crate::kernel::Clock>,
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
