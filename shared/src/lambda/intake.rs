//! The intake functions' shared part (`order-sync`, `order-events`): their configuration and
//! the adapters both routes use.

use super::env::{ConfigError, Env};
use crate::aws::{
    DynamoAuditLog, DynamoControl, DynamoOrderStore, KmsPiiVault, PiiTable, SqsQueue,
};
use crate::kernel::Clock;
use crate::orders::OrderIntake;
use crate::pii::RetentionPolicy;
use crate::spapi::OrdersApi;
use std::sync::Arc;

pub use super::spapi::SpApiConfig;

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

/// The adapters both intake routes use, built once per process (cold start).
pub struct IntakeAdapters {
    pub api: OrdersApi,
    pub orders: DynamoOrderStore,
    pub vault: KmsPiiVault,
    pub pii_table: PiiTable,
    pub audit: DynamoAuditLog,
    pub control: DynamoControl,
    pub stock: SqsQueue,
    pub clock: Arc<dyn Clock>,
    retention: RetentionPolicy,
}

impl IntakeAdapters {
    /// `clock` is the system clock in Lambda; tests share the simulator's.
    pub fn new(config: &IntakeConfig, sdk: &aws_config::SdkConfig, clock: Arc<dyn Clock>) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let pii_table = PiiTable::new(dynamo.clone(), config.pii_table.clone());
        let transport = config
            .spapi
            .transport(sdk, &config.control_table, clock.clone());
        Self {
            api: OrdersApi::new(transport),
            orders: DynamoOrderStore::new(dynamo.clone(), config.orders_table.clone()),
            vault: KmsPiiVault::new(
                aws_sdk_kms::Client::new(sdk),
                pii_table.clone(),
                config.pii_key_id.clone(),
            ),
            pii_table,
            audit: DynamoAuditLog::new(dynamo.clone(), config.audit_table.clone()),
            control: DynamoControl::new(dynamo, config.control_table.clone()),
            stock: SqsQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                config.stock_queue_url.clone(),
            ),
            clock,
            retention: config.retention,
        }
    }

    pub fn intake(&self) -> OrderIntake<'_> {
        OrderIntake {
            orders: &self.orders,
            vault: &self.vault,
            sealed_items: &self.pii_table,
            audit: &self.audit,
            stock: &self.stock,
            clock: self.clock.as_ref(),
            retention: self.retention,
        }
    }
}
