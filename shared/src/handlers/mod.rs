//! Lambda handlers: translate an event into a service call. Each function's `main.rs` builds
//! one of these at cold start and hands it every event.

pub mod audit_report;
pub mod order_events;
pub mod order_sync;
pub mod pii_redactor;

use crate::adapters::{
    DynamoAuditLog, DynamoControl, DynamoOrderStore, DynamoRateBudget, KmsPiiVault,
    SecretsManagerSecrets, SqsQueue,
};
use crate::config::IntakeConfig;
use crate::intake::OrderIntake;
use crate::ports::Clock;
use crate::spapi::{RetryPolicy, SpApiClient};
use std::sync::Arc;

/// The adapters both intake routes use, built once per process (cold start).
pub struct IntakeAdapters {
    pub api: SpApiClient,
    pub orders: DynamoOrderStore,
    pub vault: KmsPiiVault,
    pub audit: DynamoAuditLog,
    pub control: DynamoControl,
    pub stock: SqsQueue,
    pub clock: Arc<dyn Clock>,
    config: IntakeConfig,
}

impl IntakeAdapters {
    /// `clock` is the system clock in Lambda; tests share the simulator's.
    pub fn new(config: &IntakeConfig, sdk: &aws_config::SdkConfig, clock: Arc<dyn Clock>) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let secrets = Arc::new(SecretsManagerSecrets::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            config.spapi.lwa_app_secret_id.clone(),
            config.spapi.seller_secret_prefix.clone(),
        ));
        // One budget per seller × operation in the control table, shared with every other
        // instance of every function that calls SP-API.
        let budget = Arc::new(DynamoRateBudget::new(
            dynamo.clone(),
            config.control_table.clone(),
            clock.clone(),
        ));
        Self {
            api: SpApiClient::new(
                config.spapi.endpoint.clone(),
                config.spapi.lwa_token_url.clone(),
                secrets,
                budget,
                RetryPolicy {
                    max_budget_wait: config.spapi.max_budget_wait,
                    ..RetryPolicy::default()
                },
            ),
            orders: DynamoOrderStore::new(dynamo.clone(), config.orders_table.clone()),
            vault: KmsPiiVault::new(
                aws_sdk_kms::Client::new(sdk),
                dynamo.clone(),
                config.pii_table.clone(),
                config.pii_key_id.clone(),
            ),
            audit: DynamoAuditLog::new(dynamo.clone(), config.audit_table.clone()),
            control: DynamoControl::new(dynamo, config.control_table.clone()),
            stock: SqsQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                config.stock_queue_url.clone(),
            ),
            clock,
            config: config.clone(),
        }
    }

    pub fn intake(&self) -> OrderIntake<'_> {
        OrderIntake {
            orders: &self.orders,
            vault: &self.vault,
            audit: &self.audit,
            stock: &self.stock,
            clock: self.clock.as_ref(),
            retention: self.config.retention,
        }
    }
}
