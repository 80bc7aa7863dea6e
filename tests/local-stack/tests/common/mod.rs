//! Shared by the integration test binaries: one moto server per test binary, one stack
//! (tables, keys, secrets, registry) and one SP-API simulator per test.
#![allow(dead_code)]

use lambda_runtime::{Context, LambdaEvent};
use local_stack::moto::Moto;
use local_stack::resources::{Credentials, Provisioned, provision};
use shared::config::{Env, OrderSyncConfig};
use shared::domain::{MarketplaceId, SellerId};
use shared::handlers::order_sync::OrderSyncHandler;
use shared::ports::SellerAccount;
use shared::sync::SweepReport;
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

pub fn credentials(config: &SimConfig) -> Credentials {
    Credentials {
        client_id: config.app.client_id.clone(),
        client_secret: config.app.client_secret.clone(),
        sellers: config
            .sellers
            .iter()
            .map(|s| {
                (
                    SellerAccount {
                        seller_id: SellerId::parse(s.seller_id.clone()).unwrap(),
                        marketplace_ids: vec![
                            MarketplaceId::parse(s.marketplace_id.clone()).unwrap(),
                        ],
                    },
                    s.refresh_token.clone(),
                )
            })
            .collect(),
    }
}

/// A fresh stack under a prefix unique to the test.
pub async fn stack(test: &str, sim_config: SimConfig) -> TestStack {
    let sdk = moto().sdk_config().await;
    let creds = credentials(&sim_config);
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
        OrderSyncHandler::new(config, &self.sdk)
    }

    pub async fn scan(
        &self,
        table_id: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.dynamo()
            .scan()
            .table_name(self.stack.table(table_id))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("scan")
    }

    /// Calls the simulator answered for `op`, by status.
    pub fn calls(&self, op: &str) -> u64 {
        let stats = serde_json::to_value(self.sim.stats()).unwrap();
        stats["operations"][op]
            .as_object()
            .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
            .unwrap_or(0)
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
