//! `stock-sync`: the stock queue (orders' reservations, releases, picks and shipments; staff
//! movements), on-demand commands (staff movements, locations, SKU settings, a
//! reconciliation) and the daily reconciliation. Each batch applies its movements first,
//! then pushes every SKU it touched once; a message whose SKU could not be pushed for now stays
//! on the queue (its movements are applied already; the repeat only pushes).

pub mod config;

use super::batch::{Finished, answer, kept, run_batch};
use crate::aws::{DynamoControl, DynamoStockLedger, SqsBatchQueue, SqsQueue};
use crate::kernel::{Clock, DeadLetter, Ending, MarketplaceId, SellerId, Sku, SystemClock};
use crate::sellers::SellerRegistry;
use crate::spapi::{FeedsApi, ListingsApi};
use crate::stock::{
    FeedCheck, FeedSettled, FeedSubmitted, KitComponent, Locations, Movement, MovementOutcome,
    PushOutcome, Reconciled, SEARCH_SKUS, SkuSettings, StaffMovement, StockError, StockLedger,
    StockMessage, StockSync, Warehouse, alert,
};
use aws_lambda_events::event::sqs::SqsEvent;
use config::StockSyncConfig;
use futures::{StreamExt, stream};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Refusals that a movement sent earlier, still on its way, may lift.
const WAIT_FOR_EARLIER: [&str; 2] = ["not_on_hand", "unknown_location"];

/// Messages (and SKU pushes) worked at once.
const CONCURRENCY: usize = 4;

/// Looks at a feed's result before it is given up: three hours at the default minute apart
/// (`getFeed`, 2 a second, is no constraint).
const MAX_FEED_CHECKS: u32 = 180;
/// Messages Amazon takes in one `JSON_LISTINGS_FEED`.
const MAX_FEED_MESSAGES: usize = 25_000;

/// What a batch, a command or a reconciliation came to (tests and the local run read it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StockReport {
    pub movements_applied: u32,
    /// Movements found in the ledger already (a repeat delivery).
    pub movements_repeated: u32,
    /// Order movements with nothing to do (the line already past that step).
    pub movements_idle: u32,
    pub movements_refused: u32,
    /// Plans lost to another writer and made again.
    pub conflicts_retried: u32,
    pub lines_without_sku: u32,
    pub unknown_skus: u32,
    pub short_picks: u32,
    /// Quantities Amazon accepted.
    pub pushes: u32,
    /// SKUs checked whose quantity Amazon already held: no call.
    pub pushes_unchanged: u32,
    pub pushes_rejected: u32,
    /// SKUs touched that the suite keeps no stock of (no locations, never received or set
    /// up): Amazon is not told.
    pub skus_not_managed: u32,
    /// Pushes (or reconciliation checks) that failed for now: the next movement, a redelivery
    /// or the next reconciliation pushes them.
    pub pushes_failed: u32,
    pub low_stock_alerts: u32,
    /// Reconciliation: SKUs where Amazon held something else, corrected.
    pub mismatches_corrected: u32,
    pub skus_checked: u32,
    /// Amazon's quantity-change notifications read (each checks its SKU).
    pub quantity_notices: u32,
    /// Listings feeds sent, and the SKUs they hold.
    pub feeds_submitted: u32,
    pub feed_lines: u32,
    /// Feeds whose result was read and recorded; fatal or cancelled ones.
    pub feeds_settled: u32,
    pub feeds_failed: u32,
    /// SKUs that moved while their feed was processed, checked again after it.
    pub feed_rechecks: u32,
    pub dead_lettered: u32,
    pub retried: u32,
    /// Refusals of staff movements, for the caller (ids and reasons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<Refusal>,
    /// Feeds sent (their results are read later: a note on the stock queue, or `check_feed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feed_ids: Vec<String>,
    /// Message ids to leave on the queue (`batchItemFailures`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Refusal {
    pub movement_id: String,
    pub kind: String,
    pub reason: String,
}

impl StockReport {
    fn add(&mut self, o: &MovementOutcome) {
        match o {
            MovementOutcome::Applied {
                short,
                unknown_sku,
                conflicts,
            } => {
                self.movements_applied += 1;
                self.conflicts_retried += conflicts;
                self.unknown_skus += u32::from(*unknown_sku);
                self.short_picks += u32::from(*short > 0);
            }
            MovementOutcome::AlreadyApplied => self.movements_repeated += 1,
            MovementOutcome::Nothing { .. } => self.movements_idle += 1,
            MovementOutcome::Refused { .. } => self.movements_refused += 1,
        }
    }

    fn add_submitted(&mut self, f: &FeedSubmitted) {
        self.feeds_submitted += u32::from(f.feed_id.is_some());
        self.feed_ids.extend(f.feed_id.clone());
        self.feed_lines += f.lines;
        self.pushes_unchanged += f.unchanged;
        self.skus_not_managed += f.not_managed;
        self.pushes_rejected += f.rejected;
    }

