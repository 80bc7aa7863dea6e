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
    /// What every AWS call is held for in the second pass of the process (a same-region
    /// round trip), for the wall time Lambda bills.
    pub aws_latency_ms: u64,
    /// The Python peer's figures of the same sitting (`make bench-peer`), for the ratios.
    pub peer_figures: Option<std::path::PathBuf>,
    /// The per-order design's figures of the same sitting (`make bench-baseline`), for the
    /// ratios of what batching saves.
    pub baseline_figures: Option<std::path::PathBuf>,
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
            aws_latency_ms: 4,
            peer_figures: None,
            baseline_figures: None,
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
    pub aws_calls_per_order: f64,
    pub aws_calls_by_operation: BTreeMap<String, u64>,
    /// Wall time of a batch of 10 as the function took it (Lambda's billed duration: each
    /// invocation rounded up to the millisecond), AWS answering as moto does, then with every
    /// AWS call held `aws_latency_ms` more.
    pub billed_ms_per_batch: f64,
    pub billed_ms_per_order: f64,
    pub aws_latency_ms: u64,
    pub billed_ms_per_batch_at_latency: f64,
    pub billed_ms_per_order_at_latency: f64,
    pub cpu_us_per_order_at_latency: f64,
    /// The Python peer measured just before, in the same sitting, and its ratios to ours.
    pub peer: Option<PeerRatios>,
    /// The per-order design measured just before, in the same sitting, and ours over it.
    pub baseline: Option<BaselineRatios>,
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
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let runtime = RuntimeApi::start().await?;
    let mut env1 = env.clone();
    env1.push(("AWS_LAMBDA_RUNTIME_API".into(), runtime.url()));
    let mut process = spawn_function(&binary, &env1, &logs.join("order-events.log"))?;
    let pid = process.id().ok_or("order-events has no pid")?;
    let source = EventSource::new(sqs.clone(), stack.queue("notifications"));
    let pass = |latency: Duration, warm_batches: usize| {
        let (sim, sqs, stack, proxy, runtime, source) =
            (&sim, &sqs, &stack, &proxy, &runtime, &source);
        let seller = seller.clone();
        async move {
            proxy.set_latency(latency);
            sim.place_orders(&seller, opts.process_orders);
            sim.deliver_notifications(sqs, stack.queue("notifications"))
                .await?;
            process_pass(pid, proxy, runtime, source, warm_batches).await
        }
    };
    // The first batch warms the process (LWA token, connection pools): not counted.
    let at_once = pass(Duration::ZERO, 1).await?;
    let slowed = pass(Duration::from_millis(opts.aws_latency_ms), 0).await?;
    let (user, sys) = crate::bench::user_sys_ticks(pid).ok_or("no cpu split")?;
    let rss = peak_rss_kib(pid).ok_or("no rss figure")?;
    let _ = process.kill().await;
    let stored = scan_count(&sdk, stack.table("orders")).await?;
    if stored != 2 * opts.process_orders {
        return Err(format!(
            "the process stored {stored} of {} orders",
            2 * opts.process_orders
        ));
    }
    let calls = at_once.calls.clone();
    let orders_counted = at_once.orders;
    let per_order = |prefix: &str| {
        calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| *v)
            .sum::<u64>() as f64
            / orders_counted.max(1) as f64
    };
    let cpu_us_per_order = at_once.cpu_ns as f64 / 1000.0 / orders_counted.max(1) as f64;
    let dynamodb_calls_per_order = per_order("DynamoDB_");
    let kms_calls_per_order = per_order("TrentService.");
    let sqs_calls_per_order = per_order("AmazonSQS.");
    let aws_calls_per_order = per_order("");
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
        binary: binary.display().to_string(),
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
        aws_calls_per_order: round(aws_calls_per_order, 2),
        aws_calls_by_operation: calls,
        billed_ms_per_batch: round(at_once.billed_ms_per_batch(), 2),
        billed_ms_per_order: round(at_once.billed_ms_per_order(), 2),
        aws_latency_ms: opts.aws_latency_ms,
        billed_ms_per_batch_at_latency: round(slowed.billed_ms_per_batch(), 2),
        billed_ms_per_order_at_latency: round(slowed.billed_ms_per_order(), 2),
        cpu_us_per_order_at_latency: round(
            slowed.cpu_ns as f64 / 1000.0 / slowed.orders.max(1) as f64,
            1,
        ),
        peer: match &opts.peer_figures {
            Some(path) => PeerRatios::of(
                path,
                cpu_us_per_order,
                cold_start_ms_median,
                rss,
                aws_calls_per_order,
            )?,
            None => None,
        },
        baseline: match &opts.baseline_figures {
            Some(path) => BaselineRatios::of(
                path,
                aws_calls_per_order,
                cpu_us_per_order,
                at_once.billed_ms_per_order(),
                slowed.billed_ms_per_order(),
            )?,
            None => None,
        },
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

/// One pass of notifications through the process: what it cost after its first
/// `warm_batches`.
struct Pass {
    orders: u64,
    cpu_ns: u64,
    /// Each counted batch's wall time, in milliseconds.
    batch_ms: Vec<f64>,
    calls: BTreeMap<String, u64>,
}

impl Pass {
    /// Lambda bills an invocation's duration rounded up to the millisecond.
    fn billed_ms_per_batch(&self) -> f64 {
        self.batch_ms.iter().map(|ms| ms.ceil()).sum::<f64>() / self.batch_ms.len().max(1) as f64
    }

    fn billed_ms_per_order(&self) -> f64 {
        self.batch_ms.iter().map(|ms| ms.ceil()).sum::<f64>() / self.orders.max(1) as f64
    }
}

