//! `make bench-labels`: `label-worker` measured two ways.
//!
//! 1. The release binary (`cargo lambda build --release`, the deploy artifact) as one Lambda
//!    process against moto and the simulator: cold start (exec to its first Runtime API poll),
//!    CPU time per label and peak RSS over label jobs handed over in batches of 5 (the CDK
//!    batch size), AWS calls per label (counted by a proxy in front of moto) and SP-API calls
//!    per label (the simulator's count). The simulator's plans are raised for this part so that
//!    the process, not the quota, is what is measured.
//! 2. 1,000 label jobs for one seller at the official Shipping v2 plan (`getRates` and
//!    `purchaseShipment` each 80/s, burst 100) on the simulator's clock shared by simulator and
//!    suite, drained by four in-process workers as Lambda's event source mapping would run
//!    them: drain time against the quota-bound minimum, and the 429s Amazon answered.
//!
//! Orders are placed at the simulator and stored by the real sweep (`order-sync`'s handler)
//! first: a label job is checked against the stored order.

use crate::bench::{
    CountingProxy, RuntimeApi, cold_starts, cpu_ns, peak_rss_kib, process_env, release_artifact,
    round, spawn_function,
};
use crate::log_dir;
use crate::moto::Moto;
use crate::packing::{dock, whole_order_job, write_label_settings};
use crate::queues::{EventSource, batch_item_failures};
use crate::resources::{Credentials, Provisioned, provision, scan_all};
use serde::Serialize;
use shared::kernel::{Clock, SellerId};
use shared::labels::{LabelFormat, LabelSettings, RatePolicy};
use shared::lambda::Env;
use shared::lambda::label_worker::LabelWorkerHandler;
use shared::lambda::label_worker::config::LabelWorkerConfig;
use shared::lambda::order_sync::OrderSyncHandler;
use shared::lambda::order_sync::config::OrderSyncConfig;
use shared::orders::{Order, OrderStatus};
use spapi_sim::{SimConfig, SimHandle, Simulator};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// label-worker's batch size in the CDK app (`infra/lib/labels.ts`).
const BATCH: i32 = 5;
/// Shipping v2's plan for `getRates` and `purchaseShipment` alike.
const PLAN_RATE: f64 = 80.0;
const PLAN_BURST: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub process_labels: usize,
    pub cold_starts: usize,
    pub backlog_labels: usize,
    /// Simulated seconds per real second in part 2.
    pub clock_speed: f64,
    pub workers: usize,
    pub skip_drain: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            process_labels: 300,
            cold_starts: 7,
            backlog_labels: 1000,
            // Shipping's plan (80/s) is faster than moto (one Python process, at 100 % of a
            // core) can take a label's 13 AWS calls: about 6 labels a real second. The clock
            // runs slower than real time so that the plan, not moto, is what binds: 0.25x
            // gave 0.23 of the bound, 0.1x 0.79 (see README, Benchmark).
            clock_speed: 0.05,
            workers: 4,
            skip_drain: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub bench: &'static str,
    pub binary: String,
    pub zip_bytes: u64,
    pub cold_start_ms_median: f64,
    pub cold_start_ms_runs: Vec<f64>,
    pub process_labels: usize,
    pub cpu_us_per_label: f64,
    pub cpu_sys_share: f64,
    pub peak_rss_mib: f64,
    pub dynamodb_calls_per_label: f64,
    pub kms_calls_per_label: f64,
    pub sqs_calls_per_label: f64,
    pub aws_calls_by_operation: BTreeMap<String, u64>,
    pub spapi_calls_per_label: f64,
    pub spapi_calls_by_operation: BTreeMap<String, u64>,
    pub backlog_labels: usize,
    pub clock_speed: f64,
    pub workers: usize,
    pub drain_sim_s: f64,
    pub quota_bound_sim_s: f64,
    pub drain_share_of_quota_bound: f64,
    pub shipping_calls: u64,
    pub throttled_429: u64,
    pub duplicate_purchases: u64,
}

