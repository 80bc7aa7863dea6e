//! `make bench`: `order-events` measured two ways.
//!
//! 1. The release binary (`cargo lambda build --release`, the deploy artifact) as one Lambda
//!    process against moto and the simulator: cold start (exec to its first Runtime API poll),
//!    CPU time per order and peak RSS over a backlog handed over in batches of 10, and the
//!    AWS calls per order, counted by a proxy in front of moto. The simulator's usage plans are
//!    raised for this part so that the process, not the quota, is what is measured.
//! 2. A 1,000-order backlog for one seller at the official `getOrder` plan (0.5/s, burst 30)
//!    on a sped-up clock shared by simulator and suite, drained by four concurrent workers as
//!    Lambda's event source mapping would run them: drain time against the quota-bound
//!    minimum, and the 429s Amazon answered.

use crate::bench::{
    CountingProxy, RuntimeApi, cold_starts, cpu_ns, peak_rss_kib, process_env, release_artifact,
    round, spawn_function,
};
use crate::log_dir;
use crate::moto::Moto;
use crate::queues::{EventSource, batch_item_failures};
use crate::resources::{Credentials, provision, scan_all};
use serde::Serialize;
use shared::lambda::Env;
use shared::lambda::order_events::OrderEventsHandler;
use shared::lambda::order_events::config::OrderEventsConfig;
use spapi_sim::{SimConfig, SimHandle, Simulator};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Orders handed to the release binary.
    pub process_orders: usize,
    pub cold_starts: usize,
    /// Orders in the quota-bound backlog.
    pub backlog_orders: usize,
    pub clock_speed: f64,
    pub workers: usize,
    /// Measure the process only (looking into CPU).
    pub skip_drain: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            process_orders: 1000,
            cold_starts: 7,
            backlog_orders: 1000,
            // Simulated seconds per real second. Faster than 10x, the local stack itself (moto,
            // the in-process workers on two cores) cannot keep up with the plan's rate and the
            // figure measures the harness instead of the budget.
            clock_speed: 10.0,
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
    pub process_orders: usize,
    pub cpu_us_per_order: f64,
    /// Of which in the kernel (syscalls, scheduling), from /proc/<pid>/stat.
    pub cpu_sys_share: f64,
    pub peak_rss_mib: f64,
    pub dynamodb_calls_per_order: f64,
    pub kms_calls_per_order: f64,
    pub sqs_calls_per_order: f64,
    pub aws_calls_by_operation: BTreeMap<String, u64>,
    pub backlog_orders: usize,
    pub clock_speed: f64,
    pub workers: usize,
    pub drain_sim_s: f64,
    pub quota_bound_sim_s: f64,
    pub drain_share_of_quota_bound: f64,
    pub get_order_calls: u64,
    pub throttled_429: u64,
    pub throttled_per_100_requests: f64,
    pub messages_received: u64,
}