async fn process_pass(
    pid: u32,
    proxy: &CountingProxy,
    runtime: &RuntimeApi,
    source: &EventSource,
    warm_batches: usize,
) -> Result<Pass, String> {
    let mut batches = 0;
    let mut cpu_start = None;
    let mut orders = 0u64;
    let batch_ms = Arc::new(std::sync::Mutex::new(Vec::new()));
    proxy.take_counts();
    if warm_batches == 0 {
        cpu_start = cpu_ns(pid);
    }
    source
        .pump(
            |event| {
                batches += 1;
                let n = event["Records"].as_array().map_or(0, |r| r.len()) as u64;
                let counting = batches > warm_batches;
                if counting && cpu_start.is_none() {
                    cpu_start = cpu_ns(pid);
                    proxy.take_counts();
                }
                if counting {
                    orders += n;
                }
                let batch_ms = batch_ms.clone();
                async move {
                    let started = Instant::now();
                    let answer = runtime.invoke(event).await?;
                    if counting {
                        let ms = started.elapsed().as_secs_f64() * 1000.0;
                        batch_ms.lock().expect("lock").push(ms);
                    }
                    Ok(batch_item_failures(&answer))
                }
            },
            false,
        )
        .await?;
    let cpu_end = cpu_ns(pid).ok_or("no cpu figure")?;
    let batch_ms = std::mem::take(&mut *batch_ms.lock().expect("lock"));
    Ok(Pass {
        orders,
        cpu_ns: cpu_end - cpu_start.ok_or("no cpu figure")?,
        batch_ms,
        calls: proxy.take_counts(),
    })
}

/// The Python peer's figures (its driver's last line) and ours over them.
#[derive(Debug, Clone, Serialize)]
pub struct PeerRatios {
    pub peer_cpu_us_per_order: f64,
    pub peer_cold_start_ms_median: f64,
    pub peer_peak_rss_mib: f64,
    pub peer_aws_calls_per_order: f64,
    /// Peer over ours: how many times less CPU, cold start and memory we take.
    pub cpu_ratio: f64,
    pub cold_start_ratio: f64,
    pub rss_ratio: f64,
    pub aws_calls_ratio: f64,
}

impl PeerRatios {
    fn of(
        path: &std::path::Path,
        cpu_us_per_order: f64,
        cold_start_ms: f64,
        rss_kib: u64,
        aws_calls_per_order: f64,
    ) -> Result<Option<Self>, String> {
        let Some(figure) = figures_file(path)? else {
            return Ok(None);
        };
        let rss_mib = rss_kib as f64 / 1024.0;
        let (cpu, cold, rss, calls) = (
            figure("cpu_us_per_order")?,
            figure("cold_start_ms_median")?,
            figure("peak_rss_mib")?,
            figure("aws_calls_per_order")?,
        );
        Ok(Some(Self {
            peer_cpu_us_per_order: cpu,
            peer_cold_start_ms_median: cold,
            peer_peak_rss_mib: rss,
            peer_aws_calls_per_order: calls,
            cpu_ratio: round(cpu / cpu_us_per_order, 2),
            cold_start_ratio: round(cold / cold_start_ms, 1),
            rss_ratio: round(rss / rss_mib, 1),
            aws_calls_ratio: round(calls / aws_calls_per_order, 2),
        }))
    }
}

/// Another run's figures (its last line, one JSON object), if that run left them: each read
/// as a positive number, or an error naming the file and the figure.
fn figures_file(
    path: &std::path::Path,
) -> Result<Option<impl Fn(&str) -> Result<f64, String> + '_>, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let figures: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("{}: not a bench's figures: {e}", path.display()))?;
    Ok(Some(move |k: &str| {
        figures[k]
            .as_f64()
            .filter(|v| *v > 0.0)
            .ok_or_else(|| format!("{}: no {k}", path.display()))
    }))
}

/// The per-order design's figures (`make bench-baseline`: this bench's process part run on
/// that binary) and ours over them.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineRatios {
    pub baseline_aws_calls_per_order: f64,
    pub baseline_cpu_us_per_order: f64,
    pub baseline_billed_ms_per_order: f64,
    pub baseline_billed_ms_per_order_at_latency: f64,
    /// Ours over the baseline's: the share of it we take.
    pub aws_calls_share: f64,
    pub cpu_share: f64,
    pub billed_share: f64,
    pub billed_share_at_latency: f64,
}

impl BaselineRatios {
    fn of(
        path: &std::path::Path,
        aws_calls_per_order: f64,
        cpu_us_per_order: f64,
        billed_ms_per_order: f64,
        billed_ms_per_order_at_latency: f64,
    ) -> Result<Option<Self>, String> {
        let Some(figure) = figures_file(path)? else {
            return Ok(None);
        };
        let (calls, cpu, billed, billed_at_latency) = (
            figure("aws_calls_per_order")?,
            figure("cpu_us_per_order")?,
            figure("billed_ms_per_order")?,
            figure("billed_ms_per_order_at_latency")?,
        );
        Ok(Some(Self {
            baseline_aws_calls_per_order: calls,
            baseline_cpu_us_per_order: cpu,
            baseline_billed_ms_per_order: billed,
            baseline_billed_ms_per_order_at_latency: billed_at_latency,
            aws_calls_share: round(aws_calls_per_order / calls, 2),
            cpu_share: round(cpu_us_per_order / cpu, 2),
            billed_share: round(billed_ms_per_order / billed, 2),
            billed_share_at_latency: round(billed_ms_per_order_at_latency / billed_at_latency, 2),
        }))
    }
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