    /// A reconciliation's (or a notice's) finding for one SKU.
    fn add_reconciled(&mut self, r: &Reconciled) {
        self.skus_checked += 1;
        match r {
            Reconciled::NotManaged => self.skus_not_managed += 1,
            Reconciled::InAgreement { .. } => {}
            Reconciled::Corrected { .. } => {
                self.mismatches_corrected += 1;
                self.pushes += 1;
            }
            Reconciled::Rejected { .. } => self.pushes_rejected += 1,
        }
    }

    /// Another report's figures added to this one's (its kept ids too).
    pub fn merge(&mut self, o: StockReport) {
        self.movements_applied += o.movements_applied;
        self.movements_repeated += o.movements_repeated;
        self.movements_idle += o.movements_idle;
        self.movements_refused += o.movements_refused;
        self.conflicts_retried += o.conflicts_retried;
        self.lines_without_sku += o.lines_without_sku;
        self.unknown_skus += o.unknown_skus;
        self.short_picks += o.short_picks;
        self.pushes += o.pushes;
        self.pushes_unchanged += o.pushes_unchanged;
        self.pushes_rejected += o.pushes_rejected;
        self.skus_not_managed += o.skus_not_managed;
        self.pushes_failed += o.pushes_failed;
        self.low_stock_alerts += o.low_stock_alerts;
        self.mismatches_corrected += o.mismatches_corrected;
        self.skus_checked += o.skus_checked;
        self.quantity_notices += o.quantity_notices;
        self.feeds_submitted += o.feeds_submitted;
        self.feed_lines += o.feed_lines;
        self.feeds_settled += o.feeds_settled;
        self.feeds_failed += o.feeds_failed;
        self.feed_rechecks += o.feed_rechecks;
        self.dead_lettered += o.dead_lettered;
        self.retried += o.retried;
        self.refusals.extend(o.refusals);
        self.feed_ids.extend(o.feed_ids);
        self.keep.extend(o.keep);
    }
}

/// An on-demand invocation (the operator's tools; the staff API applies its own movements
/// and sends them on the stock queue).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum StockCommand {
    /// Movements applied in order, then the SKUs they touched pushed.
    Movements { movements: Vec<StaffMovement> },
    SetLocations {
        seller_id: SellerId,
        locations: Locations,
    },
    /// A SKU's buffer and low-stock threshold, then its quantity pushed.
    SetSku {
        seller_id: SellerId,
        sku: Sku,
        settings: SkuSettings,
    },
    /// A kit (bundle) made of components (none: no longer a kit), then its quantity pushed.
    SetKit {
        seller_id: SellerId,
        sku: Sku,
        components: Vec<KitComponent>,
    },
    /// A submitted feed's result read now (it is also read by itself, later).
    CheckFeed {
        seller_id: SellerId,
        feed_id: String,
    },
    /// Every SKU of the sellers named (none: every active seller) checked against Amazon.
    Reconcile {
        #[serde(default)]
        seller_ids: Vec<SellerId>,
    },
}

pub struct StockSyncHandler {
    ledger: DynamoStockLedger,
    control: DynamoControl,
    listings: ListingsApi,
    feeds: FeedsApi,
    queue: SqsBatchQueue,
    /// Its own queue, for notes to read a feed's result later.
    stock_queue: SqsQueue,
    clock: Arc<dyn Clock>,
    max_receives: u32,
    feed_min_skus: usize,
    feed_check: std::time::Duration,
}

type SkuKey = (SellerId, Sku);

/// Amazon's quantity notices of one SKU in a batch: their messages, the newest quantity.
struct Notices {
    ids: Vec<String>,
    quantity: u32,
    at: chrono::DateTime<chrono::Utc>,
    receives: u32,
}

/// A staff movement that failed for now: the caller sends it again (the same id).
fn unapplied(movement_id: String, e: &StockError) -> Refusal {
    tracing::warn!(%movement_id, error_kind = e.kind(), error = %e, "stock movement failed");
    Refusal {
        movement_id,
        kind: e.kind().into(),
        reason: format!("not applied, send again: {e}"),
    }
}

impl StockSyncHandler {
    pub fn new(config: StockSyncConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clock(config, sdk, Arc::new(SystemClock))
    }

