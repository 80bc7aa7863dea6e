//! `make bench-stock`: `stock-sync` measured two ways.
//!
//! 1. A reconciliation of one seller's 10,000 SKUs across 5 sellable locations by the release
//!    binary (`cargo lambda build --release`, the deploy artifact) as one Lambda process
//!    against moto (through a counting proxy) and the simulator at Amazon's official plans on a
//!    real-time clock. 10,000 SKUs take the `JSON_LISTINGS_FEED` path: the positions read, one
//!    feed sent, its result read by the function's own notes on the stock queue a minute apart
//!    (`STOCK_FEED_CHECK_SECS`, 60 as deployed, shorter here to wait less), every SKU recorded.
//!    Wall time from the invocation to the last SKU recorded, against the path's minimum:
//!    Amazon's processing of the feed (the simulator's model) with every call inside its
//!    burst; beside it the read path's quota bound for the same SKUs (`searchListingsItems`
//!    20 SKUs a call at 5/s, a patch and a read back of each drifted SKU). Calls per SKU
//!    (DynamoDB, SQS, SP-API), CPU per SKU, peak RSS. Amazon's quantity for every SKU checked
//!    against the ledger at the end.
//! 2. One hot SKU: four in-process workers (each its own handler, as four Lambda instances)
//!    applying receive, move, reserve, pick and adjust at once: movements per second and the
//!    plans lost to another writer and made again.
//!
//! Both run on the local stack's moto launcher, whose queries on a table's key read one
//! partition (moto's own lists the whole table for each).
//!
//! Positions are seeded straight into moto's stock table (a receipt per location, its ledger
//! entries left out: a reconciliation never reads them).

use crate::bench::{
    CountingProxy, RuntimeApi, cpu_ns, peak_rss_kib, process_env, release_artifact, round,
    spawn_function,
};
use crate::log_dir;
use crate::moto::Moto;
use crate::queues::{EventSource, batch_item_failures};
use crate::resources::{Credentials, provision};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::Serialize;
use serde_json::json;
use shared::aws::DynamoStockLedger;
use shared::kernel::{Clock, SellerId, Sku};
use shared::lambda::Env;
use shared::lambda::stock_sync::config::StockSyncConfig;
use shared::lambda::stock_sync::{StockCommand, StockReport, StockSyncHandler};
use shared::stock::{StockLedger, standing};
use spapi_sim::{ListingEdit, SimConfig, Simulator};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The read path's official plans (rate per second, burst): `searchListingsItems` reads 20
/// SKUs a call; each drifted SKU is a `patchListingsItem` and a `getListingsItem` after it.
const SEARCH_PLAN: (f64, f64) = (5.0, 5.0);
const PATCH_PLAN: (f64, f64) = (5.0, 5.0);
const GET_PLAN: (f64, f64) = (5.0, 10.0);

