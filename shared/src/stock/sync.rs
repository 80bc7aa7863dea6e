//! [`StockSync`]: a movement applied once (planned over a fresh read, written in one
//! conditional transaction, planned again if someone came first), and a SKU's available
//! quantity pushed to Amazon only when it differs from what Amazon last accepted.

use super::kits::{Warehouse, kit_available};
use super::model::{Movement, SkuPosition};
use super::plan::{Planned, plan};
use super::ports::{
    Applied, FeedEntry, FeedLine, FeedProgress, FeedRecord, ListingAnswer, ListingError,
    ListingFeeds, Listings, SEARCH_SKUS, StockLedger,
};
use crate::kernel::{Clock, MarketplaceId, SellerId, Sku, StoreError};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::HashMap;

/// Plans of one movement tried before it is left for a later delivery (each lost to a writer
/// that came first).
const MAX_ATTEMPTS: u32 = 12;
/// Pushes of one SKU in one call: a push is followed by a read, and by another push if the
/// stock moved meanwhile (a push that landed after a newer one is put right at once).
const MAX_PUSH_ROUNDS: u32 = 3;
/// SKUs read (and recorded) at once while a feed is built and its result read.
const FEED_CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Listing(#[from] ListingError),
    #[error("movement {movement_id} lost {attempts} times to other writers")]
    Contended { movement_id: String, attempts: u32 },
    /// Each push of the SKU was overtaken by a movement: Amazon may hold an older quantity
    /// than the ledger's, so the push is to be made again (a redelivery, Amazon's
    /// quantity-change notice, or the reconciliation).
    #[error("the quantity of {sku} moved during each of {rounds} pushes")]
    PushContended { sku: String, rounds: u32 },
}

impl StockError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StockError::Store(StoreError::Failed(f)) => {
                f.failure != crate::kernel::Failure::Refused
            }
            StockError::Store(StoreError::Conflict { .. }) => true,
            StockError::Store(StoreError::Corrupt { .. }) => false,
            StockError::Listing(ListingError::Retryable(_)) => true,
            StockError::Listing(ListingError::Refused(_)) => false,
            StockError::Contended { .. } | StockError::PushContended { .. } => true,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            StockError::Store(_) => "store",
            StockError::Listing(_) => "listings",
            StockError::Contended { .. } => "contended",
            StockError::PushContended { .. } => "push_contended",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MovementOutcome {
    Applied {
        /// Units a pick or shipment did not find on the shelves.
        short: u32,
        /// The SKU had no stock record before this movement.
        unknown_sku: bool,
        /// Plans lost to other writers before this one went through.
        conflicts: u32,
    },
    AlreadyApplied,
    Nothing {
        why: &'static str,
    },
    Refused {
        kind: &'static str,
        reason: String,
    },
}

impl MovementOutcome {
    /// Whether the SKU's quantity may have changed (a repeat counts: its first push may have
    /// failed).
    pub fn touches(&self) -> bool {
        matches!(
            self,
            MovementOutcome::Applied { .. } | MovementOutcome::AlreadyApplied
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Not a SKU the suite keeps stock of (see `SkuPosition::managed`): Amazon is not told.
    NotManaged,
    /// Amazon already holds the available quantity: no call.
    Unchanged {
        available: u32,
    },
    Pushed {
        available: u32,
        calls: u32,
    },
    Rejected {
        available: u32,
        codes: Vec<String>,
    },
}

/// A push, and whether it raised the SKU's low-stock alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub outcome: PushOutcome,
    pub low_stock_alert: bool,
}

/// What a reconciliation found for one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// Not a SKU the suite keeps stock of: left as Amazon has it.
    NotManaged,
    InAgreement {
        available: u32,
    },
    /// Amazon held `held` (`None`: no quantity), now `available`.
    Corrected {
        held: Option<u32>,
        available: u32,
    },
    Rejected {
        held: Option<u32>,
        available: u32,
        codes: Vec<String>,
    },
}

/// What building and sending a feed came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedSubmitted {
    /// `None`: nothing to send.
    pub feed_id: Option<String>,
    pub lines: u32,
    /// SKUs whose quantity Amazon already holds (left out unless every SKU is asked for).
    pub unchanged: u32,
    pub not_managed: u32,
    /// SKUs without a listing (no product type to send): recorded as refused.
    pub rejected: u32,
    /// Listings calls made to learn product types.
    pub calls: u32,
}

