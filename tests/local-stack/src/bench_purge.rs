//! `make bench-purge`: `pii-redactor`'s purge throughput. A backlog of orders whose PII is
//! past its date (default 100,000 across four sellers, two sealed items each, as intake
//! leaves them) is seeded into moto; then the release binary, run as one Lambda process with
//! Lambda's 15-minute limit, is invoked with the scheduled event until a run reports itself
//! complete. Measured: orders per second (wall time, against moto on this machine), CPU time
//! of the process per order, DynamoDB calls per order (counted by a proxy in front of moto),
//! peak RSS, and the self-check after the last run.

use crate::bench::{CountingProxy, RuntimeApi, cpu_ns, peak_rss_kib, release_artifact, round};
use crate::moto::Moto;
use crate::resources::{Credentials, provision, scan_all};
use crate::{log_dir, repo_root};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use shared::aws::DynamoOrderStore;
use shared::kernel::{AmazonOrderId, OrderItemId, PiiKind, SellerId, Sku};
use shared::orders::OrderStore;
use shared::orders::{Order, OrderLine, OrderStatus};
use shared::pii::PiiState;
use shared::pii::PiiStatus;
use spapi_sim::SimConfig;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct PurgeBenchOptions {
    pub orders: usize,
    pub sellers: usize,
    /// Each run's time limit (Lambda's timeout; the redactor keeps 30 s of it back).
    pub run_seconds: u64,
}

