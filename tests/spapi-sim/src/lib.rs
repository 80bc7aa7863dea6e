//! A stateful SP-API simulator for tests and the local stack: Login with Amazon's token
//! endpoint, Orders 2026-01-01 (`searchOrders`, `getOrder`) and Shipping v2 (`getRates`,
//! `purchaseShipment`), Listings Items (`getListingsItem`, `searchListingsItems`,
//! `patchListingsItem`) and Feeds 2021-06-30 for `JSON_LISTINGS_FEED`, seeded
//! deterministically with FBM orders for several sellers, with Amazon's usage plans as token
//! buckets on a clock tests can speed up or jump, Amazon's auth failures, and fault knobs
//! (throttling, 5xx, latency, malformed bodies). It speaks HTTP on loopback, so the real client
//! is what gets tested.

mod clock;
pub mod model;
mod seed;
mod server;

pub use clock::{SimClock, TokenBucket};
pub use server::{
    Delivery, FEED_DOCUMENT_URL_LIFETIME, FEED_PROCESSING_TIME, FEED_QUEUE_TIME,
    FEED_TIME_PER_MESSAGE, INVALID_ATTRIBUTE, ListingEdit, OrderEvent, PICKUP_AFTER, RATE_LIFETIME,
    SEEDED_QUANTITY, feed_done_after,
};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The LWA application the simulator accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// One selling partner who authorised the application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SellerSeed {
    pub seller_id: String,
    pub refresh_token: String,
    pub marketplace_id: String,
    /// How many orders to seed for this seller.
    pub orders: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    pub app: AppCredentials,
    pub sellers: Vec<SellerSeed>,
    pub seed: u64,
    /// Simulated seconds per real second (token buckets and token lifetimes follow it).
    pub clock_speed: f64,
    /// Simulated time at start; real now when absent.
    pub now: Option<DateTime<Utc>>,
    pub access_token_ttl_secs: u32,
    /// Multiplies every usage plan's rate (and the reported `x-amzn-RateLimit-Limit`), as
    /// Amazon grants some sellers; 1 is the official default. Benchmarks that measure CPU
    /// rather than quotas raise it.
    #[serde(default = "one")]
    pub rate_scale: f64,
}

fn one() -> f64 {
    1.0
}

impl SimConfig {
    /// `sellers` US sellers with `orders` orders each, every value derived from `seed`.
    pub fn demo(sellers: usize, orders: usize, seed: u64) -> Self {
        Self {
            app: AppCredentials {
                client_id: format!("amzn1.application-oa2-client.sim{seed:08x}"),
                client_secret: format!("amzn1.oa2-cs.v1.sim-secret-{seed:016x}"),
            },
            sellers: (1..=sellers)
                .map(|i| SellerSeed {
                    seller_id: format!("A1SIMSELLER{i:02}"),
                    refresh_token: format!("Atzr|sim-refresh-{seed:x}-{i:02}"),
                    marketplace_id: "ATVPDKIKX0DER".into(),
                    orders,
                })
                .collect(),
            seed,
            clock_speed: 1.0,
            now: None,
            access_token_ttl_secs: 3600,
            rate_scale: 1.0,
        }
    }
}

/// Fault knobs. Shares are probabilities per SP-API request (LWA is never faulted);
/// `max_faults` caps how many faults are injected in all, `None` for no cap.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub throttle_share: f64,
    pub server_error_share: f64,
    pub malformed_share: f64,
    pub latency_ms: u64,
    pub max_faults: Option<u64>,
}

/// What the simulator saw and did. `operations` counts responses by operation and status.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub operations: BTreeMap<String, BTreeMap<String, u64>>,
    pub throttled_by_quota: u64,
    pub throttled_injected: u64,
    pub server_errors_injected: u64,
    pub malformed_injected: u64,
    /// Notifications of every type through delivery.
    pub notifications_published: u64,
    pub notifications_duplicated: u64,
    pub notifications_dropped: u64,
    /// Labels bought, by `<order id>/<packageClientReferenceId>` (repeats of an idempotency
    /// key not counted: they buy nothing).
    pub label_purchases: BTreeMap<String, u64>,
    /// Labels canceled, by the same key.
    pub labels_canceled: BTreeMap<String, u64>,
    /// `confirmShipment` calls that confirmed or changed a package, by
    /// `<order id>/<packageReferenceId>`.
    pub shipment_confirmations: BTreeMap<String, u64>,
    // The last four are kept by the listings and feeds and copied in when the stats are read.
    /// Accepted `patchListingsItem` calls (not previews, not INVALID ones).
    pub patches_accepted: u64,
    /// Accepted PATCH messages of the feeds finished by then.
    pub feed_messages_accepted: u64,
    pub feeds_created: u64,
    /// Uploads to feed document URLs (a second upload of one document counts again).
    pub feed_documents_uploaded: u64,
}

/// How notifications reach their queues. Shares are probabilities per
/// notification; `copies` is how many times a duplicated one arrives (at least 2).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryKnobs {
    pub duplicate_share: f64,
    pub copies: u32,
    pub drop_share: f64,
    /// Deliver in random order rather than as published.
    pub shuffle: bool,
}