    pub fn with_clock(
        config: StockSyncConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let transport = config
            .spapi
            .transport(sdk, &config.control_table, clock.clone());
        Self {
            ledger: DynamoStockLedger::new(dynamo.clone(), config.stock_table),
            control: DynamoControl::new(dynamo, config.control_table),
            listings: ListingsApi::new(transport.clone()),
            feeds: FeedsApi::new(transport),
            queue: SqsBatchQueue {
                source: None,
                dead_letters: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), config.stock_dlq_url),
            },
            stock_queue: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), config.stock_queue_url),
            clock,
            max_receives: config.max_receives,
            feed_min_skus: config.feed_min_skus as usize,
            feed_check: std::time::Duration::from_secs(config.feed_check_secs),
        }
    }

    fn sync(&self) -> StockSync<'_> {
        StockSync {
            ledger: &self.ledger,
            listings: &self.listings,
            feeds: &self.feeds,
            clock: self.clock.as_ref(),
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        let (payload, _context) = event.into_parts();
        if payload.get("Records").is_some() {
            let event: SqsEvent = serde_json::from_value(payload)?;
            let report = self.handle_batch(event).await;
            return Ok(serde_json::to_value(answer(report.keep))?);
        }
        // A scheduled event (EventBridge) is the daily reconciliation.
        if payload.get("detail-type").is_some() {
            let report = self.reconcile(&[]).await?;
            return Ok(serde_json::to_value(report)?);
        }
        let command: StockCommand = serde_json::from_value(payload)
            .map_err(|e| format!("not a stock command: {}", crate::kernel::serde_reason(&e)))?;
        let report = self.command(command).await?;
        Ok(serde_json::to_value(report)?)
    }

    pub async fn command(&self, command: StockCommand) -> Result<StockReport, StockError> {
        let mut report = StockReport::default();
        match command {
            StockCommand::Movements { movements } => {
                let mut touched = BTreeSet::new();
                let mut warehouses = HashMap::new();
                'movements: for m in movements {
                    let id = m.movement_id.to_string();
                    let m = match m.into_movement(self.clock.now()) {
                        Ok(m) => m,
                        Err(e) => {
                            report.movements_refused += 1;
                            report.refusals.push(Refusal {
                                movement_id: id,
                                kind: "invalid".into(),
                                reason: e.to_string(),
                            });
                            continue;
                        }
                    };
                    let warehouse = match self.warehouse_of(&mut warehouses, &m.seller_id).await {
                        Ok(w) => w,
                        Err(e) => {
                            report.refusals.push(unapplied(id, &e));
                            break;
                        }
                    };
                    let parts = match self.expand(m, &warehouse).await {
                        Ok(parts) => parts,
                        Err(e) => {
                            report.refusals.push(unapplied(id, &e));
                            break;
                        }
                    };
                    let parts = match parts {
                        Ok(parts) => parts,
                        Err(r) => {
                            report.movements_refused += 1;
                            report.refusals.push(Refusal {
                                movement_id: id,
                                kind: r.kind.into(),
                                reason: r.reason,
                            });
                            continue;
                        }
                    };
                    for part in parts {
                        let outcome = match self.sync().apply(&part, &warehouse).await {
                            Ok(o) => o,
                            Err(e) => {
                                // What was applied before it is pushed; the rest is the
                                // caller's to send again (the same ids make repeats harmless).
                                report.refusals.push(unapplied(id, &e));
                                break 'movements;
                            }
                        };
                        report.add(&outcome);
                        if let MovementOutcome::Refused { kind, reason } = &outcome {
                            report.refusals.push(Refusal {
                                movement_id: part.movement_id.to_string(),
                                kind: (*kind).into(),
                                reason: reason.clone(),
                            });
                        }
                        if outcome.touches() {
                            touched.insert((part.seller_id.clone(), part.sku.clone()));
                        }
                    }
                }
                let (pushed, _) = self.push_all(touched, warehouses).await;
                report.merge(pushed);
            }
            StockCommand::SetLocations {
                seller_id,
                locations,
            } => {
                self.ledger.set_locations(&seller_id, &locations).await?;
                // A location's kind decides what is sellable: every SKU may have changed.
                let skus = self.ledger.skus(&seller_id).await?;
                let (pushed, _) = self
                    .push_all(
                        skus.into_iter().map(|s| (seller_id.clone(), s)).collect(),
                        HashMap::new(),
                    )
                    .await;
                report.merge(pushed);
            }
            StockCommand::SetSku {
                seller_id,
                sku,
                settings,
            } => {
                self.ledger
                    .set_settings(&seller_id, &sku, &settings)
                    .await?;
                let (pushed, _) = self
                    .push_all([(seller_id, sku)].into(), HashMap::new())
                    .await;
                report.merge(pushed);
            }
            StockCommand::SetKit {
                seller_id,
                sku,
                components,
            } => {
                let warehouse = self.ledger.warehouse(&seller_id).await?;
                let own = self.ledger.position(&seller_id, &sku).await?;
                let check =
                    if !components.is_empty() && (own.total_on_hand() > 0 || own.reserved > 0) {
                        Err(crate::stock::KitRefusal {
                            kind: "invalid_kit",
                            reason: format!("{sku} holds stock or reservations of its own"),
                        })
                    } else {
                        warehouse.kits.check(&sku, &components)
                    };
                if let Err(r) = check {
                    report.refusals.push(Refusal {
                        movement_id: String::new(),
                        kind: r.kind.into(),
                        reason: r.reason,
                    });
                    return Ok(report);
                }
                self.ledger.set_kit(&seller_id, &sku, &components).await?;
                let (pushed, _) = self
                    .push_all([(seller_id, sku)].into(), HashMap::new())
                    .await;
                report.merge(pushed);
            }
            StockCommand::CheckFeed { seller_id, feed_id } => {
                let check = FeedCheck {
                    feed_id,
                    seller_id,
                    check: 0,
                };
                if let Some(kind) = self
                    .check_feed(&check, &mut HashMap::new(), &mut report)
                    .await?
                {
                    report.refusals.push(Refusal {
                        movement_id: String::new(),
                        kind: kind.into(),
                        reason: format!("feed {}", check.feed_id),
                    });
                }
            }
            StockCommand::Reconcile { seller_ids } => report = self.reconcile(&seller_ids).await?,
        }
        Ok(report)
    }

    /// `m` as the movements of one SKU each: an order line of a kit moves the components it
    /// was first moved with (kept per line), whatever the kit is made of since.
    async fn expand(
        &self,
        m: Movement,
        warehouse: &Warehouse,
    ) -> Result<Result<Vec<Movement>, crate::stock::KitRefusal>, StockError> {
        let kits = &warehouse.kits;
        let (Some(item), Some(order), true) = (
            m.kind.order_item(),
            m.order_id.as_ref(),
            kits.was_kit(&m.sku),
        ) else {
            return Ok(kits.expand(m, None));
        };
        let now = kits.components(&m.sku).unwrap_or_default();
        let line = self
            .ledger
            .kit_line(&m.seller_id, &m.sku, order, item, now)
            .await?;
        Ok(kits.expand(m, Some(&line)))
    }

    async fn warehouse_of(
        &self,
        cache: &mut HashMap<SellerId, Warehouse>,
        seller: &SellerId,
    ) -> Result<Warehouse, StockError> {
        if let Some(w) = cache.get(seller) {
            return Ok(w.clone());
        }
        let w = self.ledger.warehouse(seller).await?;
        cache.insert(seller.clone(), w.clone());
        Ok(w)
    }

    async fn marketplaces(&self) -> Result<BTreeMap<SellerId, MarketplaceId>, StockError> {
        Ok(self
            .control
            .active_sellers()
            .await?
            .into_iter()
            .filter_map(|a| a.marketplace_ids.first().cloned().map(|m| (a.seller_id, m)))
            .collect())
    }

    /// Push each SKU once, and each kit one of them is part of; the SKUs that could not be
    /// pushed for now are returned. `warehouses`: the sellers' already read for these
    /// movements (not read again).
    async fn push_all(
        &self,
        mut skus: BTreeSet<SkuKey>,
        mut warehouses: HashMap<SellerId, Warehouse>,
    ) -> (StockReport, BTreeSet<SkuKey>) {
        let mut report = StockReport::default();
        let mut failed = BTreeSet::new();
        if skus.is_empty() {
            return (report, failed);
        }
        let marketplaces = match self.marketplaces().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error_kind = e.kind(), error = %e, "seller registry unreadable; pushes wait");
                return (report, skus);
            }
        };
        let unread: BTreeSet<SellerId> = skus
            .iter()
            .map(|(s, _)| s)
            .filter(|s| !warehouses.contains_key(*s))
            .cloned()
            .collect();
        for seller in unread {
            match self.ledger.warehouse(&seller).await {
                Ok(w) => {
                    warehouses.insert(seller, w);
                }
                Err(e) => tracing::warn!(%seller, error = %e, "warehouse unreadable; pushes wait"),
            }
        }
        let kits: Vec<SkuKey> =
            skus.iter()
                .flat_map(|(seller, sku)| {
                    warehouses.get(seller).into_iter().flat_map(move |w| {
                        w.kits.containing(sku).map(|k| (seller.clone(), k.clone()))
                    })
                })
                .collect();
        skus.extend(kits);
        // A seller with many SKUs to push at once (a big receipt, new locations) sends it as a feed.
        let mut per_seller: BTreeMap<&SellerId, Vec<Sku>> = BTreeMap::new();
        for (seller, sku) in &skus {
            per_seller.entry(seller).or_default().push(sku.clone());
        }
        let mut by_feed = BTreeSet::new();
        for (seller, list) in per_seller {
            if list.len() < self.feed_min_skus {
                continue;
            }
            let (Some(marketplace), Some(warehouse)) =
                (marketplaces.get(seller), warehouses.get(seller))
            else {
                continue;
            };
            by_feed.insert(seller.clone());
            if let Err((sent, e)) = self
                .send_feeds(seller, marketplace, &list, warehouse, false, &mut report)
                .await
            {
                tracing::warn!(%seller, error_kind = e.kind(), error = %e, "stock feed failed for now");
                report.pushes_failed += (list.len() - sent) as u32;
                failed.extend(list.into_iter().skip(sent).map(|sku| (seller.clone(), sku)));
            }
        }
        skus.retain(|(seller, _)| !by_feed.contains(seller));
        let results: Vec<(SkuKey, Result<Option<crate::stock::Pushed>, StockError>)> =
            stream::iter(skus)
                .map(|(seller, sku)| {
                    let (marketplaces, warehouses) = (&marketplaces, &warehouses);
                    async move {
                        let result = match (marketplaces.get(&seller), warehouses.get(&seller)) {
                            (Some(m), Some(l)) => {
                                self.sync().push(&seller, m, &sku, l).await.map(Some)
                            }
                            (None, _) => {
                                alert(
                                    "seller_not_registered",
                                    &seller,
                                    &sku,
                                    "no active marketplace: not pushed",
                                );
                                Ok(None)
                            }
                            (_, None) => {
                                Err(StockError::Store(crate::kernel::StoreError::Conflict {
                                    what: "warehouse unread".into(),
                                }))
                            }
                        };
                        ((seller, sku), result)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        for (key, result) in results {
            match result {
                Ok(Some(p)) => {
                    report.low_stock_alerts += u32::from(p.low_stock_alert);
                    match p.outcome {
                        PushOutcome::NotManaged => report.skus_not_managed += 1,
                        PushOutcome::Unchanged { .. } => report.pushes_unchanged += 1,
                        PushOutcome::Pushed { .. } => report.pushes += 1,
                        PushOutcome::Rejected { .. } => report.pushes_rejected += 1,
                    }
                }
                Ok(None) => {}
                Err(e) if e.is_retryable() => {
                    tracing::warn!(seller_id = %key.0, sku = %key.1, error_kind = e.kind(), error = %e, "stock push failed for now");
                    report.pushes_failed += 1;
                    failed.insert(key);
                }
                // Refused for good (credentials revoked, a request Amazon will never take):
                // alarmed; keeping the messages would not help.
                Err(e) => {
                    alert("push_rejected", &key.0, &key.1, e.kind());
                    tracing::warn!(seller_id = %key.0, sku = %key.1, error_kind = e.kind(), error = %e, "stock push refused");
                    report.pushes_rejected += 1;
                }
            }
        }
        (report, failed)
    }

    /// Feeds of the SKUs' quantities sent (Amazon takes at most 25,000 messages in one), each
    /// with a note left on the stock queue to read its result once Amazon has had time to
    /// process it. Each sent feed is added to `report`; on an error, the SKUs from `skus[n..]`
    /// on were not sent.
    async fn send_feeds(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        skus: &[Sku],
        warehouse: &Warehouse,
        every: bool,
        report: &mut StockReport,
    ) -> Result<(), (usize, StockError)> {
        for (n, part) in skus.chunks(MAX_FEED_MESSAGES).enumerate() {
            let unsent = |e| (n * MAX_FEED_MESSAGES, e);
            let submitted = self
                .sync()
                .submit_feed(seller, marketplace, part, warehouse, every)
                .await
                .map_err(unsent)?;
            if let Some(feed_id) = &submitted.feed_id
                && let Err(e) = self.note_feed_check(seller, feed_id, 0).await
            {
                // Its SKUs are pushed again next time: count them as not sent.
                tracing::warn!(%seller, feed_id, error_kind = e.kind(), error = %e, "feed check not noted");
                self.sync()
                    .abandon_feed(seller, feed_id)
                    .await
                    .map_err(unsent)?;
                return Err(unsent(e));
            }
            report.add_submitted(&submitted);
        }
        Ok(())
    }

    async fn note_feed_check(
        &self,
        seller: &SellerId,
        feed_id: &str,
        check: u32,
    ) -> Result<(), StockError> {
        let note = FeedCheck {
            feed_id: feed_id.to_owned(),
            seller_id: seller.clone(),
            check,
        };
        self.stock_queue
            .send_json_after(&note, self.feed_check)
            .await
            .map_err(|e| {
                StockError::Store(crate::kernel::StoreError::Conflict {
                    what: format!("feed check not queued: {e}"),
                })
            })
    }

    /// A feed's result read (or its next look noted, while Amazon is still at it).
    async fn check_feed(
        &self,
        check: &FeedCheck,
        warehouses: &mut HashMap<SellerId, Warehouse>,
        report: &mut StockReport,
    ) -> Result<Option<&'static str>, StockError> {
        let seller = &check.seller_id;
        let marketplaces = self.marketplaces().await?;
        let Some(marketplace) = marketplaces.get(seller) else {
            return Ok(Some("seller_not_registered"));
        };
        let warehouse = self.warehouse_of(warehouses, seller).await?;
        match self
            .sync()
            .settle_feed(seller, marketplace, &check.feed_id, &warehouse)
            .await?
        {
            FeedSettled::Unknown => {}
            FeedSettled::Processing if check.check + 1 >= MAX_FEED_CHECKS => {
                self.sync().abandon_feed(seller, &check.feed_id).await?;
                return Ok(Some("feed_unsettled"));
            }
            // Not noted: this check stays on the queue and is made again.
            FeedSettled::Processing => {
                self.note_feed_check(seller, &check.feed_id, check.check + 1)
                    .await?;
            }
            FeedSettled::Settled {
                accepted,
                rejected,
                rechecked,
                low_stock_alerts,
            } => {
                report.feeds_settled += 1;
                report.pushes += accepted;
                report.pushes_rejected += rejected;
                report.feed_rechecks += rechecked;
                report.low_stock_alerts += low_stock_alerts;
            }
            FeedSettled::Failed { lines, .. } => {
                report.feeds_failed += 1;
                report.pushes_failed += lines;
            }
        }
        Ok(None)
    }

    /// Each notified SKU's computed quantity against what Amazon says it now holds.
    async fn check_notices(
        &self,
        notices: &BTreeMap<SkuKey, Notices>,
        warehouses: &mut HashMap<SellerId, Warehouse>,
    ) -> Vec<(SkuKey, Result<Reconciled, StockError>)> {
        if notices.is_empty() {
            return Vec::new();
        }
        let marketplaces = match self.marketplaces().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error_kind = e.kind(), error = %e, "seller registry unreadable; quantity checks wait");
                let unread = || {
                    StockError::Store(crate::kernel::StoreError::Conflict {
                        what: "seller registry unread".into(),
                    })
                };
                return notices.keys().map(|k| (k.clone(), Err(unread()))).collect();
            }
        };
        let mut out = Vec::new();
        for ((seller, sku), Notices { quantity: held, .. }) in notices {
            let key = (seller.clone(), sku.clone());
            let Some(marketplace) = marketplaces.get(seller) else {
                out.push((key, Ok(Reconciled::NotManaged)));
                continue;
            };
            let checked = match self.warehouse_of(warehouses, seller).await {
                Ok(w) => {
                    self.sync()
                        .correct(seller, marketplace, sku, &w, Some(*held), false, None)
                        .await
                }
                Err(e) => Err(e),
            };
            out.push((key, checked));
        }
        out
    }

    /// Every SKU of the sellers (none named: every active seller) against what Amazon holds.
    pub async fn reconcile(&self, sellers: &[SellerId]) -> Result<StockReport, StockError> {
        let marketplaces = self.marketplaces().await?;
        let mut report = StockReport::default();
        let sellers: Vec<SellerId> = if sellers.is_empty() {
            marketplaces.keys().cloned().collect()
        } else {
            sellers.to_vec()
        };
        for seller in sellers {
            let Some(marketplace) = marketplaces.get(&seller) else {
                tracing::warn!(%seller, "not an active seller: not reconciled");
                continue;
            };
            let warehouse = self.ledger.warehouse(&seller).await?;
            let skus = self.ledger.skus(&seller).await?;
            if skus.len() >= self.feed_min_skus {
                // Too many to read one by one (5 a second): every SKU's quantity restated in
                // feeds of up to 25,000; a second run sends the same quantities again and
                // changes nothing.
                report.skus_checked += skus.len() as u32;
                // One seller's failure never stops the sellers after it.
                if let Err((sent, e)) = self
                    .send_feeds(&seller, marketplace, &skus, &warehouse, true, &mut report)
                    .await
                {
                    tracing::warn!(%seller, error_kind = e.kind(), error = %e, "reconciliation feed failed");
                    report.pushes_failed += (skus.len() - sent) as u32;
                }
                continue;
            }
            // Amazon read 20 SKUs a call (`searchListingsItems`, 5 a second).
            let parts: Vec<StockReport> = stream::iter(skus.chunks(SEARCH_SKUS))
                .map(|part| {
                    let (seller, warehouse) = (&seller, &warehouse);
                    async move {
                        let mut out = StockReport::default();
                        // One SKU's failure never stops the others, nor the sellers after it.
                        let failed = |out: &mut StockReport, e: &StockError, skus: usize| {
                            tracing::warn!(%seller, skus, error_kind = e.kind(), error = %e, "reconciliation of SKUs failed");
                            out.skus_checked += skus as u32;
                            out.pushes_failed += skus as u32;
                        };
                        match self
                            .sync()
                            .reconcile(seller, marketplace, part, warehouse)
                            .await
                        {
                            Ok(each) => {
                                for r in each {
                                    match r {
                                        Ok(r) => out.add_reconciled(&r),
                                        Err(e) => failed(&mut out, &e, 1),
                                    }
                                }
                            }
                            Err(e) => failed(&mut out, &e, part.len()),
                        }
                        out
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for part in parts {
                report.merge(part);
            }
        }
        tracing::info!(
            skus_checked = report.skus_checked,
            mismatches_corrected = report.mismatches_corrected,
            pushes_rejected = report.pushes_rejected,
            "reconciliation finished"
        );
        Ok(report)
    }

    /// One SQS batch: every message's movements applied, then each SKU touched pushed once.
    pub async fn handle_batch(&self, event: SqsEvent) -> StockReport {
        let now = self.clock.now();
        let mut report = StockReport::default();
        let mut endings: HashMap<String, Ending> = HashMap::new();
        let mut touched_by: HashMap<String, BTreeSet<SkuKey>> = HashMap::new();
        let mut warehouses: HashMap<SellerId, Warehouse> = HashMap::new();
        // Amazon's word on a SKU's quantity: message ids and the quantity per SKU.
        let mut notices: BTreeMap<SkuKey, Notices> = BTreeMap::new();
        // Movements of one message in order; messages one after another keep the reads of
        // locations shared (moto and DynamoDB see the same writes either way).
        for r in &event.records {
            let id = r.message_id.clone().unwrap_or_default();
            let receives: u32 = r
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let body = r.body.as_deref().unwrap_or_default();
            let letter = |kind: &str, reason: String, seller: Option<SellerId>, order| DeadLetter {
                seller_id: seller,
                order_id: order,
                ..DeadLetter::new(&id, kind, reason, receives, now)
            };
            let message = match StockMessage::parse(body) {
                Ok(m) => m,
                Err(e) => {
                    endings.insert(
                        id.clone(),
                        Ending::DeadLetter(letter("malformed", e.to_string(), None, None)),
                    );
                    continue;
                }
            };
            if let StockMessage::FeedCheck(check) = &message {
                let ending = match self.check_feed(check, &mut warehouses, &mut report).await {
                    Ok(None) => Ending::Done,
                    Ok(Some(kind)) => Ending::DeadLetter(letter(
                        kind,
                        format!("feed {}", check.feed_id),
                        Some(check.seller_id.clone()),
                        None,
                    )),
                    Err(e) if e.is_retryable() && receives < self.max_receives => {
                        tracing::warn!(message_id = %id, error_kind = e.kind(), error = %e, "feed result unread for now");
                        Ending::Retry(None)
                    }
                    Err(e) => Ending::DeadLetter(letter(
                        e.kind(),
                        e.to_string(),
                        Some(check.seller_id.clone()),
                        None,
                    )),
                };
                endings.insert(id.clone(), ending);
                continue;
            }
            if let StockMessage::QuantityChanged(n) = &message {
                report.quantity_notices += 1;
                if n.channel == crate::spapi::DEFAULT_CHANNEL {
                    let seen = notices
                        .entry((n.seller_id.clone(), n.sku.clone()))
                        .or_insert_with(|| Notices {
                            ids: Vec::new(),
                            quantity: n.quantity,
                            at: n.event_time,
                            receives,
                        });
                    // The newest word of Amazon's counts (notices arrive in any order).
                    if n.event_time > seen.at {
                        (seen.quantity, seen.at) = (n.quantity, n.event_time);
                    }
                    seen.receives = seen.receives.max(receives);
                    seen.ids.push(id.clone());
                }
                endings.insert(id.clone(), Ending::Done);
                continue;
            }
            let (seller, order) = (message.seller_id().clone(), message.order_id().cloned());
            let (movements, without_sku) = match message.movements(now) {
                Ok(m) => m,
                Err(e) => {
                    endings.insert(
                        id.clone(),
                        Ending::DeadLetter(letter("invalid", e.to_string(), Some(seller), order)),
                    );
                    continue;
                }
            };
            report.lines_without_sku += without_sku as u32;
            let warehouse = match self.warehouse_of(&mut warehouses, &seller).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(message_id = %id, error = %e, "warehouse unreadable; the message stays");
                    endings.insert(id.clone(), Ending::Retry(None));
                    continue;
                }
            };
            let mut parts = Vec::new();
            let mut stopped = None;
            for m in movements {
                match self.expand(m, &warehouse).await {
                    Ok(Ok(p)) => parts.extend(p),
                    Ok(Err(r)) => {
                        stopped = Some(Ending::DeadLetter(letter(
                            r.kind,
                            r.reason,
                            Some(seller.clone()),
                            order.clone(),
                        )));
                        break;
                    }
                    // The kit line unreadable for now: the message comes back.
                    Err(e) => {
                        tracing::warn!(message_id = %id, error_kind = e.kind(), error = %e, "kit line unreadable; the message stays");
                        stopped = Some(Ending::Retry(None));
                        break;
                    }
                }
            }
            if let Some(ending) = stopped {
                endings.insert(id.clone(), ending);
                continue;
            }
            let movements = parts;
            let mut ending = Ending::Done;
            for m in &movements {
                match self.sync().apply(m, &warehouse).await {
                    Ok(outcome) => {
                        report.add(&outcome);
                        if outcome.touches() {
                            touched_by
                                .entry(id.clone())
                                .or_default()
                                .insert((m.seller_id.clone(), m.sku.clone()));
                        }
                        if let MovementOutcome::Refused { kind, reason } = outcome {
                            // The queue keeps no order: a move may come before the receipt
                            // it moves, or before the seller's new location is set. It gets
                            // its receives before it is given up.
                            if WAIT_FOR_EARLIER.contains(&kind) && receives < self.max_receives {
                                tracing::info!(message_id = %id, movement_id = %m.movement_id, kind, receives, "movement refused for now; it comes back");
                                ending = Ending::Retry(None);
                                break;
                            }
                            ending = Ending::DeadLetter(letter(
                                kind,
                                format!("movement {}: {reason}", m.movement_id),
                                Some(seller.clone()),
                                order.clone(),
                            ));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(message_id = %id, movement_id = %m.movement_id, error_kind = e.kind(), error = %e, receives, "stock movement failed");
                        ending = if e.is_retryable() && receives < self.max_receives {
                            Ending::Retry(None)
                        } else {
                            Ending::DeadLetter(letter(
                                e.kind(),
                                e.to_string(),
                                Some(seller.clone()),
                                order.clone(),
                            ))
                        };
                        break;
                    }
                }
            }
            endings.insert(id, ending);
        }
        // A message touches the kits its components are part of too: a kit's failed push
        // keeps the message.
        for skus in touched_by.values_mut() {
            let kits: Vec<SkuKey> = skus
                .iter()
                .flat_map(|(seller, sku)| {
                    warehouses.get(seller).into_iter().flat_map(move |w| {
                        w.kits.containing(sku).map(|k| (seller.clone(), k.clone()))
                    })
                })
                .collect();
            skus.extend(kits);
        }
        let all: BTreeSet<SkuKey> = touched_by.values().flatten().cloned().collect();
        // A notified SKU this batch pushes needs no check: the push told Amazon.
        notices.retain(|k, _| !all.contains(k));
        let checks = self.check_notices(&notices, &mut warehouses).await;
        let (pushed, failed) = self.push_all(all, warehouses).await;
        report.merge(pushed);
        for (key, outcome) in checks {
            match outcome {
                Ok(r) => report.add_reconciled(&r),
                Err(e) => {
                    tracing::warn!(seller_id = %key.0, sku = %key.1, error_kind = e.kind(), error = %e, "quantity check failed for now");
                    report.pushes_failed += 1;
                    let n = &notices[&key];
                    for id in &n.ids {
                        let ending = if e.is_retryable() && n.receives < self.max_receives {
                            Ending::Retry(None)
                        } else {
                            Ending::DeadLetter(DeadLetter {
                                seller_id: Some(key.0.clone()),
                                ..DeadLetter::new(
                                    id,
                                    e.kind(),
                                    format!("quantity check of {}: {e}", key.1),
                                    n.receives,
                                    now,
                                )
                            })
                        };
                        endings.insert(id.clone(), ending);
                    }
                }
            }
        }
        // A message whose SKU could not be pushed comes back (its movements are repeats then).
        for (id, skus) in &touched_by {
            if skus.iter().any(|k| failed.contains(k)) && endings.get(id) == Some(&Ending::Done) {
                endings.insert(id.clone(), Ending::Retry(None));
            }
        }
        let endings = Mutex::new(endings);
        let handled = run_batch(&self.queue, event.records, CONCURRENCY, |m| {
            let ending = endings
                .lock()
                .expect("not poisoned")
                .remove(&m.message_id)
                .unwrap_or(Ending::Retry(None));
            async move { ((), ending) }
        })
        .await;
        for h in &handled {
            match h.finished {
                Finished::Kept => report.retried += 1,
                Finished::DeadLettered => report.dead_lettered += 1,
                Finished::Done => {}
            }
        }
        report.keep = kept(&handled);
        tracing::info!(
            movements_applied = report.movements_applied,
            movements_repeated = report.movements_repeated,
            pushes = report.pushes,
            pushes_unchanged = report.pushes_unchanged,
            pushes_rejected = report.pushes_rejected,
            dead_lettered = report.dead_lettered,
            retried = report.retried,
            "stock batch finished"
        );
        report
    }
}
