//! One day of the suite on the local stack: orders in from the SP-API simulator through the
//! real `order-sync` binary under the Runtime API emulator, then a check of what landed in
//! DynamoDB and of every log file for leaked PII.

use crate::functions::{FunctionHost, Invocation};
use crate::moto::Moto;
use crate::resources::{Credentials, Provisioned, provision};
use crate::{log_dir, repo_root};
use serde::Serialize;
use shared::domain::{MarketplaceId, SellerId};
use shared::ports::SellerAccount;
use spapi_sim::{SimConfig, SimHandle, Simulator};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

/// The attributes a sealed PII item may have: ids, ciphertext, dates. Nothing readable.
pub const SEALED_ITEM_ATTRIBUTES: [&str; 10] = [
    "seller_order",
    "kind",
    "v",
    "key_id",
    "edk",
    "nonce",
    "ct",
    "order_version_ms",
    "pii_purge_at",
    "sealed_at",
];

#[derive(Debug, Clone)]
pub struct DayOptions {
    pub run_name: String,
    pub sellers: usize,
    pub orders_per_seller: usize,
    pub page_size: u8,
    pub seed: u64,
}

impl Default for DayOptions {
    fn default() -> Self {
        Self {
            run_name: "run".into(),
            sellers: 4,
            orders_per_seller: 75,
            page_size: 25,
            seed: 20261122,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DaySummary {
    pub sellers: usize,
    pub orders_seeded: usize,
    pub orders_ingested: usize,
    pub orders_with_pii_held: usize,
    pub pii_sealed: usize,
    pub pii_items_with_readable_attributes: usize,
    pub invocations: usize,
    pub search_orders_calls: u64,
    pub lwa_token_calls: u64,
    pub pii_values_checked: usize,
    pub pii_values_found_in_logs: usize,
    pub log_files: Vec<String>,
    pub elapsed_s: f64,
}

fn sim_config(opts: &DayOptions) -> SimConfig {
    SimConfig::demo(opts.sellers, opts.orders_per_seller, opts.seed)
}

fn credentials(config: &SimConfig) -> Result<Credentials, String> {
    let sellers = config
        .sellers
        .iter()
        .map(|s| {
            let account = SellerAccount {
                seller_id: SellerId::parse(s.seller_id.clone()).map_err(|e| e.to_string())?,
                marketplace_ids: vec![
                    MarketplaceId::parse(s.marketplace_id.clone()).map_err(|e| e.to_string())?,
                ],
            };
            Ok((account, s.refresh_token.clone()))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Credentials {
        client_id: config.app.client_id.clone(),
        client_secret: config.app.client_secret.clone(),
        sellers,
    })
}

/// Run the day. Every process it starts is stopped before it returns.
pub async fn run_day(opts: &DayOptions) -> Result<DaySummary, String> {
    let started = Instant::now();
    let logs = log_dir(&opts.run_name);
    for entry in std::fs::read_dir(&logs)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let _ = std::fs::remove_file(entry.path());
    }
    let moto = Moto::start(&logs)?;
    let sdk = moto.sdk_config().await;
    let config = sim_config(opts);
    let creds = credentials(&config)?;
    let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("loopback address"))
        .await
        .map_err(|e| format!("starting the SP-API simulator: {e}"))?;
    let prefix = format!("fbm-{}", opts.run_name);
    let stack = provision(&sdk, &prefix, &creds).await?;

    let mut env = moto.function_env();
    env.extend(stack.order_sync_env(&sim.base_url(), &sim.lwa_token_url()));
    env.extend(
        [
            ("SYNC_PAGE_SIZE", opts.page_size.to_string()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut host = FunctionHost::start(&logs)?;
    host.start_function("order-sync", &env)?;
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("events/order-sync/scheduled.json"))
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;

    // A sweep that pauses (time or page budget) resumes on the next scheduled run.
    let mut invocations = 0;
    let outcome = loop {
        invocations += 1;
        match host.invoke("order-sync", &event).await? {
            Invocation::Ok(report) => {
                let paused = report["sellers"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r["outcome"] == "paused"));
                if !paused || invocations >= 5 {
                    break Ok(report);
                }
            }
            Invocation::FunctionError {
                error_type,
                message,
            } => {
                break Err(format!("order-sync failed: {error_type}: {message}"));
            }
        }
    };
    host.stop();
    let report = outcome?;
    let failed = report["sellers_failed"].as_u64().unwrap_or(0);
    if failed > 0 {
        return Err(format!(
            "order-sync reported {failed} failed sellers: {report}"
        ));
    }

    let mut summary = inspect(&sdk, &stack, &sim, opts, &logs).await?;
    summary.invocations = invocations;
    summary.elapsed_s = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    sim.shutdown().await;
    Ok(summary)
}

/// Count what landed, check the sealed items, and scan every log file for seeded PII.
async fn inspect(
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    sim: &SimHandle,
    opts: &DayOptions,
    logs: &std::path::Path,
) -> Result<DaySummary, String> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let scan = |table: String| {
        let dynamo = dynamo.clone();
        async move {
            dynamo
                .scan()
                .table_name(table)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| format!("scan: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
        }
    };
    let orders = scan(stack.table("orders").to_owned()).await?;
    let pii = scan(stack.table("pii").to_owned()).await?;
    let allowed: BTreeSet<&str> = SEALED_ITEM_ATTRIBUTES.into_iter().collect();
    let readable = pii
        .iter()
        .filter(|item| item.keys().any(|k| !allowed.contains(k.as_str())))
        .count();
    let held = orders
        .iter()
        .filter(|o| {
            o.get("pii_state")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|s| s == "held")
        })
        .count();
    let (log_files, pii_values, found) = scan_logs(logs, &sim.seeded_pii_values())?;
    let stats = serde_json::to_value(sim.stats()).map_err(|e| e.to_string())?;
    let calls = |op: &str| -> u64 {
        stats["operations"][op]
            .as_object()
            .map(|by_status| by_status.values().filter_map(|v| v.as_u64()).sum())
            .unwrap_or(0)
    };
    Ok(DaySummary {
        sellers: opts.sellers,
        orders_seeded: (0..opts.sellers)
            .map(|i| sim.order_count(&sim_config(opts).sellers[i].seller_id))
            .sum(),
        orders_ingested: orders.len(),
        orders_with_pii_held: held,
        pii_sealed: pii.len(),
        pii_items_with_readable_attributes: readable,
        invocations: 0,
        search_orders_calls: calls("searchOrders"),
        lwa_token_calls: calls("lwaToken"),
        pii_values_checked: pii_values,
        pii_values_found_in_logs: found,
        log_files,
        elapsed_s: 0.0,
    })
}

/// Every file in the log directory, searched for every seeded PII value.
pub fn scan_logs(
    dir: &std::path::Path,
    values: &[String],
) -> Result<(Vec<String>, usize, usize), String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let mut found = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        found += values.iter().filter(|v| text.contains(v.as_str())).count();
    }
    let names = files.iter().map(|f| f.display().to_string()).collect();
    Ok((names, values.len(), found))
}