/// A seller with `orders` open orders at Amazon, stored by the sweep, and label settings.
/// Returns the stored open orders.
async fn seed(
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    sim: &SimHandle,
    seller: &str,
    orders: usize,
    clock: Arc<dyn Clock>,
) -> Result<Vec<Order>, String> {
    sim.place_orders(seller, orders);
    // Searches see changes two minutes old.
    sim.advance_clock(chrono::Duration::minutes(3));
    let env = stack.order_sync_env(&sim.base_url(), &sim.lwa_token_url());
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push(("SYNC_PAGE_SIZE", "100"));
    let config = OrderSyncConfig::from_env(&Env::from_pairs(pairs)).map_err(|e| e.to_string())?;
    let sync = OrderSyncHandler::with_clock(config, sdk, clock);
    for _ in 0..20 {
        let report = sync
            .handle(lambda_runtime::LambdaEvent::new(
                serde_json::json!({}),
                lambda_runtime::Context::default(),
            ))
            .await
            .map_err(|e| e.to_string())?;
        if report
            .sellers
            .iter()
            .all(|s| s.outcome != shared::orders::sweep::SweepOutcome::Paused)
        {
            break;
        }
    }
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let settings = LabelSettings {
        catalog: BTreeMap::new(),
        ..LabelSettings::new(dock(), RatePolicy::CheapestOnTime, LabelFormat::Zpl)
    };
    let seller = SellerId::parse(seller).map_err(|e| e.to_string())?;
    write_label_settings(&dynamo, stack.table("control"), &seller, settings).await?;
    let open: Vec<Order> = scan_all(&dynamo, stack.table("orders"))
        .await?
        .into_iter()
        .filter_map(|i| serde_dynamo::from_item::<_, Order>(i).ok())
        .filter(|o| o.status == OrderStatus::Unshipped)
        .collect();
    if open.len() < orders {
        return Err(format!("{} of {orders} orders stored open", open.len()));
    }
    Ok(open)
}

/// One label job per order: the whole order in one package.
async fn send_jobs(sqs: &aws_sdk_sqs::Client, queue: &str, orders: &[Order]) -> Result<(), String> {
    for chunk in orders.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let body = whole_order_job(o, &format!("bench-{}", o.order_id), "p1", "bench");
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body.to_string())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        sqs.send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    }
    Ok(())
}