impl Default for PurgeBenchOptions {
    fn default() -> Self {
        Self {
            orders: 100_000,
            sellers: 4,
            run_seconds: 900,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PurgeFigures {
    pub bench: &'static str,
    pub orders_due: usize,
    pub pii_items_due: usize,
    pub sellers: usize,
    pub seed_s: f64,
    pub runs: u32,
    pub run_seconds: u64,
    pub orders_purged: u64,
    pub pii_items_deleted: u64,
    /// Orders a run could not purge (left for the next run).
    pub failures: u64,
    pub purge_wall_s: f64,
    pub orders_per_s: f64,
    pub cpu_us_per_order: f64,
    pub cpu_sys_share: f64,
    pub peak_rss_mib: f64,
    pub dynamodb_calls_per_order: f64,
    pub aws_calls_by_operation: BTreeMap<String, u64>,
    pub pii_past_due_after: u64,
    pub pii_items_left: usize,
}

/// A business record as intake leaves it: one line, shipped, PII held until `purge_at`.
pub fn order(seller: &SellerId, n: usize, at: DateTime<Utc>) -> Order {
    Order {
        seller_id: seller.clone(),
        order_id: AmazonOrderId::parse(format!("113-{:07}-{:07}", n / 1_000_000, n % 10_000_000))
            .expect("order id"),
        marketplace_id: None,
        status: OrderStatus::Shipped,
        created_at: at,
        last_updated_at: at,
        ship_by: Some(at),
        deliver_by: Some(at),
        service_level: Some("Standard".into()),
        programs: vec![],
        lines: vec![OrderLine {
            order_item_id: OrderItemId::parse(format!("{:014}", n)).expect("item id"),
            sku: Some(Sku::parse(format!("SKU-{}", n % 500)).expect("sku")),
            asin: None,
            title: None,
            quantity_ordered: 1,
            quantity_shipped: 1,
            unit_price: None,
        }],
        packages: vec![],
        delivered_at: None,
        label_blocked: None,
        parcels: vec![],
    }
}

/// A sealed item with the vault's attributes. The redactor never opens one, so random bytes
/// of a realistic size stand in for the data key and ciphertext.
fn sealed_item(
    seller: &SellerId,
    order: &AmazonOrderId,
    kind: &str,
    purge_at: DateTime<Utc>,
    key_arn: &str,
) -> HashMap<String, AttributeValue> {
    let bytes = |n: usize| {
        AttributeValue::B(
            (0..n)
                .map(|_| rand::random::<u8>())
                .collect::<Vec<_>>()
                .into(),
        )
    };
    HashMap::from([
        (
            "seller_order".into(),
            AttributeValue::S(format!("{seller}#{order}")),
        ),
        ("kind".into(), AttributeValue::S(kind.into())),
        ("v".into(), AttributeValue::N("1".into())),
        ("key_id".into(), AttributeValue::S(key_arn.into())),
        ("edk".into(), bytes(184)),
        ("nonce".into(), bytes(12)),
        ("ct".into(), bytes(if kind == "buyer" { 96 } else { 240 })),
        (
            "order_updated_ms".into(),
            AttributeValue::N(purge_at.timestamp_millis().to_string()),
        ),
        (
            "pii_purge_at".into(),
            AttributeValue::N(purge_at.timestamp().to_string()),
        ),
        (
            "sealed_at".into(),
            AttributeValue::S((purge_at - Duration::days(30)).to_rfc3339()),
        ),
    ])
}

async fn seed(
    sdk: &aws_config::SdkConfig,
    orders_table: &str,
    pii_table: &str,
    key_arn: &str,
    sellers: &[SellerId],
    opts: &PurgeBenchOptions,
) -> Result<usize, String> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let store = DynamoOrderStore::new(dynamo.clone(), orders_table);
    let now = Utc::now();
    let due = |n: usize| now - Duration::days(1) - Duration::seconds(n as i64);
    let mut done = 0usize;
    let chunks: Vec<Vec<usize>> = (0..opts.orders)
        .collect::<Vec<_>>()
        .chunks(1_000)
        .map(<[usize]>::to_vec)
        .collect();
    for chunk in chunks {
        // Records through the store (its own layout and index attributes), 32 at a time.
        stream::iter(chunk.iter().copied())
            .map(|n| {
                let store = &store;
                let seller = &sellers[n % sellers.len()];
                async move {
                    let status = PiiStatus {
                        state: PiiState::Held,
                        purge_at: due(n),
                        sealed_kinds: vec![PiiKind::Buyer, PiiKind::Recipient],
                        restricted: None,
                        ship_to_corrected: None,
                    };
                    store
                        .save(&order(seller, n, due(n) - Duration::days(30)), status, None)
                        .await
                        .map_err(|e| e.to_string())
                }
            })
            .buffer_unordered(32)
            .try_collect::<Vec<_>>()
            .await?;
        // Sealed items in batches of 25.
        let items: Vec<WriteRequest> = chunk
            .iter()
            .flat_map(|&n| {
                let seller = &sellers[n % sellers.len()];
                let order = order(seller, n, now).order_id;
                ["buyer", "recipient"].map(|kind| {
                    let put = PutRequest::builder()
                        .set_item(Some(sealed_item(seller, &order, kind, due(n), key_arn)))
                        .build()
                        .expect("put request");
                    WriteRequest::builder().put_request(put).build()
                })
            })
            .collect();
        stream::iter(items.chunks(25).map(<[WriteRequest]>::to_vec))
            .map(|batch| {
                let dynamo = &dynamo;
                async move {
                    let mut pending = batch;
                    while !pending.is_empty() {
                        let out = dynamo
                            .batch_write_item()
                            .request_items(pii_table, pending)
                            .send()
                            .await
                            .map_err(|e| {
                                aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
                            })?;
                        pending = out
                            .unprocessed_items
                            .and_then(|mut u| u.remove(pii_table))
                            .unwrap_or_default();
                    }
                    Ok::<_, String>(())
                }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<_>>()
            .await?;
        done += chunk.len();
        if done.is_multiple_of(10_000) {
            eprintln!("  seeded {done} orders");
        }
    }
    Ok(done * 2)
}

pub async fn run(opts: &PurgeBenchOptions) -> Result<PurgeFigures, String> {
    let (binary, _zip) = release_artifact("pii-redactor")?;
    let logs = log_dir("bench-purge");
    let moto = Moto::start(&logs)?;
    let sdk = moto.sdk_config().await;
    let config = SimConfig::demo(opts.sellers, 0, 7_007);
    let creds = Credentials::of(&config)?;
    let stack = provision(&sdk, "bench-purge", &creds).await?;
    let sellers: Vec<SellerId> = config
        .sellers
        .iter()
        .map(|s| SellerId::parse(s.seller_id.clone()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;

    let seeding = Instant::now();
    let items = seed(
        &sdk,
        stack.table("orders"),
        stack.table("pii"),
        &stack.pii_key_arn,
        &sellers,
        opts,
    )
    .await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    // The redactor as one Lambda process with Lambda's longest timeout, its AWS calls counted.
    let proxy = CountingProxy::start(&moto.endpoint).await?;
    let runtime =
        RuntimeApi::with_timeout(std::time::Duration::from_secs(opts.run_seconds)).await?;
    let mut env = moto.function_env();
    for (k, v) in env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = proxy.url();
        }
    }
    env.extend(stack.pii_redactor_env());
    env.extend(
        [
            ("AWS_LAMBDA_RUNTIME_API", runtime.url()),
            ("AWS_LAMBDA_FUNCTION_NAME", "pii-redactor".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut process = crate::bench::spawn_function(&binary, &env, &logs.join("pii-redactor.log"))?;
    let pid = process.id().ok_or("pii-redactor has no pid")?;
    let schedule: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("events/pii-redactor/purge.json"))
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;

    proxy.take_counts();
    let cpu_start = cpu_ns(pid);
    let started = Instant::now();
    let mut runs = 0;
    let (mut purged, mut deleted, mut failures, mut past_due) = (0u64, 0u64, 0u64, None);
    while runs < 100 {
        runs += 1;
        let report = tokio::select! {
            report = runtime.invoke(schedule.clone()) => report?,
            exit = process.wait() => {
                return Err(format!("pii-redactor exited ({exit:?}); see its log in {}", logs.display()));
            }
        };
        if report.get("errorType").is_some() {
            return Err(format!("purge run failed: {report}"));
        }
        purged += report["orders_purged"].as_u64().unwrap_or(0)
            + report["stragglers_purged"].as_u64().unwrap_or(0);
        deleted += report["pii_items_deleted"].as_u64().unwrap_or(0);
        failures += report["failures"].as_u64().unwrap_or(0);
        eprintln!(
            "  run {runs}: {} orders purged, complete {}",
            report["orders_purged"], report["complete"]
        );
        if report["complete"] == true {
            past_due = report["pii_past_due"].as_u64();
            break;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu_end = cpu_ns(pid).ok_or("no cpu figure")?;
    let (user, sys) = crate::bench::user_sys_ticks(pid).ok_or("no cpu split")?;
    let rss = peak_rss_kib(pid).ok_or("no rss figure")?;
    let calls = proxy.take_counts();
    let _ = process.kill().await;
    let left = scan_all(&aws_sdk_dynamodb::Client::new(&sdk), stack.table("pii"))
        .await?
        .len();
    let per_order = |v: f64| v / purged.max(1) as f64;
    let dynamodb: u64 = calls
        .iter()
        .filter(|(k, _)| k.starts_with("DynamoDB_"))
        .map(|(_, v)| *v)
        .sum();
    Ok(PurgeFigures {
        bench: "pii-redactor purge",
        orders_due: opts.orders,
        pii_items_due: items,
        sellers: opts.sellers,
        seed_s: round(seed_s, 1),
        runs,
        run_seconds: opts.run_seconds,
        orders_purged: purged,
        pii_items_deleted: deleted,
        failures,
        purge_wall_s: round(wall, 1),
        orders_per_s: round(purged as f64 / wall, 1),
        cpu_us_per_order: round(
            per_order((cpu_end - cpu_start.ok_or("no cpu figure")?) as f64 / 1000.0),
            1,
        ),
        cpu_sys_share: round(sys as f64 / (user + sys).max(1) as f64, 2),
        peak_rss_mib: round(rss as f64 / 1024.0, 1),
        dynamodb_calls_per_order: round(per_order(dynamodb as f64), 2),
        aws_calls_by_operation: calls,
        pii_past_due_after: past_due.ok_or("no run completed in 100 runs")?,
        pii_items_left: left,
    })
}