pub async fn run(opts: &BenchOptions) -> Result<Figures, String> {
    let (binary, zip_bytes) = release_artifact("order-events")?;
    let logs = log_dir("bench");
    let moto = Moto::start(&logs)?;
    let sdk = moto.sdk_config().await;

    // Part 1: the process.
    let mut config = SimConfig::demo(1, 0, 424_242);
    config.rate_scale = 1000.0;
    let sim = Simulator::start(config.clone(), "127.0.0.1:0".parse().expect("address"))
        .await
        .map_err(|e| e.to_string())?;
    let stack = provision(&sdk, "bench-process", &Credentials::of(&config)?).await?;
    let proxy = CountingProxy::start(&moto.endpoint).await?;
    let env = process_env(
        moto.function_env(),
        &proxy.url(),
        stack.order_events_env(&sim.base_url(), &sim.lwa_token_url()),
        "order-events",
    );

    let (cold, cold_start_ms_median) =
        cold_starts(&binary, &env, &logs, opts.cold_starts, "order-events").await?;

    let seller = config.sellers[0].seller_id.clone();
    sim.place_orders(&seller, opts.process_orders);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    sim.deliver_notifications(&sqs, stack.queue("notifications"))
        .await?;
    let runtime = RuntimeApi::start().await?;
    let mut env1 = env.clone();
    env1.push(("AWS_LAMBDA_RUNTIME_API".into(), runtime.url()));
    let mut process = spawn_function(&binary, &env1, &logs.join("order-events.log"))?;
    let pid = process.id().ok_or("order-events has no pid")?;
    // The first batch warms the process (LWA token, connection pools): not counted.
    let source = EventSource::new(sqs.clone(), stack.queue("notifications"));
    let mut batches = 0;
    let mut cpu_start = None;
    let mut orders_counted = 0u64;
    proxy.take_counts();
    source
        .pump(
            |event| {
                batches += 1;
                let n = event["Records"].as_array().map_or(0, |r| r.len()) as u64;
                let counting = batches > 1;
                if counting && cpu_start.is_none() {
                    cpu_start = cpu_ns(pid);
                    proxy.take_counts();
                }
                if counting {
                    orders_counted += n;
                }
                let runtime = &runtime;
                async move { Ok(batch_item_failures(&runtime.invoke(event).await?)) }
            },
            false,
        )
        .await?;
    let cpu_end = cpu_ns(pid).ok_or("no cpu figure")?;
    let (user, sys) = crate::bench::user_sys_ticks(pid).ok_or("no cpu split")?;
    let rss = peak_rss_kib(pid).ok_or("no rss figure")?;
    let calls = proxy.take_counts();
    let _ = process.kill().await;
    let stored = scan_count(&sdk, stack.table("orders")).await?;
    if stored != opts.process_orders {
        return Err(format!(
            "the process stored {stored} of {} orders",
            opts.process_orders
        ));
    }
    let per_order = |prefix: &str| {
        calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| *v)
            .sum::<u64>() as f64
            / orders_counted.max(1) as f64
    };
    let cpu_us_per_order = (cpu_end - cpu_start.ok_or("no cpu figure")?) as f64
        / 1000.0
        / orders_counted.max(1) as f64;
    let dynamodb_calls_per_order = per_order("DynamoDB_");
    let kms_calls_per_order = per_order("TrentService.");
    let sqs_calls_per_order = per_order("AmazonSQS.");
    sim.shutdown().await;

    // Part 2: the quota-bound backlog.
    let drain = if opts.skip_drain {
        Drain {
            sim_s: f64::NAN,
            bound_s: f64::NAN,
            get_order_calls: 0,
            throttled: 0,
            messages: 0,
        }
    } else {
        drain_backlog(opts, &sdk).await?
    };

    Ok(Figures {
        bench: "order-events",
        binary: "target/lambda/order-events/bootstrap.zip (cargo lambda build --release, x86_64)"
            .into(),
        zip_bytes,
        cold_start_ms_median: round(cold_start_ms_median, 2),
        cold_start_ms_runs: cold.iter().map(|c| round(*c, 2)).collect(),
        process_orders: orders_counted as usize,
        cpu_us_per_order: round(cpu_us_per_order, 1),
        cpu_sys_share: round(sys as f64 / (user + sys).max(1) as f64, 2),
        peak_rss_mib: round(rss as f64 / 1024.0, 1),
        dynamodb_calls_per_order: round(dynamodb_calls_per_order, 2),
        kms_calls_per_order: round(kms_calls_per_order, 2),
        sqs_calls_per_order: round(sqs_calls_per_order, 2),
        aws_calls_by_operation: calls,
        backlog_orders: opts.backlog_orders,
        clock_speed: opts.clock_speed,
        workers: opts.workers,
        drain_sim_s: round(drain.sim_s, 1),
        quota_bound_sim_s: round(drain.bound_s, 1),
        drain_share_of_quota_bound: round(drain.bound_s / drain.sim_s, 3),
        get_order_calls: drain.get_order_calls,
        throttled_429: drain.throttled,
        throttled_per_100_requests: round(
            100.0 * drain.throttled as f64 / drain.get_order_calls.max(1) as f64,
            2,
        ),
        messages_received: drain.messages,
    })
}

async fn scan_count(sdk: &aws_config::SdkConfig, table: &str) -> Result<usize, String> {
    Ok(scan_all(&aws_sdk_dynamodb::Client::new(sdk), table)
        .await?
        .len())
}