pub async fn run(opts: &BenchOptions) -> Result<Figures, String> {
    let (binary, zip_bytes) = release_artifact("label-worker")?;
    let logs = log_dir("bench-labels");
    let moto = Moto::start(&logs)?;
    let sdk = moto.sdk_config().await;

    // Part 1: the process.
    let mut config = SimConfig::demo(1, 0, 515_151);
    config.rate_scale = 1000.0;
    let sim = Simulator::start(config.clone(), "127.0.0.1:0".parse().expect("address"))
        .await
        .map_err(|e| e.to_string())?;
    let stack = provision(&sdk, "bench-labels", &Credentials::of(&config)?).await?;
    let seller = config.sellers[0].seller_id.clone();
    let clock: Arc<dyn Clock> = Arc::new(crate::SimTime(sim.clock()));
    let open = seed(&sdk, &stack, &sim, &seller, opts.process_labels, clock).await?;
    let proxy = CountingProxy::start(&moto.endpoint).await?;
    let env = process_env(
        moto.function_env(),
        &proxy.url(),
        stack.label_worker_env(&sim.base_url(), &sim.lwa_token_url()),
        "label-worker",
    );
    let (cold, cold_start_ms_median) =
        cold_starts(&binary, &env, &logs, opts.cold_starts, "label-worker").await?;

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = stack.queue("label-jobs");
    send_jobs(&sqs, queue, &open[..opts.process_labels]).await?;
    let runtime = RuntimeApi::start().await?;
    let mut env1 = env.clone();
    env1.push(("AWS_LAMBDA_RUNTIME_API".into(), runtime.url()));
    let mut process = spawn_function(&binary, &env1, &logs.join("label-worker.log"))?;
    let pid = process.id().ok_or("label-worker has no pid")?;
    // The first batch warms the process (LWA token, connection pools): not counted.
    let source = EventSource::new(sqs.clone(), queue).batch_size(BATCH);
    let mut batches = 0;
    let mut cpu_start = None;
    let mut spapi_start = None;
    let mut counted = 0u64;
    proxy.take_counts();
    source
        .pump(
            |event| {
                batches += 1;
                let n = event["Records"].as_array().map_or(0, |r| r.len()) as u64;
                if batches > 1 && cpu_start.is_none() {
                    cpu_start = cpu_ns(pid);
                    spapi_start = Some(sim.stats());
                    proxy.take_counts();
                }
                if batches > 1 {
                    counted += n;
                }
                let runtime = &runtime;
                async move { Ok(batch_item_failures(&runtime.invoke(event).await?)) }
            },
            true,
        )
        .await?;
    let cpu_end = cpu_ns(pid).ok_or("no cpu figure")?;
    let (user, sys) = crate::bench::user_sys_ticks(pid).ok_or("no cpu split")?;
    let rss = peak_rss_kib(pid).ok_or("no rss figure")?;
    let calls = proxy.take_counts();
    let _ = process.kill().await;
    let stats = sim.stats();
    let bought: u64 = stats.label_purchases.values().sum();
    if bought != opts.process_labels as u64 || stats.duplicate_purchases() != 0 {
        return Err(format!(
            "the process bought {bought} labels for {} jobs",
            opts.process_labels
        ));
    }
    let before = spapi_start.ok_or("one batch only")?.totals();
    let spapi: BTreeMap<String, u64> = stats
        .totals()
        .into_iter()
        .map(|(op, n)| {
            let was = before.get(&op).copied().unwrap_or(0);
            (op, n - was)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let per = |n: f64| n / counted.max(1) as f64;
    let aws = |prefix: &str| {
        per(calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| *v)
            .sum::<u64>() as f64)
    };
    let cpu_us_per_label = per((cpu_end - cpu_start.ok_or("no cpu figure")?) as f64 / 1000.0);
    sim.shutdown().await;

    // Part 2: the quota-bound backlog.
    let drain = if opts.skip_drain {
        Drain::default()
    } else {
        drain_backlog(opts, &sdk).await?
    };

    Ok(Figures {
        bench: "label-worker",
        binary: "target/lambda/label-worker/bootstrap.zip (cargo lambda build --release, x86_64)"
            .into(),
        zip_bytes,
        cold_start_ms_median: round(cold_start_ms_median, 2),
        cold_start_ms_runs: cold.iter().map(|c| round(*c, 2)).collect(),
        process_labels: counted as usize,
        cpu_us_per_label: round(cpu_us_per_label, 1),
        cpu_sys_share: round(sys as f64 / (user + sys).max(1) as f64, 2),
        peak_rss_mib: round(rss as f64 / 1024.0, 1),
        dynamodb_calls_per_label: round(aws("DynamoDB_"), 2),
        kms_calls_per_label: round(aws("TrentService."), 2),
        sqs_calls_per_label: round(aws("AmazonSQS."), 2),
        aws_calls_by_operation: calls,
        spapi_calls_per_label: round(per(spapi.values().sum::<u64>() as f64), 2),
        spapi_calls_by_operation: spapi,
        backlog_labels: opts.backlog_labels,
        clock_speed: opts.clock_speed,
        workers: opts.workers,
        drain_sim_s: round(drain.sim_s, 1),
        quota_bound_sim_s: round(drain.bound_s, 2),
        drain_share_of_quota_bound: round(drain.bound_s / drain.sim_s, 3),
        shipping_calls: drain.shipping_calls,
        throttled_429: drain.throttled,
        duplicate_purchases: drain.duplicates,
    })
}

#[derive(Default)]
struct Drain {
    sim_s: f64,
    bound_s: f64,
    shipping_calls: u64,
    throttled: u64,
    duplicates: u64,
}

async fn drain_backlog(opts: &BenchOptions, sdk: &aws_config::SdkConfig) -> Result<Drain, String> {
    let mut config = SimConfig::demo(1, 0, 616_161);
    config.clock_speed = opts.clock_speed;
    let sim = Simulator::start(config.clone(), "127.0.0.1:0".parse().expect("address"))
        .await
        .map_err(|e| e.to_string())?;
    let stack = provision(sdk, "bench-labels-backlog", &Credentials::of(&config)?).await?;
    let clock: Arc<dyn Clock> = Arc::new(crate::SimTime(sim.clock()));
    let seller = config.sellers[0].seller_id.clone();
    let open = seed(
        sdk,
        &stack,
        &sim,
        &seller,
        opts.backlog_labels,
        clock.clone(),
    )
    .await?;
    let env = stack.label_worker_env(&sim.base_url(), &sim.lwa_token_url());
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let handler_config =
        LabelWorkerConfig::from_env(&Env::from_pairs(pairs)).map_err(|e| e.to_string())?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = stack.queue("label-jobs");
    send_jobs(&sqs, queue, &open[..opts.backlog_labels]).await?;
    let before = sim.stats();

    let labeled = Arc::new(AtomicU64::new(0));
    let started = sim.now();
    let progress = {
        let labeled = labeled.clone();
        let clock = sim.clock();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                eprintln!(
                    "  drain: {} labeled at {:.1} s simulated",
                    labeled.load(Ordering::Relaxed),
                    (clock.now() - started).num_milliseconds() as f64 / 1000.0
                );
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(900);
    let target = opts.backlog_labels as u64;
    let mut workers = Vec::new();
    for w in 0..opts.workers {
        // Each worker is a Lambda instance: its own handler, clients and caches.
        let handler = Arc::new(LabelWorkerHandler::with_clock(
            handler_config.clone(),
            sdk,
            clock.clone(),
        ));
        let source = EventSource::new(sqs.clone(), queue).batch_size(BATCH);
        let labeled = labeled.clone();
        workers.push(async move {
            let mut invocation = 0u64;
            while labeled.load(Ordering::Relaxed) < target && Instant::now() < deadline {
                let pumped = source
                    .pump(
                        |event| {
                            invocation += 1;
                            let (h, l) = (handler.clone(), labeled.clone());
                            let id = format!("bench-{w}-{invocation}");
                            async move {
                                let event =
                                    serde_json::from_value(event).map_err(|e| e.to_string())?;
                                let report = h.handle_jobs(event, &id).await;
                                l.fetch_add(u64::from(report.labeled), Ordering::Relaxed);
                                Ok(report.keep)
                            }
                        },
                        true,
                    )
                    .await?;
                if pumped.messages == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Ok::<(), String>(())
        });
    }
    let results = futures::future::join_all(workers).await;
    progress.abort();
    for r in results {
        r?;
    }
    let sim_s = (sim.now() - started).num_milliseconds() as f64 / 1000.0;
    let done = labeled.load(Ordering::Relaxed);
    if done < target {
        return Err(format!("backlog not drained: {done} of {target}"));
    }
    let stats = sim.stats();
    sim.shutdown().await;
    let calls = |op: &str| stats.total(op) - before.total(op);
    let throttled = |op: &str| stats.count(op, 429) - before.count(op, 429);
    // Amazon's minimum: each operation's burst at once, the rest at its rate; a label takes
    // one getRates and one purchaseShipment, from separate buckets.
    let bound_s = (opts.backlog_labels as f64 - PLAN_BURST).max(0.0) / PLAN_RATE;
    Ok(Drain {
        sim_s,
        bound_s,
        shipping_calls: calls("getRates") + calls("purchaseShipment"),
        throttled: throttled("getRates") + throttled("purchaseShipment"),
        duplicates: stats.duplicate_purchases(),
    })
}