impl Stats {
    pub fn count(&self, operation: &str, status: u16) -> u64 {
        self.operations
            .get(operation)
            .and_then(|m| m.get(&status.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Labels bought for one package of an order.
    pub fn labels_bought(&self, order_id: &str, package_ref: &str) -> u64 {
        self.label_purchases
            .get(&format!("{order_id}/{package_ref}"))
            .copied()
            .unwrap_or(0)
    }

    /// Own-carrier confirmations of one package of an order.
    pub fn confirmations(&self, order_id: &str, package_ref: &str) -> u64 {
        self.shipment_confirmations
            .get(&format!("{order_id}/{package_ref}"))
            .copied()
            .unwrap_or(0)
    }

    /// Labels bought beyond one live label per package: purchases less cancellations less
    /// one, added over the packages. A suite that buys each label once keeps it at 0.
    pub fn duplicate_purchases(&self) -> u64 {
        self.label_purchases
            .iter()
            .map(|(k, bought)| {
                let canceled = self.labels_canceled.get(k).copied().unwrap_or(0);
                bought.saturating_sub(canceled).saturating_sub(1)
            })
            .sum()
    }

    pub fn total(&self, operation: &str) -> u64 {
        self.operations
            .get(operation)
            .map(|m| m.values().sum())
            .unwrap_or(0)
    }

    /// Responses per operation, whatever their status.
    pub fn totals(&self) -> BTreeMap<String, u64> {
        self.operations
            .iter()
            .map(|(op, by_status)| (op.clone(), by_status.values().sum()))
            .collect()
    }
}

/// The simulator's state, shared by the HTTP handlers and the [`SimHandle`].
pub(crate) struct Sim {
    pub(crate) config: SimConfig,
    pub(crate) clock: Arc<SimClock>,
    change_lag: Mutex<Duration>,
    pub(crate) state: Mutex<server::State>,
}

pub struct Simulator;

impl Simulator {
    /// Seed the orders and serve on `addr` (use port 0 for a free one).
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
        let start = config.now.unwrap_or_else(Utc::now);
        let clock = Arc::new(SimClock::new(start, config.clock_speed));
        let state = server::State::seeded(&config, start);
        let sim = Arc::new(Sim {
            config,
            clock,
            change_lag: Mutex::new(Duration::zero()),
            state: Mutex::new(state),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::router(sim.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(SimHandle {
            sim,
            addr: local,
            stop: Mutex::new(Some(stop)),
            task: Mutex::new(Some(task)),
        })
    }
}

pub struct SimHandle {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SimHandle {
    /// The SP-API endpoint, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn lwa_token_url(&self) -> String {
        format!("{}/auth/o2/token", self.base_url())
    }

    pub fn set_faults(&self, faults: Faults) {
        self.sim.lock().set_faults(faults);
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.sim.clock.now()
    }

    /// The simulator's clock, for a suite under test to share Amazon's time.
    pub fn clock(&self) -> Arc<SimClock> {
        self.sim.clock.clone()
    }

    pub fn advance_clock(&self, by: Duration) {
        self.sim.clock.advance(by);
    }

    pub fn stats(&self) -> Stats {
        self.sim.settled().stats()
    }

    /// Accepted `patchListingsItem` calls.
    pub fn patches_accepted(&self) -> u64 {
        self.sim.settled().listings.patches_accepted
    }

    pub fn feeds_created(&self) -> u64 {
        self.sim.settled().feeds.feeds_created
    }

    /// While `held`, no feed finishes: each stays `IN_PROGRESS` whatever the clock says (a feed
    /// Amazon takes hours over). Released, the feeds due finish as of their own time.
    pub fn hold_feeds(&self, held: bool) {
        self.sim.lock().feeds.held = held;
    }

    /// Accepted messages of the feeds finished by now.
    pub fn feed_messages_accepted(&self) -> u64 {
        self.sim.settled().listings.feed_messages_accepted
    }

    /// Every seeded PII value served by this simulator, for scanning logs for leaks.
    pub fn seeded_pii_values(&self) -> Vec<String> {
        self.sim.lock().pii_values()
    }

    pub fn order_count(&self, seller_id: &str) -> usize {
        self.sim.lock().order_count(seller_id)
    }

    /// The seller withdraws the authorisation: the refresh token and its access tokens die.
    pub fn revoke_seller(&self, seller_id: &str) {
        self.sim.lock().revoke(seller_id);
    }

    /// The next `purchases` label purchases go through, and then their connection breaks
    /// before the answer is through (the client sees a transport error, the label is bought).
    pub fn drop_connection_after_purchases(&self, purchases: u32) {
        self.sim.lock().shipping.drop_after_purchase = purchases;
    }

    /// The carrier never collects the parcels of the next `purchases` labels (no first scan).
    pub fn never_scan_next_labels(&self, purchases: u32) {
        self.sim.lock().shipping.never_scanned = purchases;
    }

    /// The quantity Amazon holds per SKU of the seller (`None`: the listing has none).
    pub fn listing_quantities(&self, seller_id: &str) -> BTreeMap<String, Option<u32>> {
        self.sim.settled().listing_quantities(seller_id)
    }

    pub fn listing_quantity(&self, seller_id: &str, sku: &str) -> Option<u32> {
        self.listing_quantities(seller_id)
            .get(sku)
            .copied()
            .flatten()
    }

    /// Change a listing as a test needs (`false`: no such listing).
    pub fn edit_listing(&self, seller_id: &str, sku: &str, edit: ListingEdit) -> bool {
        let now = self.sim.clock.now();
        self.sim.settled().edit_listing(seller_id, sku, edit, now)
    }

    /// Every access token issued so far expires now (the next call gets 403).
    pub fn expire_access_tokens(&self) {
        self.sim.lock().expire_access_tokens();
    }

    /// Record changes made from now on as having happened `lag` ago: their notifications
    /// arrive late, as Amazon's do, and a sweep on the caller's clock already sees them.
    pub fn set_change_lag(&self, lag: Duration) {
        *self.sim.change_lag.lock().expect("sim lock") = lag;
    }

    fn change_time(&self) -> DateTime<Utc> {
        self.sim.clock.now() - *self.sim.change_lag.lock().expect("sim lock")
    }

    /// Buyers place `count` new orders with the seller now; each publishes an `ORDER_CHANGE`.
    pub fn place_orders(&self, seller_id: &str, count: usize) -> Vec<String> {
        let now = self.change_time();
        self.sim
            .lock()
            .place_orders(&self.sim.config, seller_id, count, now)
    }

    /// Cancel, ship or deliver an order now; publishes an `ORDER_CHANGE`. `false` if the
    /// order does not exist or the event does not fit its state.
    pub fn change_order(&self, seller_id: &str, order_id: &str, event: OrderEvent) -> bool {
        let now = self.change_time();
        self.sim
            .lock()
            .change_order(&self.sim.config, seller_id, order_id, event, now)
    }

    /// Serve an order no model reads (an unknown fulfillment status), or as it was.
    pub fn garble_order(&self, seller_id: &str, order_id: &str, garbled: bool) -> bool {
        self.sim.lock().garble_order(seller_id, order_id, garbled)
    }

    /// The seller's order ids in Amazon's status (`UNSHIPPED`, `SHIPPED`, `CANCELLED`, ...).
    pub fn orders_in(&self, seller_id: &str, status: &str) -> Vec<String> {
        self.sim.lock().orders_in(seller_id, status)
    }

    pub fn set_delivery(&self, knobs: DeliveryKnobs) {
        self.sim.lock().set_delivery(knobs);
    }

    /// Take every published `ORDER_CHANGE` (knobs applied) without sending it anywhere.
    pub fn take_notifications(&self) -> Delivery {
        self.sim.lock().deliver(server::Topic::OrderChange)
    }

    /// Deliver every published `ORDER_CHANGE` to the SQS queue at `queue_url`, as Amazon's
    /// notification service would (with the delivery knobs applied).
    pub async fn deliver_notifications(
        &self,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> Result<Delivery, String> {
        send_to_queue(sqs, queue_url, self.take_notifications()).await
    }

    /// Take every published `LISTINGS_ITEM_MFN_QUANTITY_CHANGE`, the finished feeds' included
    /// (knobs applied), without sending it anywhere.
    pub fn take_listing_notifications(&self) -> Delivery {
        self.sim.settled().deliver(server::Topic::MfnQuantityChange)
    }

    /// Deliver every published `LISTINGS_ITEM_MFN_QUANTITY_CHANGE` to the SQS queue at
    /// `queue_url` (the stock queue: a subscription of its own on Amazon), knobs applied.
    pub async fn deliver_listing_notifications(
        &self,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> Result<Delivery, String> {
        send_to_queue(sqs, queue_url, self.take_listing_notifications()).await
    }

    pub async fn shutdown(&self) {
        let stop = self.stop.lock().expect("sim lock").take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let task = self.task.lock().expect("sim lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Send a delivery's bodies to an SQS queue in batches of 10 (SQS's most).
async fn send_to_queue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    delivery: Delivery,
) -> Result<Delivery, String> {
    for chunk in delivery.bodies.chunks(10) {
        let mut batch = sqs.send_message_batch().queue_url(queue_url);
        for (i, body) in chunk.iter().enumerate() {
            batch = batch.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        let out = batch
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        if !out.failed.is_empty() {
            return Err(format!(
                "{} notifications not accepted by SQS",
                out.failed.len()
            ));
        }
    }
    Ok(delivery)
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
    }
}

impl Sim {
    /// The usage plan (rate per second, burst) of an operation, scaled by `rate_scale`.
    pub(crate) fn plan(&self, op: server::Operation) -> (f64, u32) {
        let (rate, burst) = op.plan();
        (rate * self.config.rate_scale, burst)
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, server::State> {
        // A panic in a handler must not wedge every later test: take the state as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state with every feed whose processing time has come processed, so what is read
    /// or changed next follows them as if they had been processed at their time.
    pub(crate) fn settled(&self) -> std::sync::MutexGuard<'_, server::State> {
        let now = self.clock.now();
        let mut st = self.lock();
        st.settle_feeds(now);
        st
    }
}
