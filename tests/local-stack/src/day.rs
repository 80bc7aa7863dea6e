//! One day of the suite on the local stack, through the real function binaries under the
//! Runtime API emulator: a morning catch-up sweep (`order-sync`) of what Amazon already has;
//! the day's orders placed, canceled, shipped and delivered, their `ORDER_CHANGE`
//! notifications arriving late, twice or never on the notifications queue and handed to
//! `order-events` as Lambda's event source mapping would; an evening sweep that recovers what
//! never arrived. Then the night, after time travel: `pii-redactor` (on a clock 60 days
//! ahead) carries out deletion requests and purges every PII item past its date, and
//! `audit-report` reads it all back (KMS opens from the CloudTrail stand-in, the audit log,
//! the confirmations). Between day and night the warehouse packs and ships part of the open
//! orders through `label-worker` and `shipment-tracker` (see `packing`); stock is received in
//! the morning and follows the orders through `stock-sync` (see `stocking`). Last, a check of
//! what landed and of every log file for leaked PII.

use crate::functions::{FunctionHost, Invocation, Invoker};
use crate::moto::Moto;
use crate::queues::{EventSource, batch_item_failures};
use crate::resources::{Credentials, Provisioned, provision, scan_all};
use crate::trail::TrailStandIn;
use crate::{log_dir, repo_root};
use serde::Serialize;
use shared::api::Role;
use spapi_sim::{DeliveryKnobs, OrderEvent, SimConfig, SimHandle, Simulator};
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
    "order_updated_ms",
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
    /// Orders each seller receives during the day (announced by notification).
    pub new_orders_per_seller: usize,
    pub delivery: DeliveryKnobs,
    /// After the day, keep the API served (its URL and a token per role printed) until
    /// Ctrl-C.
    pub hold_api: bool,
}

