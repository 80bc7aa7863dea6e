//! Shared by the integration test binaries: one moto server per test binary, one stack
//! (tables, keys, secrets, registry) and one SP-API simulator per test.
#![allow(dead_code)]

use lambda_runtime::{Context, LambdaEvent};
use local_stack::moto::Moto;
use local_stack::resources::{Credentials, Provisioned, provision};
use shared::kernel::SellerId;
use shared::lambda::Env;
use shared::lambda::order_events::OrderEventsHandler;
use shared::lambda::order_events::config::OrderEventsConfig;
use shared::lambda::order_sync::OrderSyncHandler;
use shared::lambda::order_sync::config::OrderSyncConfig;
use shared::orders::notifications::BatchReport;
use shared::orders::sweep::SweepReport;
use spapi_sim::{SimConfig, SimHandle, Simulator};
use std::sync::OnceLock;

static MOTO: OnceLock<Moto> = OnceLock::new();

/// This test binary's moto server; stopped by its watchdog when the binary exits.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let logs = local_stack::log_dir("tests");
        Moto::start(&logs).expect("moto server starts (run `make setup` first)")
    })
}

pub struct TestStack {
    pub sdk: aws_config::SdkConfig,
    pub stack: Provisioned,
    pub sim: SimHandle,
    pub sim_config: SimConfig,
}