/// The read path's quota bound: its operations draw on their own buckets at once, so the
/// slowest one bounds it.
fn read_path_bound(skus: usize, drifted: usize) -> f64 {
    let bound = |calls: usize, (rate, burst): (f64, f64)| (calls as f64 - burst).max(0.0) / rate;
    bound(skus.div_ceil(20), SEARCH_PLAN)
        .max(bound(drifted, PATCH_PLAN))
        .max(bound(drifted, GET_PLAN))
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub skus: usize,
    pub locations: usize,
    /// One SKU in this many holds another quantity at Amazon than the ledger's before the run.
    pub drift_every: usize,
    pub feed_check_secs: u64,
    pub hot_rounds: usize,
    pub hot_workers: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            skus: 10_000,
            locations: 5,
            drift_every: 10,
            feed_check_secs: 15,
            hot_rounds: 25,
            hot_workers: 4,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub bench: &'static str,
    pub binary: String,
    pub skus: usize,
    pub locations: usize,
    pub drifted_skus: usize,
    pub path: &'static str,
    pub wall_s: f64,
    pub feed_processing_s: f64,
    pub quota_bound_s: f64,
    pub wall_share_of_bound: f64,
    pub read_path_quota_bound_s: f64,
    pub feed_checks: u32,
    pub dynamodb_calls_per_sku: f64,
    pub sqs_calls_per_sku: f64,
    pub aws_calls_by_operation: BTreeMap<String, u64>,
    pub spapi_calls_per_sku: f64,
    pub spapi_calls_by_operation: BTreeMap<String, u64>,
    pub throttled_429: u64,
    pub cpu_us_per_sku: f64,
    pub peak_rss_mib: f64,
    pub mismatches_after: u64,
    pub hot_workers: usize,
    pub hot_movements_applied: u32,
    pub hot_movements_refused: u32,
    pub hot_movements_per_s: f64,
    pub hot_conflicts_retried: u32,
    pub hot_pushes_overtaken: u32,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn sku_name(i: usize) -> String {
    format!("BENCH-{i:05}")
}

/// On hand of SKU `i` in location `l` (some locations empty, some SKUs out of stock).
fn on_hand(i: usize, l: usize) -> u64 {
    ((i * 7 + l * 3) % 11) as u64
}

/// The seller's sellable locations `BIN-0`...
async fn seed_locations(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    seller: &str,
    locations: usize,
) -> Result<(), String> {
    let locations: Vec<serde_json::Value> = (0..locations)
        .map(|l| json!({"id": format!("BIN-{l}"), "kind": "sellable"}))
        .collect();
    let item = serde_dynamo::to_item(json!({
        "seller_sku": seller, "entry": "locations", "locations": locations,
    }))
    .map_err(|e| e.to_string())?;
    dynamo
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

/// The seller's locations, every SKU's head and on hand written to moto, a listing of each at
/// the simulator holding the ledger's quantity (one in `drift_every` another one).
async fn seed(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    sim: &spapi_sim::SimHandle,
    seller: &str,
    opts: &BenchOptions,
) -> Result<usize, String> {
    seed_locations(dynamo, table, seller, opts.locations).await?;
    let mut writes = Vec::new();
    let mut drifted = 0;
    for i in 0..opts.skus {
        let sku = sku_name(i);
        let pk = format!("{seller}#{sku}");
        let total: u64 = (0..opts.locations).map(|l| on_hand(i, l)).sum();
        let drift = i % opts.drift_every == 0;
        let head = HashMap::from([
            ("seller_sku".to_owned(), s(&pk)),
            ("entry".to_owned(), s("head")),
            ("stock_seller".to_owned(), s(seller)),
            ("stock_sku".to_owned(), s(&sku)),
            ("reserved".to_owned(), n(0)),
            ("picked".to_owned(), n(0)),
            ("movements".to_owned(), n(opts.locations)),
            (
                "settings".to_owned(),
                AttributeValue::M(HashMap::from([("buffer".to_owned(), n(0))])),
            ),
            (
                "listing".to_owned(),
                AttributeValue::M(HashMap::from([
                    ("product_type".to_owned(), s("HOME")),
                    ("accepted_quantity".to_owned(), n(total)),
                ])),
            ),
        ]);
        writes.push(head);
        for l in 0..opts.locations {
            writes.push(HashMap::from([
                ("seller_sku".to_owned(), s(&pk)),
                ("entry".to_owned(), s(format!("at#BIN-{l}"))),
                ("location".to_owned(), s(format!("BIN-{l}"))),
                ("on_hand".to_owned(), n(on_hand(i, l))),
            ]));
        }
        sim.edit_listing(
            seller,
            &sku,
            ListingEdit::Create {
                product_type: "HOME".into(),
            },
        );
        let held = if drift {
            drifted += 1;
            total + 5
        } else {
            total
        };
        sim.edit_listing(seller, &sku, ListingEdit::SetQuantity(Some(held as u32)));
    }
    for chunk in writes.chunks(25) {
        let mut requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .expect("an item"),
                    )
                    .build()
            })
            .collect();
        while !requests.is_empty() {
            let out = dynamo
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
            requests = out
                .unprocessed_items
                .and_then(|mut u| u.remove(table))
                .unwrap_or_default();
        }
    }
    // The seeding's own notices are not the run's.
    sim.take_listing_notifications();
    Ok(drifted)
}