impl Default for DayOptions {
    fn default() -> Self {
        Self {
            run_name: "run".into(),
            sellers: 4,
            orders_per_seller: 75,
            page_size: 25,
            seed: 20261122,
            new_orders_per_seller: 12,
            delivery: DeliveryKnobs {
                duplicate_share: 0.2,
                copies: 2,
                drop_share: 0.1,
                shuffle: true,
            },
            hold_api: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DaySummary {
    pub sellers: usize,
    pub orders_seeded: usize,
    pub orders_at_amazon: usize,
    pub orders_ingested: usize,
    pub orders_ingested_by_morning_sweep: u64,
    pub order_changes_during_day: usize,
    pub notifications_published: u64,
    pub notifications_delivered: usize,
    pub notifications_dropped: u64,
    pub notifications_processed: u64,
    pub duplicate_notifications_ignored: u64,
    pub notifications_dead_lettered: u64,
    pub notifications_deferred: u64,
    pub orders_recovered_by_evening_sweep: u64,
    /// Stock, from the ledger at the end of the day (orders per kind of movement), and what
    /// `stock-sync` pushed; SKUs whose quantity at Amazon differs from the computed one (0).
    pub stock_reservations: usize,
    pub stock_releases: usize,
    pub stock_picks: usize,
    pub stock_shipments: usize,
    pub stock_movements: u64,
    pub stock_pushes: u64,
    pub low_stock_alerts: u64,
    pub stock_mismatches: u64,
    pub stock_messages_dead_lettered: u64,
    pub get_order_calls: u64,
    pub throttled_requests: u64,
    pub orders_with_pii_held: usize,
    pub pii_sealed: usize,
    pub pii_items_with_readable_attributes: usize,
    pub invocations: usize,
    pub search_orders_calls: u64,
    pub lwa_token_calls: u64,
    /// The warehouse's part, as Amazon (the simulator) counts it: labels sold, labels voided,
    /// own-carrier packages confirmed, labels beyond one live label per package (must be 0);
    /// label jobs given up (the DLQ); parcels on the tracker's watch after the void.
    pub labels_purchased: u64,
    pub labels_voided: u64,
    pub shipments_confirmed: u64,
    pub duplicate_purchases: u64,
    pub label_jobs_dead_lettered: usize,
    pub parcels_tracked: u64,
    /// The floor through the staff API: orders packed (label job sent), own-carrier orders the
    /// API then shows shipped, PII reads on the audit log by staff (one per ship-to or label
    /// answered), requests refused for the caller's role, and answers to roles without PII
    /// rights that carried a seeded PII value (must be 0).
    pub api_requests: u64,
    pub api_orders_packed: u64,
    pub api_orders_shipped: u64,
    pub api_pii_answers: u64,
    pub api_pii_reads_audited: u64,
    pub api_requests_refused_by_role: u64,
    pub api_pii_leaks: u64,
    /// Answers the floor did not expect: must be empty.
    pub api_unexpected: Vec<String>,
    /// The night, 60 days on: orders whose PII the redactor purged (retention).
    pub pii_purged: u64,
    /// The redactor's self-check after its run: PII items still past their date. Must be 0.
    pub pii_past_due: u64,
    /// Deletion requests (one order, one seller's offboarding) confirmed, as the audit report
    /// reads the confirmations back.
    pub deletion_requests_completed: u64,
    /// Sealed PII items left after the night (a raw scan).
    pub pii_items_after_purge: usize,
    /// The audit report of the whole run: KMS opens of the PII key CloudTrail recorded, and
    /// purges it lists.
    pub audit_report_pii_opens: u64,
    pub audit_report_purges: u64,
    /// The same report asked by an auditor over the staff API: the job's status once
    /// `audit-report` worked its queue (`ready`), the size of the report its link downloaded,
    /// and whether its totals are the direct report's.
    pub api_audit_report_status: String,
    pub api_audit_report_bytes: u64,
    pub api_audit_report_matches_direct: bool,
    pub pii_values_checked: usize,
    pub pii_values_found_in_logs: usize,
    pub log_files: Vec<String>,
    pub elapsed_s: f64,
}

fn sim_config(opts: &DayOptions) -> SimConfig {
    SimConfig::demo(opts.sellers, opts.orders_per_seller, opts.seed)
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
    // KMS and CloudTrail of every function go through the stand-in: it records each KMS call
    // as CloudTrail would, for the audit report.
    let trail = TrailStandIn::start(&moto.endpoint).await?;
    let config = sim_config(opts);
    let creds = Credentials::of(&config)?;
    let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("loopback address"))
        .await
        .map_err(|e| format!("starting the SP-API simulator: {e}"))?;
    let prefix = format!("fbm-{}", opts.run_name);
    let stack = provision(&sdk, &prefix, &creds).await?;

    let mut base_env = moto.function_env();
    base_env.extend(trail.function_env());
    let mut env = base_env.clone();
    env.extend(stack.order_sync_env(&sim.base_url(), &sim.lwa_token_url()));
    env.extend(
        [
            ("SYNC_PAGE_SIZE", opts.page_size.to_string()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut events_env = env.clone();
    events_env.extend(stack.order_events_env(&sim.base_url(), &sim.lwa_token_url()));
    let mut host = FunctionHost::start(&logs)?;
    host.start_function("order-sync", &env)?;
    host.start_function("order-events", &events_env)?;
    let mut label_env = env.clone();
    label_env.extend(stack.label_worker_env(&sim.base_url(), &sim.lwa_token_url()));
    host.start_function("label-worker", &label_env)?;
    let mut tracker_env = env.clone();
    tracker_env.extend(stack.shipment_tracker_env(&sim.base_url(), &sim.lwa_token_url()));
    host.start_function("shipment-tracker", &tracker_env)?;
    let mut stock_env = base_env.clone();
    stock_env.extend(stack.stock_sync_env(&sim.base_url(), &sim.lwa_token_url()));
    stock_env.extend(
        [
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    host.start_function("stock-sync", &stock_env)?;
    let mut api_env = base_env.clone();
    api_env.extend(stack.api_env());
    api_env.extend(
        [
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    host.start_function("api", &api_env)?;
    let gateway = crate::gateway::Gateway::start(host.invoker(), "api").await?;
    let seller_ids: Vec<String> = sim_config(opts)
        .sellers
        .iter()
        .map(|s| s.seller_id.clone())
        .collect();
    let run_started = chrono::Utc::now();
    let result = async {
        let received = crate::stocking::morning(&host, &sim, &seller_ids).await?;
        let mut day = the_day(&mut host, &sdk, &stack, &sim, opts).await?;
        day.packing = crate::packing::pack_and_ship(&host, &gateway, &sdk, &stack, &sim).await?;
        day.stock =
            crate::stocking::evening(&host, &sdk, &stack, &sim, &seller_ids, &logs, received)
                .await?;
        // What the day left, counted before the night purges it.
        let summary = inspect(&sdk, &stack, &sim, opts).await?;
        let pii = sim.seeded_pii_values();
        let night = the_night(
            &mut host,
            &gateway,
            &pii,
            &sdk,
            &stack,
            &base_env,
            run_started,
            &logs,
        )
        .await?;
        if opts.hold_api {
            hold(&gateway).await;
        }
        Ok::<_, String>((day, summary, night))
    }
    .await;
    host.stop();
    let (day, mut summary, night) = result?;
    summary.pii_purged = night.pii_purged;
    summary.pii_past_due = night.pii_past_due;
    summary.deletion_requests_completed = night.deletion_requests_completed;
    summary.audit_report_pii_opens = night.audit_report_pii_opens;
    summary.audit_report_purges = night.audit_report_purges;
    summary.api_audit_report_status = night.api_audit_report_status;
    summary.api_audit_report_bytes = night.api_audit_report_bytes;
    summary.api_audit_report_matches_direct = night.api_audit_report_matches_direct;
    summary.pii_items_after_purge =
        scan_all(&aws_sdk_dynamodb::Client::new(&sdk), stack.table("pii"))
            .await?
            .len();
    let (log_files, pii_values, found) = scan_logs(&logs, &sim.seeded_pii_values())?;
    summary.log_files = log_files;
    summary.pii_values_checked = pii_values;
    summary.pii_values_found_in_logs = found;
    summary.invocations = day.sweep_invocations;
    summary.orders_ingested_by_morning_sweep = day.morning_stored;
    summary.orders_recovered_by_evening_sweep = day.evening_stored;
    summary.order_changes_during_day = day.changes;
    summary.notifications_delivered = day.delivered;
    summary.labels_purchased = day.packing.labels_purchased;
    summary.labels_voided = day.packing.labels_voided;
    summary.shipments_confirmed = day.packing.shipments_confirmed;
    summary.duplicate_purchases = day.packing.duplicate_purchases;
    summary.label_jobs_dead_lettered = day.packing.label_jobs_dead_lettered;
    summary.parcels_tracked = day.packing.parcels_tracked;
    let floor = &day.packing.station;
    summary.api_requests = floor.api_requests;
    summary.api_orders_packed = floor.api_orders_packed;
    summary.api_orders_shipped = floor.api_orders_shipped;
    summary.api_pii_answers = floor.api_pii_answers;
    summary.api_requests_refused_by_role = floor.api_requests_refused_by_role;
    summary.api_pii_leaks = floor.api_pii_leaks;
    summary.api_unexpected = floor.api_unexpected.clone();
    // The auditor's requests count with the floor's (a PII value in a report would be a leak).
    let report = &night.api_report;
    summary.api_requests += report.api_requests;
    summary.api_pii_leaks += report.api_pii_leaks;
    summary.api_requests_refused_by_role += report.api_requests_refused_by_role;
    summary
        .api_unexpected
        .extend(report.api_unexpected.iter().cloned());
    summary.api_pii_reads_audited = staff_pii_reads(&sdk, &stack, run_started).await?;
    let batches = batch_figures(&logs.join("order-events.log"))?;
    summary.notifications_processed = batches["notifications_processed"];
    summary.duplicate_notifications_ignored = batches["duplicate_notifications_ignored"];
    summary.notifications_dead_lettered = batches["dead_lettered"];
    summary.notifications_deferred = batches["deferred"];
    let stock = &day.stock;
    summary.stock_reservations = stock.stock_reservations;
    summary.stock_releases = stock.stock_releases;
    summary.stock_picks = stock.stock_picks;
    summary.stock_shipments = stock.stock_shipments;
    summary.stock_movements = stock.stock_movements;
    summary.stock_pushes = stock.stock_pushes;
    summary.low_stock_alerts = stock.low_stock_alerts;
    summary.stock_mismatches = stock.stock_mismatches;
    summary.stock_messages_dead_lettered = stock.stock_messages_dead_lettered;
    summary.elapsed_s = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    sim.shutdown().await;
    Ok(summary)
}

/// PII reads by staff on the audit log since the run started.
async fn staff_pii_reads(
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<u64, String> {
    use shared::kernel::{AuditKind, AuditLog};
    let audit =
        shared::aws::DynamoAuditLog::new(aws_sdk_dynamodb::Client::new(sdk), stack.table("audit"));
    let events = audit
        .between(
            since - chrono::Duration::hours(1),
            chrono::Utc::now() + chrono::Duration::days(90),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(events
        .iter()
        .filter(|e| e.kind == AuditKind::PiiRead && e.actor.starts_with("staff:"))
        .count() as u64)
}

/// Serve the API until Ctrl-C, its URL and a token per role on stderr.
async fn hold(gateway: &crate::gateway::Gateway) {
    eprintln!("staff API: {}", gateway.url());
    for role in shared::api::Role::ALL {
        eprintln!(
            "  {:<10} TOKEN={}",
            role.name(),
            gateway.token(&format!("{}-1", role.name()), &[role])
        );
    }
    eprintln!("serving until Ctrl-C");
    let _ = tokio::signal::ctrl_c().await;
}

struct DayFigures {
    packing: crate::packing::PackingFigures,
    stock: crate::stocking::StockFigures,
    sweep_invocations: usize,
    morning_stored: u64,
    evening_stored: u64,
    changes: usize,
    delivered: usize,
}

async fn the_day(
    host: &mut FunctionHost,
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    sim: &SimHandle,
    opts: &DayOptions,
) -> Result<DayFigures, String> {
    let event = read_event("events/order-sync/scheduled.json")?;
    let (morning_invocations, morning_stored) = sweep(host, &event).await?;

    // The day. Changes are stamped five minutes before they are announced: notifications
    // arrive late, and the evening sweep (which reads up to two minutes ago) sees them all.
    sim.set_change_lag(chrono::Duration::minutes(5));
    sim.set_delivery(opts.delivery.clone());
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = stack.queue("notifications");
    let sellers = sim_config(opts).sellers;
    // Morning: new orders come in.
    let mut changes = 0;
    let mut placed = Vec::new();
    for seller in &sellers {
        let ids = sim.place_orders(&seller.seller_id, opts.new_orders_per_seller);
        changes += ids.len();
        placed.push(ids);
    }
    let mut delivered = sim.deliver_notifications(&sqs, queue).await?.bodies.len();
    pump_notifications(host.invoker(), &sqs, queue).await?;
    // Afternoon: buyers cancel some, the warehouse ships others, parcels arrive.
    for (seller, placed) in sellers.iter().zip(&placed) {
        let id = &seller.seller_id;
        let events = placed
            .iter()
            .take(2)
            .map(|o| (o.clone(), OrderEvent::Cancel))
            .chain(
                placed
                    .iter()
                    .skip(2)
                    .take(3)
                    .map(|o| (o.clone(), OrderEvent::Ship)),
            )
            .chain(
                sim.orders_in(id, "SHIPPED")
                    .into_iter()
                    .take(2)
                    .map(|o| (o, OrderEvent::Deliver)),
            )
            .collect::<Vec<_>>();
        for (order, event) in events {
            changes += usize::from(sim.change_order(id, &order, event));
        }
    }
    delivered += sim.deliver_notifications(&sqs, queue).await?.bodies.len();
    pump_notifications(host.invoker(), &sqs, queue).await?;

    let (evening_invocations, evening_stored) = sweep(host, &event).await?;
    Ok(DayFigures {
        packing: Default::default(),
        stock: Default::default(),
        sweep_invocations: morning_invocations + evening_invocations,
        morning_stored,
        evening_stored,
        changes,
        delivered,
    })
}

/// How far the night jumps: past every purge date the day's orders can have.
const TIME_TRAVEL: chrono::Duration = chrono::Duration::days(60);

struct NightFigures {
    pii_purged: u64,
    pii_past_due: u64,
    deletion_requests_completed: u64,
    audit_report_pii_opens: u64,
    audit_report_purges: u64,
    api_report: crate::station::StationFigures,
    api_audit_report_status: String,
    api_audit_report_bytes: u64,
    api_audit_report_matches_direct: bool,
}

/// The night, on a clock [`TIME_TRAVEL`] ahead: deletion requests (one order, the last
/// seller's offboarding) through the deletion-requests queue to the real `pii-redactor`, a
/// scheduled purge run, then `audit-report` over the whole run, written next to the logs as
/// `audit-report.json` and `audit-report.csv`; then the same report as an auditor asks for it
/// over the staff API, made from its queue, downloaded by its link (`audit-report-api.json`).
#[allow(clippy::too_many_arguments)]
async fn the_night(
    host: &mut FunctionHost,
    gateway: &crate::gateway::Gateway,
    pii: &[String],
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    base_env: &[(String, String)],
    run_started: chrono::DateTime<chrono::Utc>,
    logs: &std::path::Path,
) -> Result<NightFigures, String> {
    let mut env = base_env.to_vec();
    env.extend(
        [
            (
                "LOCAL_CLOCK_OFFSET_SECONDS",
                TIME_TRAVEL.num_seconds().to_string(),
            ),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut redactor_env = env.clone();
    redactor_env.extend(stack.pii_redactor_env());
    host.start_function("pii-redactor", &redactor_env)?;
    let mut report_env = env;
    report_env.extend(stack.audit_report_env());
    host.start_function("audit-report", &report_env)?;

    // Deletion requests: one order of the first seller holding PII, and the last seller.
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sealed = scan_all(&dynamo, stack.table("pii")).await?;
    let mut keys: Vec<String> = sealed
        .iter()
        .filter_map(|i| i.get("seller_order")?.as_s().ok().cloned())
        .collect();
    keys.sort();
    let first = keys.first().ok_or("no sealed PII after the day")?;
    let (seller, order) = first.split_once('#').ok_or("malformed seller_order")?;
    let last_seller = keys
        .last()
        .and_then(|k| k.split_once('#'))
        .map(|(s, _)| s)
        .filter(|s| *s != seller)
        .ok_or("a second seller holding PII")?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = stack.queue("deletion-requests");
    for body in [
        serde_json::json!({"request_id": "local-buyer-request-1", "scope": "order", "seller_id": seller, "order_id": order, "requested_by": "privacy-desk"}),
        serde_json::json!({"request_id": "local-offboarding-1", "scope": "seller", "seller_id": last_seller, "requested_by": "operator"}),
    ] {
        sqs.send_message()
            .queue_url(queue)
            .message_body(body.to_string())
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    }
    pump_to(
        &host.invoker(),
        &EventSource::new(sqs.clone(), queue),
        "pii-redactor",
    )
    .await?;

    // The scheduled purge run, until a run reports itself complete.
    let schedule = read_event("events/pii-redactor/purge.json")?;
    let mut pii_purged = 0;
    let mut pii_past_due = None;
    for _ in 0..5 {
        match host.invoke("pii-redactor", &schedule).await? {
            Invocation::Ok(run) => {
                pii_purged += run["orders_purged"].as_u64().unwrap_or(0)
                    + run["stragglers_purged"].as_u64().unwrap_or(0);
                if run["complete"] == true {
                    pii_past_due = run["pii_past_due"].as_u64();
                    break;
                }
            }
            Invocation::FunctionError {
                error_type,
                message,
            } => {
                return Err(format!(
                    "pii-redactor purge run failed: {error_type}: {message}"
                ));
            }
        }
    }
    let pii_past_due = pii_past_due.ok_or("the purge run never completed in 5 runs")?;

    // The auditor's view of the whole run.
    let range = serde_json::json!({
        "from": run_started - chrono::Duration::hours(1),
        "to": chrono::Utc::now() + TIME_TRAVEL + chrono::Duration::days(1),
    });
    let mut report = serde_json::Value::Null;
    for format in ["json", "csv"] {
        let mut request = range.clone();
        request["format"] = format.into();
        let answer = match host.invoke("audit-report", &request).await? {
            Invocation::Ok(answer) => answer,
            Invocation::FunctionError {
                error_type,
                message,
            } => return Err(format!("audit-report failed: {error_type}: {message}")),
        };
        let file = logs.join(format!("audit-report.{format}"));
        let text = match format {
            "csv" => answer["body"].as_str().unwrap_or_default().to_owned(),
            _ => serde_json::to_string_pretty(&answer).map_err(|e| e.to_string())?,
        };
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        if format == "json" {
            report = answer;
        }
    }
    let total = |k: &str| report["totals"][k].as_u64().unwrap_or(0);

    // The auditor's way: asked over the API, made by audit-report from its queue.
    let mut auditor = crate::station::Station::new(gateway, pii);
    let asked = auditor
        .call(
            Role::Auditor,
            "POST",
            "/audit-reports",
            Some("local-run-night"),
            Some(&range),
            202,
        )
        .await?
        .json();
    pump_to(
        &host.invoker(),
        &EventSource::new(sqs.clone(), stack.queue("audit-reports")),
        "audit-report",
    )
    .await?;
    let location = asked["location"].as_str().ok_or("no report location")?;
    let view = auditor
        .call(Role::Auditor, "GET", location, None, None, 200)
        .await?
        .json();
    let link = view["download_url"]
        .as_str()
        .ok_or_else(|| format!("the auditor's report is {} with no link", view["status"]))?;
    let resp = reqwest::get(link).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("the report's link answered {}", resp.status()));
    }
    let downloaded = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
    let file = logs.join("audit-report-api.json");
    std::fs::write(&file, &downloaded).map_err(|e| format!("{}: {e}", file.display()))?;
    let by_link: serde_json::Value = serde_json::from_slice(&downloaded).unwrap_or_default();
    Ok(NightFigures {
        pii_purged,
        pii_past_due,
        deletion_requests_completed: total("deletion_requests_completed"),
        audit_report_pii_opens: total("pii_opens"),
        audit_report_purges: total("orders_purged"),
        api_audit_report_status: view["status"].as_str().unwrap_or_default().to_owned(),
        api_audit_report_bytes: downloaded.len() as u64,
        api_audit_report_matches_direct: by_link["totals"] == report["totals"]
            && view["totals"] == report["totals"],
        api_report: auditor.figures,
    })
}

pub fn read_event(path: &str) -> Result<serde_json::Value, String> {
    let text =
        std::fs::read_to_string(repo_root().join(path)).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

/// Scheduled `order-sync` runs until no seller's sweep is paused. Returns the invocations and
/// the orders stored (inserted or updated).
pub async fn sweep(
    host: &mut FunctionHost,
    event: &serde_json::Value,
) -> Result<(usize, u64), String> {
    let mut invocations = 0;
    let mut stored = 0;
    loop {
        invocations += 1;
        match host.invoke("order-sync", event).await? {
            Invocation::Ok(report) => {
                let failed = report["sellers_failed"].as_u64().unwrap_or(0);
                if failed > 0 {
                    return Err(format!(
                        "order-sync reported {failed} failed sellers: {report}"
                    ));
                }
                stored += report["orders_stored"].as_u64().unwrap_or(0);
                let paused = report["sellers"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r["outcome"] == "paused"));
                if !paused || invocations >= 5 {
                    return Ok((invocations, stored));
                }
            }
            Invocation::FunctionError {
                error_type,
                message,
            } => return Err(format!("order-sync failed: {error_type}: {message}")),
        }
    }
}

/// Lambda's event source mapping by hand: batches of the notifications queue to the real
/// `order-events` binary, its `batchItemFailures` left on the queue, until the queue is empty
/// (deferred messages come back by themselves after their delay).
async fn pump_notifications(
    invoker: Invoker,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<(), String> {
    let source = EventSource::new(sqs.clone(), queue_url);
    let deadline = Instant::now() + std::time::Duration::from_secs(180);
    loop {
        pump_to(&invoker, &source, "order-events").await?;
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        let waiting: u64 = attrs
            .attributes()
            .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        if waiting == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{waiting} notifications still on the queue after 180 s"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Lambda's event source mapping by hand, one pass: batches of `source` to the real
/// `function`, its `batchItemFailures` left on the queue, until nothing is visible.
async fn pump_to(invoker: &Invoker, source: &EventSource, function: &str) -> Result<(), String> {
    source
        .pump(
            |event| {
                let invoker = invoker.clone();
                async move {
                    match invoker.invoke(function, &event).await? {
                        Invocation::Ok(resp) => Ok(batch_item_failures(&resp)),
                        Invocation::FunctionError {
                            error_type,
                            message,
                        } => Err(format!("{function} failed: {error_type}: {message}")),
                    }
                }
            },
            false,
        )
        .await?;
    Ok(())
}

/// The figures of every "notification batch finished" line in `order-events`' log, summed.
fn batch_figures(log: &std::path::Path) -> Result<std::collections::BTreeMap<String, u64>, String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut sums = std::collections::BTreeMap::new();
    for key in [
        "notifications_processed",
        "duplicate_notifications_ignored",
        "dead_lettered",
        "deferred",
    ] {
        sums.insert(key.to_owned(), 0);
    }
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["fields"]["message"] != "notification batch finished" {
            continue;
        }
        for (k, sum) in sums.iter_mut() {
            *sum += v["fields"][k.as_str()].as_u64().unwrap_or(0);
        }
    }
    Ok(sums)
}

/// Count what landed and check the sealed items.
async fn inspect(
    sdk: &aws_config::SdkConfig,
    stack: &Provisioned,
    sim: &SimHandle,
    opts: &DayOptions,
) -> Result<DaySummary, String> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let orders = scan_all(&dynamo, stack.table("orders")).await?;
    let pii = scan_all(&dynamo, stack.table("pii")).await?;
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
    let stats = serde_json::to_value(sim.stats()).map_err(|e| e.to_string())?;
    let calls = |op: &str| -> u64 {
        stats["operations"][op]
            .as_object()
            .map(|by_status| by_status.values().filter_map(|v| v.as_u64()).sum())
            .unwrap_or(0)
    };
    let stats_typed = sim.stats();
    Ok(DaySummary {
        sellers: opts.sellers,
        orders_seeded: opts.sellers * opts.orders_per_seller,
        orders_at_amazon: (0..opts.sellers)
            .map(|i| sim.order_count(&sim_config(opts).sellers[i].seller_id))
            .sum(),
        orders_ingested: orders.len(),
        orders_ingested_by_morning_sweep: 0,
        order_changes_during_day: 0,
        notifications_published: stats_typed.notifications_published,
        notifications_delivered: 0,
        notifications_dropped: stats_typed.notifications_dropped,
        notifications_processed: 0,
        duplicate_notifications_ignored: 0,
        notifications_dead_lettered: 0,
        notifications_deferred: 0,
        orders_recovered_by_evening_sweep: 0,
        stock_reservations: 0,
        stock_releases: 0,
        stock_picks: 0,
        stock_shipments: 0,
        stock_movements: 0,
        stock_pushes: 0,
        low_stock_alerts: 0,
        stock_mismatches: 0,
        stock_messages_dead_lettered: 0,
        get_order_calls: calls("getOrder"),
        throttled_requests: stats_typed
            .operations
            .values()
            .filter_map(|by_status| by_status.get("429"))
            .sum(),
        orders_with_pii_held: held,
        pii_sealed: pii.len(),
        pii_items_with_readable_attributes: readable,
        invocations: 0,
        search_orders_calls: calls("searchOrders"),
        lwa_token_calls: calls("lwaToken"),
        labels_purchased: 0,
        labels_voided: 0,
        shipments_confirmed: 0,
        duplicate_purchases: 0,
        label_jobs_dead_lettered: 0,
        parcels_tracked: 0,
        api_requests: 0,
        api_orders_packed: 0,
        api_orders_shipped: 0,
        api_pii_answers: 0,
        api_pii_reads_audited: 0,
        api_requests_refused_by_role: 0,
        api_pii_leaks: 0,
        api_unexpected: Vec::new(),
        pii_purged: 0,
        pii_past_due: 0,
        deletion_requests_completed: 0,
        pii_items_after_purge: 0,
        audit_report_pii_opens: 0,
        audit_report_purges: 0,
        api_audit_report_status: String::new(),
        api_audit_report_bytes: 0,
        api_audit_report_matches_direct: false,
        pii_values_checked: 0,
        pii_values_found_in_logs: 0,
        log_files: Vec::new(),
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