/// What reading a feed's result came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSettled {
    /// Never recorded, or its result read already: nothing to do.
    Unknown,
    Processing,
    Settled {
        accepted: u32,
        rejected: u32,
        /// SKUs that moved while the feed was processed: checked again, pushed if need be.
        rechecked: u32,
        low_stock_alerts: u32,
    },
    /// Fatal or cancelled: nothing applied; what Amazon held stands (the next
    /// reconciliation corrects it).
    Failed {
        codes: Vec<String>,
        lines: u32,
    },
}

enum EntrySettled {
    Accepted { low_stock: bool, moved: bool },
    Rejected,
}

/// A stock alert: ids and counts only.
pub fn alert(kind: &'static str, seller: &SellerId, sku: &Sku, detail: &str) {
    tracing::warn!(alert = kind, %seller, %sku, detail, "stock alert");
}

/// The SKU's position as read, and its available quantity if the suite keeps its stock
/// (`None`: Amazon is not told). A kit's comes from its components, read after its head, so
/// the head's movement count is no newer than the components' figures.
pub async fn standing(
    ledger: &dyn StockLedger,
    seller: &SellerId,
    sku: &Sku,
    warehouse: &Warehouse,
) -> Result<(SkuPosition, Option<u32>), StoreError> {
    let locations = &warehouse.locations;
    let position = ledger.position(seller, sku).await?;
    let Some(components) = warehouse.kits.components(sku) else {
        let available = position
            .managed(locations)
            .then(|| position.available(locations));
        return Ok((position, available));
    };
    if locations.locations.is_empty() {
        return Ok((position, None));
    }
    let mut parts = Vec::with_capacity(components.len());
    for c in components {
        let part = ledger.position(seller, &c.sku).await?;
        // A component the suite keeps no stock of (stocked elsewhere, never received): the
        // kit is not the suite's to tell Amazon about either.
        if !part.managed(locations) {
            return Ok((position, None));
        }
        parts.push(part);
    }
    let available = kit_available(components, &parts, locations, position.settings.buffer);
    Ok((position, Some(available)))
}

/// Apply one movement of one SKU (a kit's are its components', see `Kits::expand`): planned
/// over a fresh read of the ledger, written in one conditional transaction, planned again when
/// another writer came first. It needs the ledger only: the staff API applies a movement
/// itself, so its answer says what happened, and stock-sync applies the same one (a repeat).
pub async fn apply_movement(
    ledger: &dyn StockLedger,
    m: &Movement,
    warehouse: &Warehouse,
) -> Result<MovementOutcome, StockError> {
    let locations = &warehouse.locations;
    let kit_heads: Vec<_> = warehouse.kits.containing(&m.sku).cloned().collect();
    let mut conflicts = 0;
    loop {
        let position = ledger.position(&m.seller_id, &m.sku).await?;
        let hold = match (m.kind.order_item(), &m.order_id) {
            (Some(item), Some(order)) => ledger.hold(&m.seller_id, &m.sku, order, item).await?,
            _ => None,
        };
        let mut planned = plan(m, &position, hold.as_ref(), locations);
        if let Planned::Apply(p) = &mut planned {
            p.kit_heads.clone_from(&kit_heads);
        }
        match planned {
            Planned::Apply(p) => match ledger.apply(m, &p).await? {
                Applied::Applied => {
                    // An order for a SKU the warehouse has no record of (a first receipt
                    // of a new SKU is no surprise).
                    let unknown_sku = !position.known && m.kind.order_item().is_some();
                    if unknown_sku {
                        alert("unknown_sku", &m.seller_id, &m.sku, m.kind.name());
                    }
                    if p.short > 0 {
                        alert(
                            "short_pick",
                            &m.seller_id,
                            &m.sku,
                            &format!("{} units not on the shelves", p.short),
                        );
                    }
                    return Ok(MovementOutcome::Applied {
                        short: p.short,
                        unknown_sku,
                        conflicts,
                    });
                }
                Applied::AlreadyApplied => return Ok(MovementOutcome::AlreadyApplied),
                Applied::Stale => {
                    conflicts += 1;
                    if conflicts >= MAX_ATTEMPTS {
                        return Err(StockError::Contended {
                            movement_id: m.movement_id.to_string(),
                            attempts: conflicts,
                        });
                    }
                }
            },
            // A repeat finds the stock already moved by its first copy: it is that copy.
            Planned::Nothing { why } => {
                return Ok(if ledger.recorded(m).await? {
                    MovementOutcome::AlreadyApplied
                } else {
                    MovementOutcome::Nothing { why }
                });
            }
            Planned::Refused { kind, reason } => {
                return Ok(if ledger.recorded(m).await? {
                    MovementOutcome::AlreadyApplied
                } else {
                    MovementOutcome::Refused { kind, reason }
                });
            }
        }
    }
}