/// One batch through an in-process handler, as the event source mapping hands it over.
async fn handle(
    handler: Arc<OrderEventsHandler>,
    processed: Arc<AtomicU64>,
    event: serde_json::Value,
) -> Result<Vec<String>, String> {
    let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
    let report = handler.handle_records(event).await;
    processed.fetch_add(u64::from(report.notifications_processed), Ordering::Relaxed);
    Ok(report.keep)
}

struct Drain {
    sim_s: f64,
    bound_s: f64,
    get_order_calls: u64,
    throttled: u64,
    messages: u64,
}

/// Only the backlog part, for looking into the budget (`BENCH_ONLY=drain`).
pub async fn run_drain(opts: &BenchOptions) -> Result<(f64, f64, u64, u64), String> {
    let moto = Moto::start(&log_dir("bench"))?;
    let sdk = moto.sdk_config().await;
    let d = drain_backlog(opts, &sdk).await?;
    Ok((d.sim_s, d.bound_s, d.throttled, d.messages))
}

async fn drain_backlog(opts: &BenchOptions, sdk: &aws_config::SdkConfig) -> Result<Drain, String> {
    let mut config = SimConfig::demo(1, 0, 777);
    config.clock_speed = opts.clock_speed;
    let sim: SimHandle = Simulator::start(config.clone(), "127.0.0.1:0".parse().expect("address"))
        .await
        .map_err(|e| e.to_string())?;
    let stack = provision(sdk, "bench-backlog", &Credentials::of(&config)?).await?;
    let env = stack.order_events_env(&sim.base_url(), &sim.lwa_token_url());
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let handler_config =
        OrderEventsConfig::from_env(&Env::from_pairs(pairs)).map_err(|e| e.to_string())?;
    let clock = Arc::new(crate::SimTime(sim.clock()));
    let seller = config.sellers[0].seller_id.clone();
    sim.place_orders(&seller, opts.backlog_orders);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    sim.deliver_notifications(&sqs, stack.queue("notifications"))
        .await?;

    let processed = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let started = sim.now();
    let progress = {
        let processed = processed.clone();
        let clock = sim.clock();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                eprintln!(
                    "  drain: {} processed at {:.0} s simulated",
                    processed.load(Ordering::Relaxed),
                    (clock.now() - started).num_milliseconds() as f64 / 1000.0
                );
            }
        })
    };
    let deadline = Instant::now()
        + Duration::from_secs_f64(
            4.0 * (opts.backlog_orders as f64 / 0.5) / opts.clock_speed + 120.0,
        );
    let mut workers = Vec::new();
    for _ in 0..opts.workers {
        // Each worker is a Lambda instance: its own handler, clients and caches.
        let handler = Arc::new(OrderEventsHandler::with_clock(
            handler_config.clone(),
            sdk,
            clock.clone(),
        ));
        let source = EventSource::new(sqs.clone(), stack.queue("notifications"));
        let processed = processed.clone();
        let received = received.clone();
        let target = opts.backlog_orders as u64;
        // Joined, not spawned: the handler's batch future borrows across its stream.
        workers.push(async move {
            while processed.load(Ordering::Relaxed) < target && Instant::now() < deadline {
                let (h, p) = (handler.clone(), processed.clone());
                let pumped = source
                    .pump(move |event| handle(h.clone(), p.clone(), event), false)
                    .await?;
                received.fetch_add(u64::from(pumped.messages), Ordering::Relaxed);
                if pumped.messages == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Ok::<(), String>(())
        });
    }
    let results = futures::future::join_all(workers).await;
    progress.abort();
    for result in results {
        result?;
    }
    let sim_s = (sim.now() - started).num_milliseconds() as f64 / 1000.0;
    let done = processed.load(Ordering::Relaxed);
    if done < opts.backlog_orders as u64 {
        return Err(format!(
            "backlog not drained: {done} of {}",
            opts.backlog_orders
        ));
    }
    let stats = sim.stats();
    sim.shutdown().await;
    // Amazon's minimum: the burst at once, the rest at the plan's rate.
    let bound_s = (opts.backlog_orders.saturating_sub(30)) as f64 / 0.5;
    Ok(Drain {
        sim_s,
        bound_s,
        get_order_calls: stats.total("getOrder"),
        throttled: stats.count("getOrder", 429),
        messages: received.load(Ordering::Relaxed),
    })
}