/// A fresh stack under a prefix unique to the test.
pub async fn stack(test: &str, sim_config: SimConfig) -> TestStack {
    let sdk = moto().sdk_config().await;
    let creds = Credentials::of(&sim_config).expect("simulator credentials");
    let sim = Simulator::start(sim_config.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let stack = provision(&sdk, &format!("t-{test}"), &creds)
        .await
        .expect("provisioned");
    TestStack {
        sdk,
        stack,
        sim,
        sim_config,
    }
}

impl TestStack {
    pub fn seller(&self, i: usize) -> SellerId {
        SellerId::parse(self.sim_config.sellers[i].seller_id.clone()).unwrap()
    }

    pub fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// `order-sync`'s handler, configured exactly as the binary would be from its environment.
    pub fn order_sync(&self, page_size: u8) -> OrderSyncHandler {
        let env = self
            .stack
            .order_sync_env(&self.sim.base_url(), &self.sim.lwa_token_url());
        let mut pairs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = page_size.to_string();
        pairs.push(("SYNC_PAGE_SIZE", &page));
        let config = OrderSyncConfig::from_env(&Env::from_pairs(pairs)).expect("config");
        OrderSyncHandler::with_clock(config, &self.sdk, self.amazon_time())
    }

    /// The simulator's clock as the suite's: the suite and "Amazon" agree on the time.
    pub fn amazon_time(&self) -> std::sync::Arc<dyn shared::kernel::Clock> {
        std::sync::Arc::new(local_stack::SimTime(self.sim.clock()))
    }

    /// `pii-redactor`'s handler as the binary would build it, on `clock`.
    pub fn pii_redactor(
        &self,
        clock: std::sync::Arc<dyn shared::kernel::Clock>,
    ) -> shared::lambda::pii_redactor::PiiRedactorHandler {
        let env = self.stack.pii_redactor_env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = shared::lambda::pii_redactor::config::PiiRedactorConfig::from_env(
            &Env::from_pairs(pairs),
        )
        .expect("config");
        shared::lambda::pii_redactor::PiiRedactorHandler::with_clock(config, &self.sdk, clock)
    }

    /// `label-worker`'s handler as the binary would build it, on the simulator's clock.
    pub fn label_worker(&self) -> shared::lambda::label_worker::LabelWorkerHandler {
        let env = self
            .stack
            .label_worker_env(&self.sim.base_url(), &self.sim.lwa_token_url());
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = shared::lambda::label_worker::config::LabelWorkerConfig::from_env(
            &Env::from_pairs(pairs),
        )
        .expect("config");
        shared::lambda::label_worker::LabelWorkerHandler::with_clock(
            config,
            &self.sdk,
            self.amazon_time(),
        )
    }

    pub fn shipment_tracker(&self) -> shared::lambda::shipment_tracker::ShipmentTrackerHandler {
        let env = self
            .stack
            .shipment_tracker_env(&self.sim.base_url(), &self.sim.lwa_token_url());
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = shared::lambda::shipment_tracker::ShipmentTrackerConfig::from_env(
            &Env::from_pairs(pairs),
        )
        .expect("config");
        shared::lambda::shipment_tracker::ShipmentTrackerHandler::with_clock(
            config,
            &self.sdk,
            self.amazon_time(),
        )
    }

    /// `api`'s handler as the binary would build it, on the simulator's clock.
    pub fn api(&self) -> shared::lambda::api::ApiHandler {
        let env = self.stack.api_env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config =
            shared::lambda::api::ApiConfig::from_env(&Env::from_pairs(pairs)).expect("config");
        shared::lambda::api::ApiHandler::with_clock(config, &self.sdk, self.amazon_time())
    }

    /// `stock-sync`'s handler as the binary would build it, on the simulator's clock.
    pub fn stock_sync(&self) -> shared::lambda::stock_sync::StockSyncHandler {
        self.stock_sync_with(&[])
    }

    /// `stock-sync`'s handler with `extra` environment.
    pub fn stock_sync_with(
        &self,
        extra: &[(&str, &str)],
    ) -> shared::lambda::stock_sync::StockSyncHandler {
        let env = self
            .stack
            .stock_sync_env(&self.sim.base_url(), &self.sim.lwa_token_url());
        let mut pairs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.extend_from_slice(extra);
        let config =
            shared::lambda::stock_sync::config::StockSyncConfig::from_env(&Env::from_pairs(pairs))
                .expect("config");
        shared::lambda::stock_sync::StockSyncHandler::with_clock(
            config,
            &self.sdk,
            self.amazon_time(),
        )
    }

    /// Run the stock queue through `handler` until nothing is visible; the batches' figures.
    pub async fn pump_stock(
        &self,
        handler: &shared::lambda::stock_sync::StockSyncHandler,
    ) -> shared::lambda::stock_sync::StockReport {
        self.pump_stock_from(handler, "stock").await
    }

    /// Run `queue` (the stock queue, or Amazon's listing notifications) through `handler`.
    pub async fn pump_stock_from(
        &self,
        handler: &shared::lambda::stock_sync::StockSyncHandler,
        queue: &str,
    ) -> shared::lambda::stock_sync::StockReport {
        let total = std::sync::Mutex::new(shared::lambda::stock_sync::StockReport::default());
        local_stack::queues::EventSource::new(self.sqs(), self.stack.queue(queue))
            .pump(
                |event| {
                    let total = &total;
                    async move {
                        let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                        let r = handler.handle_batch(event).await;
                        let keep = r.keep.clone();
                        total.lock().unwrap().merge(r);
                        Ok(keep)
                    }
                },
                // Kept messages come back at once (their visibility timeout passed).
                true,
            )
            .await
            .expect("stock queue pumped");
        total.into_inner().unwrap()
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    /// `order-events`' handler as the binary would build it, with `extra` environment.
    pub fn order_events(&self, extra: &[(&str, &str)]) -> OrderEventsHandler {
        let env = self
            .stack
            .order_events_env(&self.sim.base_url(), &self.sim.lwa_token_url());
        let mut pairs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.extend_from_slice(extra);
        let config = OrderEventsConfig::from_env(&Env::from_pairs(pairs)).expect("config");
        OrderEventsHandler::with_clock(config, &self.sdk, self.amazon_time())
    }

    /// Deliver the simulator's published notifications to the notifications queue.
    pub async fn deliver(&self) -> spapi_sim::Delivery {
        self.sim
            .deliver_notifications(&self.sqs(), self.stack.queue("notifications"))
            .await
            .expect("notifications delivered")
    }

    /// Run the notifications queue through `handler` until nothing is visible, as Lambda's
    /// event source mapping would. The batches' figures, summed.
    pub async fn pump(&self, handler: &OrderEventsHandler, redeliver_kept: bool) -> BatchReport {
        let total = std::sync::Mutex::new(BatchReport::default());
        local_stack::queues::EventSource::new(self.sqs(), self.stack.queue("notifications"))
            .pump(
                |event| {
                    let total = &total;
                    async move {
                        let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                        let r = handler.handle_records(event).await;
                        let keep = r.keep.clone();
                        total.lock().unwrap().merge(r);
                        Ok(keep)
                    }
                },
                redeliver_kept,
            )
            .await
            .expect("queue pumped");
        total.into_inner().unwrap()
    }

    /// Put deletion requests on the stack's deletion-requests queue.
    pub async fn deliver_deletion_requests(&self, bodies: &[String]) {
        for body in bodies {
            self.sqs()
                .send_message()
                .queue_url(self.stack.queue("deletion-requests"))
                .message_body(body)
                .send()
                .await
                .expect("deletion request sent");
        }
    }

    /// Run the deletion-requests queue through `handler` until nothing is visible.
    pub async fn pump_deletion_requests(
        &self,
        handler: &shared::lambda::pii_redactor::PiiRedactorHandler,
    ) -> shared::lambda::pii_redactor::DeletionBatchReport {
        let total =
            std::sync::Mutex::new(shared::lambda::pii_redactor::DeletionBatchReport::default());
        local_stack::queues::EventSource::new(self.sqs(), self.stack.queue("deletion-requests"))
            .pump(
                |event| {
                    let total = &total;
                    async move {
                        let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                        let r = handler.handle_deletions(event).await;
                        let mut sum = total.lock().unwrap();
                        sum.completed += r.completed;
                        sum.already_completed += r.already_completed;
                        sum.dead_lettered += r.dead_lettered;
                        sum.retried += r.retried;
                        Ok(r.keep)
                    }
                },
                false,
            )
            .await
            .expect("deletion requests pumped");
        total.into_inner().unwrap()
    }

    /// `audit-report`'s handler as the binary would build it, its AWS calls through `sdk`.
    pub fn audit_report(
        &self,
        sdk: &aws_config::SdkConfig,
        clock: std::sync::Arc<dyn shared::kernel::Clock>,
    ) -> shared::lambda::audit_report::AuditReportHandler {
        let env = self.stack.audit_report_env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = shared::lambda::audit_report::config::AuditReportConfig::from_env(
            &Env::from_pairs(pairs),
        )
        .expect("config");
        shared::lambda::audit_report::AuditReportHandler::new(config, sdk, clock)
    }

    /// Bodies on one of the stack's queues (read and deleted).
    pub async fn queue_bodies(&self, id: &str) -> Vec<serde_json::Value> {
        local_stack::queues::drain_bodies(&self.sqs(), self.stack.queue(id))
            .await
            .expect("queue read")
            .iter()
            .map(|b| serde_json::from_str(b).expect("queue messages are JSON"))
            .collect()
    }

    pub async fn scan(
        &self,
        table_id: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        local_stack::resources::scan_all(&self.dynamo(), self.stack.table(table_id))
            .await
            .expect("scan")
    }

    /// Calls the simulator answered for `op`, by status.
    pub fn calls(&self, op: &str) -> u64 {
        self.sim.stats().total(op)
    }
}

pub async fn run_sync(handler: &OrderSyncHandler, event: serde_json::Value) -> SweepReport {
    handler
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .expect("order-sync handled the event")
}

pub fn s(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    k: &str,
) -> String {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}