pub struct StockSync<'a> {
    pub ledger: &'a dyn StockLedger,
    pub listings: &'a dyn Listings,
    pub feeds: &'a dyn ListingFeeds,
    pub clock: &'a dyn Clock,
}

impl StockSync<'_> {
    /// Apply one movement of one SKU (see [`apply_movement`]).
    pub async fn apply(
        &self,
        m: &Movement,
        warehouse: &Warehouse,
    ) -> Result<MovementOutcome, StockError> {
        apply_movement(self.ledger, m, warehouse).await
    }

    /// Push the SKU's available quantity if Amazon does not hold it already.
    pub async fn push(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
        warehouse: &Warehouse,
    ) -> Result<Pushed, StockError> {
        let mut low_stock_alert = false;
        let outcome = self
            .push_rounds(seller, marketplace, sku, warehouse, &mut low_stock_alert)
            .await?;
        Ok(Pushed {
            outcome,
            low_stock_alert,
        })
    }

    async fn push_rounds(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
        warehouse: &Warehouse,
        low_stock_alert: &mut bool,
    ) -> Result<PushOutcome, StockError> {
        let mut calls = 0;
        let mut available = 0;
        // Set when our record of what Amazon holds lost to a movement since our read: another
        // push may have landed before ours, so the record is not to be trusted; push again.
        let mut distrust = false;
        for _ in 0..MAX_PUSH_ROUNDS {
            let (position, managed) = standing(self.ledger, seller, sku, warehouse).await?;
            let Some(managed) = managed else {
                return Ok(PushOutcome::NotManaged);
            };
            available = managed;
            let mut listing = position.listing.clone();
            *low_stock_alert |=
                self.mark_low_stock(seller, sku, &position, available, &mut listing);
            if !distrust && listing.accepted_quantity == Some(available) {
                if listing != position.listing {
                    self.ledger
                        .record_listing(seller, sku, &listing, position.movements)
                        .await?;
                }
                return Ok(if calls == 0 {
                    PushOutcome::Unchanged { available }
                } else {
                    PushOutcome::Pushed { available, calls }
                });
            }
            let product_type = match &listing.product_type {
                Some(t) => t.clone(),
                None => {
                    calls += 1;
                    match self.listings.product_type(seller, marketplace, sku).await? {
                        Some(t) => {
                            listing.product_type = Some(t.clone());
                            t
                        }
                        None => {
                            let codes = vec!["LISTING_NOT_FOUND".to_owned()];
                            return self
                                .rejected(seller, sku, listing, &position, available, codes)
                                .await;
                        }
                    }
                }
            };
            calls += 1;
            match self
                .listings
                .set_quantity(seller, marketplace, sku, &product_type, available)
                .await?
            {
                ListingAnswer::Accepted => {
                    listing.accepted_quantity = Some(available);
                    listing.accepted_at = Some(self.clock.now());
                    listing.rejected_codes.clear();
                    distrust = !self
                        .ledger
                        .record_listing(seller, sku, &listing, position.movements)
                        .await?;
                }
                ListingAnswer::Rejected { codes } => {
                    return self
                        .rejected(seller, sku, listing, &position, available, codes)
                        .await;
                }
            }
        }
        if distrust {
            return Err(StockError::PushContended {
                sku: sku.to_string(),
                rounds: MAX_PUSH_ROUNDS,
            });
        }
        Ok(PushOutcome::Pushed { available, calls })
    }

    async fn rejected(
        &self,
        seller: &SellerId,
        sku: &Sku,
        mut listing: super::model::ListingState,
        read: &SkuPosition,
        available: u32,
        codes: Vec<String>,
    ) -> Result<PushOutcome, StockError> {
        alert("push_rejected", seller, sku, &codes.join(","));
        listing.rejected_codes = codes.clone();
        // Lost to a movement: that movement's own push records what Amazon says then.
        self.ledger
            .record_listing(seller, sku, &listing, read.movements)
            .await?;
        Ok(PushOutcome::Rejected { available, codes })
    }

    /// Build one `JSON_LISTINGS_FEED` of the SKUs' available quantities and send it; what it
    /// holds is recorded until its result is read (`settle_feed`). `every`: every SKU the
    /// suite keeps is sent (a reconciliation restates them all); otherwise only those whose
    /// quantity differs from what Amazon last accepted.
    pub async fn submit_feed(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        skus: &[Sku],
        warehouse: &Warehouse,
        every: bool,
    ) -> Result<FeedSubmitted, StockError> {
        let mut out = FeedSubmitted::default();
        let (mut lines, mut entries) = (Vec::new(), Vec::new());
        let standings: Vec<(&Sku, SkuPosition, Option<u32>)> = stream::iter(skus)
            .map(|sku| async move {
                standing(self.ledger, seller, sku, warehouse)
                    .await
                    .map(|(p, a)| (sku, p, a))
            })
            .buffered(FEED_CONCURRENCY)
            .try_collect()
            .await?;
        let mut sending = Vec::new();
        for (sku, position, available) in standings {
            let Some(available) = available else {
                out.not_managed += 1;
                continue;
            };
            if !every && position.listing.accepted_quantity == Some(available) {
                out.unchanged += 1;
                continue;
            }
            sending.push((sku, position, available));
        }
        // Product types not yet known, 20 SKUs a call; each one learned is kept.
        let unknown: Vec<&(&Sku, SkuPosition, u32)> = sending
            .iter()
            .filter(|(_, p, _)| p.listing.product_type.is_none())
            .collect();
        // Each search's types are kept at once: a run stopped half way (a failed call, the
        // time limit) does not read them again.
        let mut learned = HashMap::new();
        for part in unknown.chunks(SEARCH_SKUS) {
            out.calls += 1;
            let skus: Vec<Sku> = part.iter().map(|(sku, _, _)| (*sku).clone()).collect();
            let found: HashMap<Sku, String> = self
                .listings
                .search(seller, marketplace, &skus)
                .await?
                .into_iter()
                .filter_map(|(sku, l)| l.product_type.map(|t| (sku, t)))
                .collect();
            stream::iter(part.iter().filter_map(|(sku, position, _)| {
                let mut known = position.listing.clone();
                known.product_type = Some(found.get(*sku)?.clone());
                Some(async move {
                    // Lost to a movement: the type is read again next time.
                    self.ledger
                        .record_listing(seller, sku, &known, position.movements)
                        .await
                })
            }))
            .buffer_unordered(FEED_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
            learned.extend(found);
        }
        for (sku, position, available) in sending {
            let listing = &position.listing;
            let Some(product_type) = listing
                .product_type
                .clone()
                .or_else(|| learned.get(sku).cloned())
            else {
                let codes = vec!["LISTING_NOT_FOUND".to_owned()];
                self.rejected(seller, sku, listing.clone(), &position, available, codes)
                    .await?;
                out.rejected += 1;
                continue;
            };
            lines.push(FeedLine {
                sku: sku.clone(),
                product_type,
                quantity: available,
            });
            entries.push(FeedEntry {
                sku: sku.clone(),
                quantity: available,
                seen: position.movements,
            });
        }
        if lines.is_empty() {
            return Ok(out);
        }
        let feed_id = self.feeds.submit(seller, marketplace, &lines).await?;
        let record = FeedRecord {
            feed_id: feed_id.clone(),
            entries,
        };
        if let Err(e) = self.ledger.record_feed(seller, &record).await {
            // Amazon has the feed and nothing will read its result: its SKUs are pushed
            // again next time, whatever their records say.
            tracing::warn!(alert = "feed_unsettled", %seller, feed_id, "stock alert");
            if let Err(also) = self.distrust_entries(seller, &record).await {
                tracing::warn!(error_kind = also.kind(), error = %also, feed_id, "feed's SKUs not marked");
            }
            return Err(e.into());
        }
        tracing::info!(%seller, feed_id, lines = lines.len(), "listings feed submitted");
        out.lines = lines.len() as u32;
        out.feed_id = Some(feed_id);
        Ok(out)
    }

    /// Read a submitted feed's result and record what Amazon accepted and refused, SKU by
    /// SKU. A SKU that moved since the feed was built may now hold the feed's older quantity
    /// at Amazon (a feed lands minutes after it is sent): it is checked against the feed's
    /// quantity and pushed again if that is no longer right.
    pub async fn settle_feed(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        feed_id: &str,
        warehouse: &Warehouse,
    ) -> Result<FeedSettled, StockError> {
        let Some(record) = self.ledger.feed(seller, feed_id).await? else {
            return Ok(FeedSettled::Unknown);
        };
        let rejected = match self.feeds.progress(seller, feed_id).await? {
            FeedProgress::Processing => return Ok(FeedSettled::Processing),
            FeedProgress::Failed { codes } => {
                let detail = format!("feed {feed_id}: {}", codes.join(","));
                tracing::warn!(alert = "feed_failed", %seller, detail, "stock alert");
                self.distrust_entries(seller, &record).await?;
                self.ledger.forget_feed(seller, feed_id).await?;
                return Ok(FeedSettled::Failed {
                    codes,
                    lines: record.entries.len() as u32,
                });
            }
            FeedProgress::Done { rejected } => rejected,
        };
        // Every line is settled, whatever another's fate: a line that fails for now keeps the
        // record (and the note comes back for it); one refused for good is alarmed.
        let rejected = &rejected;
        let outcomes: Vec<(&Sku, Result<EntrySettled, StockError>)> =
            stream::iter(record.entries.iter().zip(1u32..))
                .map(|(entry, message_id)| async move {
                    let settled = self
                        .settle_entry(
                            seller,
                            marketplace,
                            warehouse,
                            entry,
                            rejected.get(&message_id),
                        )
                        .await;
                    (&entry.sku, settled)
                })
                .buffer_unordered(FEED_CONCURRENCY)
                .collect()
                .await;
        let (mut accepted, mut refused, mut rechecked, mut low_stock_alerts) = (0, 0, 0, 0);
        let mut later = None;
        for (sku, o) in outcomes {
            match o {
                Ok(EntrySettled::Rejected) => refused += 1,
                Ok(EntrySettled::Accepted { low_stock, moved }) => {
                    accepted += 1;
                    low_stock_alerts += u32::from(low_stock);
                    rechecked += u32::from(moved);
                }
                Err(e) if e.is_retryable() => later = Some(e),
                Err(e) => {
                    alert("push_rejected", seller, sku, e.kind());
                    refused += 1;
                }
            }
        }
        if let Some(e) = later {
            return Err(e);
        }
        self.ledger.forget_feed(seller, feed_id).await?;
        tracing::info!(%seller, feed_id, accepted, rejected = refused, rechecked, "listings feed settled");
        Ok(FeedSettled::Settled {
            accepted,
            rejected: refused,
            rechecked,
            low_stock_alerts,
        })
    }

    /// One feed line's result recorded (see `settle_feed`). What the feed sent is right only
    /// if it is still the computed quantity (a movement, a buffer or a location changed since
    /// may have moved it): otherwise it is corrected now.
    async fn settle_entry(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        warehouse: &Warehouse,
        entry: &FeedEntry,
        rejected: Option<&Vec<String>>,
    ) -> Result<EntrySettled, StockError> {
        let sku = &entry.sku;
        let (position, available) = standing(self.ledger, seller, sku, warehouse).await?;
        if let Some(codes) = rejected {
            self.rejected(
                seller,
                sku,
                position.listing.clone(),
                &position,
                entry.quantity,
                codes.clone(),
            )
            .await?;
            return Ok(EntrySettled::Rejected);
        }
        let (mut low_stock, mut kept) = (false, false);
        if available == Some(entry.quantity) {
            let mut listing = position.listing.clone();
            listing.accepted_quantity = Some(entry.quantity);
            listing.accepted_at = Some(self.clock.now());
            listing.rejected_codes.clear();
            low_stock = self.mark_low_stock(seller, sku, &position, entry.quantity, &mut listing);
            kept = self
                .ledger
                .record_listing(seller, sku, &listing, position.movements)
                .await?;
        }
        if !kept {
            self.correct(
                seller,
                marketplace,
                sku,
                warehouse,
                Some(entry.quantity),
                true,
                None,
            )
            .await?;
        }
        Ok(EntrySettled::Accepted {
            low_stock,
            moved: !kept,
        })
    }

    /// A feed whose result will not be read (its first check could not be queued, or Amazon
    /// never finished it): its record is kept for an on-demand `check_feed`, and its SKUs are
    /// pushed again next time, whatever their records say.
    pub async fn abandon_feed(&self, seller: &SellerId, feed_id: &str) -> Result<(), StockError> {
        tracing::warn!(alert = "feed_unsettled", %seller, feed_id, "stock alert");
        match self.ledger.feed(seller, feed_id).await? {
            Some(record) => self.distrust_entries(seller, &record).await,
            None => Ok(()),
        }
    }

    /// A feed that failed may have applied some, none or all of its lines (Amazon's word for
    /// `FATAL`): what Amazon holds of them is unknown, so their next push is made whatever the
    /// record says.
    async fn distrust_entries(
        &self,
        seller: &SellerId,
        record: &FeedRecord,
    ) -> Result<(), StockError> {
        stream::iter(&record.entries)
            .map(|entry| async move {
                let position = self.ledger.position(seller, &entry.sku).await?;
                let mut listing = position.listing.clone();
                listing.accepted_quantity = None;
                // Lost to a movement: that movement's push tells Amazon.
                self.ledger
                    .record_listing(seller, &entry.sku, &listing, position.movements)
                    .await?;
                Ok::<_, StockError>(())
            })
            .buffer_unordered(FEED_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    fn mark_low_stock(
        &self,
        seller: &SellerId,
        sku: &Sku,
        position: &SkuPosition,
        available: u32,
        listing: &mut super::model::ListingState,
    ) -> bool {
        let low = position
            .settings
            .low_stock_at
            .is_some_and(|t| available <= t);
        let alerted = low && !listing.low_stock;
        if alerted {
            alert("low_stock", seller, sku, &format!("{available} available"));
        }
        listing.low_stock = low;
        alerted
    }

    /// Up to [`SEARCH_SKUS`] SKUs checked against what Amazon holds, read in one call, and
    /// corrected where it differs. `Err`: Amazon could not be read for any of them.
    pub async fn reconcile(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        skus: &[Sku],
        warehouse: &Warehouse,
    ) -> Result<Vec<Result<Reconciled, StockError>>, StockError> {
        let found = self.listings.search(seller, marketplace, skus).await?;
        Ok(stream::iter(skus)
            .then(|sku| {
                // Absent from the answer: the seller has no listing of it.
                let listed = found.get(sku);
                let held = listed.and_then(|l| l.quantity);
                let product_type = listed.and_then(|l| l.product_type.as_deref());
                self.correct(
                    seller,
                    marketplace,
                    sku,
                    warehouse,
                    held,
                    true,
                    product_type,
                )
            })
            .collect()
            .await)
    }

    /// Correct what Amazon holds (`held`, as just read or as a quantity-change notification
    /// says) if it is not the computed available quantity. A stale notification costs at most
    /// one push of the right quantity, never a wrong one.
    /// `fresh`: `held` was read just now (a notice may be older than our last push: when it
    /// agrees with the ledger but not with our record, a push is made rather than the notice
    /// believed). `product_type`: the listing's, if the read gave it (kept if not yet known,
    /// so a push needs no read of its own).
    #[allow(clippy::too_many_arguments)]
    pub async fn correct(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
        warehouse: &Warehouse,
        held: Option<u32>,
        fresh: bool,
        product_type: Option<&str>,
    ) -> Result<Reconciled, StockError> {
        let (position, available) = standing(self.ledger, seller, sku, warehouse).await?;
        let Some(available) = available else {
            return Ok(Reconciled::NotManaged);
        };
        let believed = fresh || position.listing.accepted_quantity == held;
        let learned = position.listing.product_type.is_none() && product_type.is_some();
        let with_type = |mut listing: super::model::ListingState| {
            if listing.product_type.is_none() {
                listing.product_type = product_type.map(str::to_owned);
            }
            listing
        };
        if held == Some(available) && believed {
            if position.listing.accepted_quantity != Some(available) || learned {
                let mut listing = with_type(position.listing.clone());
                listing.accepted_quantity = Some(available);
                listing.accepted_at = Some(self.clock.now());
                // Lost to a movement: its own push tells Amazon.
                self.ledger
                    .record_listing(seller, sku, &listing, position.movements)
                    .await?;
            }
            return Ok(Reconciled::InAgreement { available });
        }
        // Amazon holds something else: forget what we thought it accepted, and push.
        let mut listing = with_type(position.listing.clone());
        listing.accepted_quantity = held;
        self.ledger
            .record_listing(seller, sku, &listing, position.movements)
            .await?;
        let pushed = self.push(seller, marketplace, sku, warehouse).await?;
        Ok(match pushed.outcome {
            PushOutcome::NotManaged => Reconciled::NotManaged,
            PushOutcome::Rejected { available, codes } => Reconciled::Rejected {
                held,
                available,
                codes,
            },
            PushOutcome::Pushed { available, .. } | PushOutcome::Unchanged { available } => {
                Reconciled::Corrected { held, available }
            }
        })
    }
}