pub async fn run(opts: &BenchOptions) -> Result<Figures, String> {
    let (binary, _) = release_artifact("stock-sync")?;
    let logs = log_dir("bench-stock");
    let moto = Moto::start(&logs)?;
    let sdk = moto.sdk_config().await;
    let config = SimConfig::demo(1, 0, 717_171);
    let sim = Simulator::start(config.clone(), "127.0.0.1:0".parse().expect("address"))
        .await
        .map_err(|e| e.to_string())?;
    let stack = provision(&sdk, "bench-stock", &Credentials::of(&config)?).await?;
    let seller = config.sellers[0].seller_id.clone();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    eprintln!(
        "  seeding {} SKUs × {} locations",
        opts.skus, opts.locations
    );
    let drifted = seed(&dynamo, stack.table("stock"), &sim, &seller, opts).await?;

    let proxy = CountingProxy::start(&moto.endpoint).await?;
    let mut function_env = stack.stock_sync_env(&sim.base_url(), &sim.lwa_token_url());
    function_env.push((
        "STOCK_FEED_CHECK_SECS".into(),
        opts.feed_check_secs.to_string(),
    ));
    let env = process_env(
        moto.function_env(),
        &proxy.url(),
        function_env,
        "stock-sync",
    );
    let runtime = RuntimeApi::with_timeout(Duration::from_secs(900)).await?;
    let mut env1 = env.clone();
    env1.push(("AWS_LAMBDA_RUNTIME_API".into(), runtime.url()));
    let mut process = spawn_function(&binary, &env1, &logs.join("stock-sync.log"))?;
    let pid = process.id().ok_or("stock-sync has no pid")?;
    let cpu_start = cpu_ns(pid).unwrap_or(0);
    let spapi_before = sim.stats().totals();
    proxy.take_counts();
    let started = Instant::now();
    let answer = runtime.invoke(json!({"command": "reconcile"})).await?;
    let report: StockReport = serde_json::from_value(answer.clone())
        .map_err(|e| format!("not a stock report ({e}): {answer}"))?;
    let read_s = started.elapsed().as_secs_f64();
    let feed_id = report
        .feed_ids
        .first()
        .cloned()
        .ok_or_else(|| format!("no feed sent: {report:?}"))?;
    eprintln!(
        "  reconcile: {} SKUs read and feed {feed_id} sent in {read_s:.1} s",
        report.feed_lines
    );
    // The function's notes on the stock queue, handed to it as Lambda's event source would.
    let ledger = DynamoStockLedger::new(dynamo.clone(), stack.table("stock"));
    let seller_id = SellerId::parse(&seller).map_err(|e| e.to_string())?;
    let source = EventSource::new(aws_sdk_sqs::Client::new(&sdk), stack.queue("stock"));
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut feed_checks = 0;
    while ledger
        .feed(&seller_id, &feed_id)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        if Instant::now() > deadline {
            return Err("the feed's result was never read".into());
        }
        let pumped = source
            .pump(
                |event| {
                    let runtime = &runtime;
                    async move { Ok(batch_item_failures(&runtime.invoke(event).await?)) }
                },
                true,
            )
            .await?;
        feed_checks += pumped.messages;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let wall_s = started.elapsed().as_secs_f64();
    let cpu_end = cpu_ns(pid).ok_or("no cpu figure")?;
    let rss = peak_rss_kib(pid).ok_or("no rss figure")?;
    let calls = proxy.take_counts();
    let _ = process.kill().await;
    let stats = sim.stats();
    let spapi: BTreeMap<String, u64> = stats
        .totals()
        .into_iter()
        .map(|(op, n)| (op.clone(), n - spapi_before.get(&op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let throttled: u64 = stats
        .operations
        .values()
        .map(|by_status| by_status.get("429").copied().unwrap_or(0))
        .sum();

    // Amazon against the ledger, every SKU.
    let warehouse = ledger
        .warehouse(&seller_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut mismatches = 0;
    for i in 0..opts.skus {
        let sku = Sku::parse(sku_name(i)).map_err(|e| e.to_string())?;
        let (_, available) = standing(&ledger, &seller_id, &sku, &warehouse)
            .await
            .map_err(|e| e.to_string())?;
        if sim.listing_quantity(&seller, sku.as_str()) != available {
            mismatches += 1;
        }
    }
    let per = |v: f64| v / opts.skus as f64;
    let aws = |prefix: &str| {
        per(calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| *v)
            .sum::<u64>() as f64)
    };
    let processing = spapi_sim::feed_done_after(opts.skus).num_milliseconds() as f64 / 1000.0;

    drop(process);
    drop(moto);
    let hot = hot_sku(opts, &logs, &sim, &config, &seller_id).await?;
    sim.shutdown().await;
    Ok(Figures {
        bench: "stock-sync",
        binary: "target/lambda/stock-sync/bootstrap (cargo lambda build --release, x86_64)".into(),
        skus: opts.skus,
        locations: opts.locations,
        drifted_skus: drifted,
        path: "JSON_LISTINGS_FEED",
        wall_s: round(wall_s, 1),
        feed_processing_s: round(processing, 1),
        quota_bound_s: round(processing, 1),
        wall_share_of_bound: round(processing / wall_s, 3),
        read_path_quota_bound_s: round(read_path_bound(opts.skus, drifted), 1),
        feed_checks,
        dynamodb_calls_per_sku: round(aws("DynamoDB_"), 3),
        sqs_calls_per_sku: round(aws("AmazonSQS."), 4),
        aws_calls_by_operation: calls,
        spapi_calls_per_sku: round(per(spapi.values().sum::<u64>() as f64), 4),
        spapi_calls_by_operation: spapi,
        throttled_429: throttled,
        cpu_us_per_sku: round(per((cpu_end - cpu_start) as f64 / 1000.0), 1),
        peak_rss_mib: round(rss as f64 / 1024.0, 1),
        mismatches_after: mismatches,
        hot_workers: opts.hot_workers,
        hot_movements_applied: hot.applied,
        hot_movements_refused: hot.refused,
        hot_movements_per_s: round(hot.per_s, 1),
        hot_conflicts_retried: hot.conflicts,
        hot_pushes_overtaken: hot.overtaken,
    })
}

struct Hot {
    applied: u32,
    refused: u32,
    per_s: f64,
    conflicts: u32,
    overtaken: u32,
}

/// Four workers on one SKU at once, on a moto of their own: moto copies a whole table for
/// each item of a transaction (its rollback), so at the reconciliation's 60,000 items it would
/// measure that copy, not the movements.
async fn hot_sku(
    opts: &BenchOptions,
    logs: &std::path::Path,
    sim: &spapi_sim::SimHandle,
    config: &SimConfig,
    seller: &SellerId,
) -> Result<Hot, String> {
    let logs = logs.join("hot");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let moto = Moto::start(&logs)?;
    let sdk = &moto.sdk_config().await;
    let stack = provision(sdk, "bench-stock-hot", &Credentials::of(config)?).await?;
    seed_locations(
        &aws_sdk_dynamodb::Client::new(sdk),
        stack.table("stock"),
        seller.as_str(),
        opts.locations,
    )
    .await?;
    let env = stack.stock_sync_env(&sim.base_url(), &sim.lwa_token_url());
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = StockSyncConfig::from_env(&Env::from_pairs(pairs)).map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(crate::SimTime(sim.clock()));
    let sku = "BENCH-00000";
    let workers: Vec<StockSyncHandler> = (0..opts.hot_workers)
        .map(|_| StockSyncHandler::with_clock(config.clone(), sdk, clock.clone()))
        .collect();
    let movement = |id: String, kind: serde_json::Value| {
        let mut m = json!({"movement_id": id, "seller_id": seller, "sku": sku, "actor": "bench"});
        m.as_object_mut()
            .expect("an object")
            .extend(kind.as_object().expect("an object").clone());
        m
    };
    let started = Instant::now();
    let reports = futures::future::join_all(workers.iter().enumerate().map(|(w, h)| {
        let movement = &movement;
        async move {
            let mut total = StockReport::default();
            for i in 0..opts.hot_rounds {
                let order = format!("12{w}-{i:07}-7654321");
                let ms = vec![
                    movement(format!("rcv-{w}-{i}"), json!({"kind": "receive", "location": "BIN-0", "quantity": 3})),
                    movement(format!("mv-{w}-{i}"), json!({"kind": "move", "from": "BIN-0", "to": "BIN-1", "quantity": 1})),
                    movement(format!("res-{w}-{i}"), json!({"kind": "reserve", "order_item_id": "I1", "quantity": 1, "order_id": order})),
                    movement(format!("pick-{w}-{i}"), json!({"kind": "pick", "order_item_id": "I1", "quantity": 1, "order_id": order})),
                    movement(format!("adj-{w}-{i}"), json!({"kind": "adjust", "location": "BIN-0", "delta": -2, "reason": "cycle count"})),
                ];
                let command: StockCommand =
                    serde_json::from_value(json!({"command": "movements", "movements": ms}))
                        .map_err(|e| e.to_string())?;
                total.merge(h.command(command).await.map_err(|e| e.to_string())?);
            }
            Ok::<_, String>(total)
        }
    }))
    .await;
    let secs = started.elapsed().as_secs_f64();
    let mut total = StockReport::default();
    for r in reports {
        total.merge(r?);
    }
    Ok(Hot {
        applied: total.movements_applied,
        refused: total.movements_refused,
        per_s: f64::from(total.movements_applied + total.movements_refused) / secs,
        conflicts: total.conflicts_retried,
        overtaken: total.pushes_failed,
    })
}
