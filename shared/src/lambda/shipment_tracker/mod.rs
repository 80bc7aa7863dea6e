//! `shipment-tracker`: on its schedule (or on demand), every watched parcel's tracking read
//! once (`labels::ShipmentTracker`). The answer is the run's report, ids and counts only.

use super::env::{ConfigError, Env};
use super::intake::SpApiConfig;
use crate::aws::{DynamoControl, DynamoOrderStore, PiiTable, SqsQueue};
use crate::kernel::{Clock, SystemClock};
use crate::labels::{JobError, ShipmentTracker, TrackingRun};
use crate::pii::RetentionPolicy;
use crate::spapi::ShippingApi;
use lambda_runtime::LambdaEvent;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct ShipmentTrackerConfig {
    pub orders_table: String,
    /// Sealed items' purge dates are brought forward here (never read).
    pub pii_table: String,
    pub control_table: String,
    /// Where a shipped order's departure is announced.
    pub stock_queue_url: String,
    pub retention: RetentionPolicy,
    pub spapi: SpApiConfig,
}

impl ShipmentTrackerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: env.required("ORDERS_TABLE")?,
            pii_table: env.required("PII_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            stock_queue_url: env.required("STOCK_QUEUE_URL")?,
            retention: env.retention()?,
            spapi: SpApiConfig::from_env(env)?,
        })
    }
}

pub struct ShipmentTrackerHandler {
    orders: DynamoOrderStore,
    pii_table: PiiTable,
    control: DynamoControl,
    shipping: ShippingApi,
    stock: SqsQueue,
    clock: Arc<dyn Clock>,
    retention: RetentionPolicy,
}

impl ShipmentTrackerHandler {
    pub fn new(config: ShipmentTrackerConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clock(config, sdk, Arc::new(SystemClock))
    }

    pub fn with_clock(
        config: ShipmentTrackerConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let transport = config
            .spapi
            .transport(sdk, &config.control_table, clock.clone());
        Self {
            orders: DynamoOrderStore::new(dynamo.clone(), config.orders_table),
            pii_table: PiiTable::new(dynamo.clone(), config.pii_table),
            control: DynamoControl::new(dynamo, config.control_table),
            shipping: ShippingApi::new(transport, clock.clone()),
            stock: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), config.stock_queue_url),
            clock,
            retention: config.retention,
        }
    }

    pub async fn handle(
        &self,
        _event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        let run = self.run().await.inspect_err(
            |e| tracing::error!(error = %e, error_kind = "tracking_run_failed", "tracking run failed"),
        )?;
        tracing::info!(
            checked = run.checked,
            first_scans = run.first_scans,
            delivered = run.delivered,
            no_scan_alerts = run.no_scan_alerts.len(),
            failed = run.failed,
            "tracking run"
        );
        Ok(serde_json::to_value(run)?)
    }

    pub async fn run(&self) -> Result<TrackingRun, JobError> {
        ShipmentTracker {
            shipping: &self.shipping,
            watch: &self.control,
            orders: &self.orders,
            sealed: &self.pii_table,
            clock: self.clock.as_ref(),
            retention: self.retention,
            stock: &self.stock,
        }
        .run()
        .await
    }
}
