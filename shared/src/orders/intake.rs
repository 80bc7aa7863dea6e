//! Storing an order fetched from Amazon: the one path both intake routes take, the
//! notification handler (`order-events`) and the catch-up sweep (`order-sync`).
//!
//! Order of the steps, so that a Lambda dying anywhere loses nothing when the work is retried:
//! PII first (sealed, or purged when its date has passed), then the stock change, then the
//! order record. The record is written last and only if nothing else wrote it since it was
//! read; a stored record equal to the incoming one means every earlier step is done.

use crate::kernel::{AmazonOrderId, SellerId};
use crate::kernel::{AuditEvent, AuditKind, PiiKind};
use crate::kernel::{AuditLog, Clock};
use crate::kernel::{QueueError, StoreError};
use crate::orders::{FetchedOrder, OrderStore, OrderWrite, StoredOrder};
use crate::orders::{Order, OrderStatus, stock_change};
use crate::pii::VaultError;
use crate::pii::{KeysAhead, PiiSealer, PiiStatus, PurgeScope, SealRequest, SealedItems};
use crate::pii::{PiiState, PurgeReason, RetentionPolicy};
use crate::stock::StockChangeKind;
use crate::stock::{StockChange, StockEvents};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// How often a write that lost its race to another writer re-reads before giving up.
const MAX_RACES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("order {order_id} kept changing under {MAX_RACES} attempts to store it")]
    Contended { order_id: String },
}

impl IntakeError {
    pub fn kind(&self) -> &'static str {
        match self {
            IntakeError::Store(_) => "store",
            IntakeError::Vault(_) => "vault",
            IntakeError::Queue(_) => "queue",
            IntakeError::Contended { .. } => "contended",
        }
    }
}

/// What storing did to the order record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    Inserted,
    Updated,
    /// The same update of the order is stored already (a duplicate or a re-read).
    Unchanged,
    /// A later update of the order is stored; nothing was written.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intake {
    pub stored: Stored,
    pub pii_items_sealed: u32,
    pub pii_purged: bool,
    pub stock_change: Option<StockChangeKind>,
}

impl Intake {
    fn only(stored: Stored) -> Self {
        Self {
            stored,
            pii_items_sealed: 0,
            pii_purged: false,
            stock_change: None,
        }
    }
}

/// The actor intake writes in the audit log when it purges PII (a cancel, a date passed).
pub const INTAKE: &str = "order-intake";

pub struct OrderIntake<'a> {
    pub orders: &'a dyn OrderStore,
    pub vault: &'a dyn PiiSealer,
    pub sealed_items: &'a dyn SealedItems,
    pub audit: &'a dyn AuditLog,
    pub stock: &'a dyn StockEvents,
    pub clock: &'a dyn Clock,
    pub retention: RetentionPolicy,
}

/// One order's write, planned from the record read and the order fetched.
struct Planned {
    /// Index into the orders being stored.
    at: usize,
    merged: Order,
    stored: Option<StoredOrder>,
    purge_at: DateTime<Utc>,
    /// Its PII is to be sealed (else purged).
    held: bool,
    intake: Intake,
}

impl OrderIntake<'_> {
    /// Store one fetched order. Idempotent: the same update again changes nothing.
    pub async fn store(&self, fetched: &FetchedOrder) -> Result<Intake, IntakeError> {
        self.store_all(std::slice::from_ref(fetched))
            .await
            .pop()
            .expect("one answer per order")
    }

    /// Store many fetched orders (a batch of notifications, a page of the sweep), each step
    /// taken for all of them together: one read of the records, the PII sealed together (one
    /// data key per order still), the stock changes sent together, one conditional write of
    /// the records. Every guarantee of one order holds for each: PII and stock change before
    /// the record, each record written only over the revision read. The answers come in the
    /// order given, each apart: an order that fails a step costs itself, never the others;
    /// one that lost its race is read and planned again by itself.
    pub async fn store_all(&self, fetched: &[FetchedOrder]) -> Vec<Result<Intake, IntakeError>> {
        self.store_all_read(fetched, Vec::new(), &mut KeysAhead::none())
            .await
    }

    /// `store_all` with what the caller could have sooner, each taken while the orders were
    /// being fetched to save a step: the records read already (`read[i]` for `fetched[i]`,
    /// `None` or missing: not read; a record that moved since is read again, as after any
    /// race), and data keys asked for ahead (`ahead`; an order without one gets its own).
    pub async fn store_all_read(
        &self,
        fetched: &[FetchedOrder],
        mut read: Vec<Option<Result<Option<StoredOrder>, StoreError>>>,
        ahead: &mut KeysAhead,
    ) -> Vec<Result<Intake, IntakeError>> {
        read.resize_with(fetched.len(), || None);
        let mut answers: Vec<Option<Result<Intake, IntakeError>>> =
            crate::kernel::unanswered(fetched.len());
        // The same order twice: the later copy goes after the earlier one is stored.
        let mut waves: Vec<Vec<usize>> = Vec::new();
        let mut seen: HashMap<(&SellerId, &AmazonOrderId), usize> = HashMap::new();
        for (i, f) in fetched.iter().enumerate() {
            let copies = seen
                .entry((&f.order.seller_id, &f.order.order_id))
                .or_default();
            if waves.len() <= *copies {
                waves.push(Vec::new());
            }
            waves[*copies].push(i);
            *copies += 1;
        }
        for (n, wave) in waves.into_iter().enumerate() {
            if n > 0 {
                // A later copy of an order reads the record its earlier copy wrote.
                read.iter_mut().for_each(|r| *r = None);
            }
            let mut pending = wave;
            for _ in 0..MAX_RACES {
                if pending.is_empty() {
                    break;
                }
                // Someone (a warehouse move, another copy of a notification) wrote first.
                pending = self
                    .round(fetched, &pending, &mut read, ahead, &mut answers)
                    .await;
            }
            for i in pending {
                answers[i] = Some(Err(IntakeError::Contended {
                    order_id: fetched[i].order.order_id.to_string(),
                }));
            }
        }
        crate::kernel::answered(answers)
    }

    /// One attempt at the orders `pending` (distinct): each answered, or returned to be tried
    /// again because its record moved between the read and the write.
    async fn round(
        &self,
        fetched: &[FetchedOrder],
        pending: &[usize],
        read: &mut [Option<Result<Option<StoredOrder>, StoreError>>],
        ahead: &mut KeysAhead,
        answers: &mut [Option<Result<Intake, IntakeError>>],
    ) -> Vec<usize> {
        let unread: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&i| read[i].is_none())
            .collect();
        let keys: Vec<(SellerId, AmazonOrderId)> = unread
            .iter()
            .map(|&i| {
                let o = &fetched[i].order;
                (o.seller_id.clone(), o.order_id.clone())
            })
            .collect();
        for (&i, r) in unread.iter().zip(self.orders.load_many(&keys).await) {
            read[i] = Some(r);
        }
        let now = self.clock.now();
        let mut planned = Vec::new();
        for &i in pending {
            let Some(read) = read[i].take() else {
                continue;
            };
            match read {
                Ok(stored) => match self.plan(i, &fetched[i], stored, now) {
                    Ok(p) => planned.push(p),
                    Err(done) => answers[i] = Some(Ok(done)),
                },
                Err(e) => answers[i] = Some(Err(e.into())),
            }
        }

        // PII first: sealed together where it is held, purged where it is not (a cancel, a
        // date passed: one order at a time, seldom), both at once.
        let requests: Vec<SealRequest> = planned
            .iter()
            .filter(|p| p.held)
            .map(|p| SealRequest {
                seller: &p.merged.seller_id,
                order: &p.merged.order_id,
                order_updated_at: p.merged.last_updated_at,
                pii: &fetched[p.at].pii,
                purge_at: p.purge_at,
            })
            .collect();
        let sealing: Vec<usize> = planned.iter().filter(|p| p.held).map(|p| p.at).collect();
        let purging: Vec<&Planned> = planned.iter().filter(|p| !p.held).collect();
        let (sealed, purged) = futures::join!(self.vault.seal_many(&requests, ahead), async {
            let mut purged = Vec::with_capacity(purging.len());
            for p in purging {
                purged.push((p.at, self.purge(p, now).await));
            }
            purged
        });
        let mut failed: HashMap<usize, IntakeError> = HashMap::new();
        let mut states = HashMap::new();
        for (at, r) in sealing.into_iter().zip(sealed) {
            match r {
                Ok(n) => {
                    if let Some(p) = planned.iter_mut().find(|p| p.at == at) {
                        p.intake.pii_items_sealed = n as u32;
                    }
                }
                Err(e) => {
                    failed.insert(at, e.into());
                }
            }
        }
        for (at, r) in purged {
            match r {
                Ok((state, items)) => {
                    if let Some(p) = planned.iter_mut().find(|p| p.at == at) {
                        p.intake.pii_purged = items > 0;
                    }
                    states.insert(at, state);
                }
                Err(e) => {
                    failed.insert(at, e);
                }
            }
        }
        planned.retain(|p| !failed.contains_key(&p.at));

        // Then the stock changes, announced together, only for orders whose PII step went
        // through (a reserve announced for an order that then fails for good would hold stock
        // no record stands behind), and before the records: a crash in between announces a
        // change again (same change id, applied once) instead of never.
        let changes: Vec<(usize, StockChange)> = planned
            .iter()
            .filter_map(|p| {
                stock_change(p.stored.as_ref().map(|s| &s.order), &p.merged).map(|c| (p.at, c))
            })
            .collect();
        let announced: Vec<StockChange> = changes.iter().map(|(_, c)| c.clone()).collect();
        let sent = self.stock.publish_many(&announced).await;
        for ((at, change), r) in changes.iter().zip(sent) {
            match r {
                Ok(()) => {
                    if let Some(p) = planned.iter_mut().find(|p| p.at == *at) {
                        p.intake.stock_change = Some(change.kind);
                    }
                }
                Err(e) => {
                    failed.insert(*at, e.into());
                }
            }
        }
        planned.retain(|p| !failed.contains_key(&p.at));

        // The records last, each over the revision read.
        let writes: Vec<OrderWrite> = planned
            .iter()
            .map(|p| OrderWrite {
                order: p.merged.clone(),
                pii: self.status(p, &fetched[p.at], states.get(&p.at).copied()),
                expected: p.stored.as_ref().map(|s| s.revision),
            })
            .collect();
        let written = self.orders.save_many(&writes).await;
        let mut raced = Vec::new();
        for (p, w) in planned.iter().zip(written) {
            match w {
                Ok(Some(_)) => answers[p.at] = Some(Ok(p.intake)),
                Ok(None) => raced.push(p.at),
                Err(e) => answers[p.at] = Some(Err(e.into())),
            }
        }
        for (at, e) in failed {
            answers[at] = Some(Err(e));
        }
        raced
    }

    /// What storing `fetched` over `stored` takes, or `Err` with the answer when it takes
    /// nothing (a later update stored, or this one already).
    fn plan(
        &self,
        at: usize,
        fetched: &FetchedOrder,
        stored: Option<StoredOrder>,
        now: DateTime<Utc>,
    ) -> Result<Planned, Intake> {
        let incoming = &fetched.order;
        let before = stored.as_ref().map(|s| &s.order);
        let merged = match before {
            Some(b) if b.last_updated_at > incoming.last_updated_at => {
                return Err(Intake::only(Stored::Stale));
            }
            // Amazon knows nothing of picking or packing: its status is merged into ours,
            // never moving the order back.
            Some(b) => Order {
                status: b.status.with_amazon(incoming.status),
                delivered_at: b.delivered_at.or(incoming.delivered_at),
                label_blocked: b.label_blocked.clone(),
                parcels: b.parcels.clone(),
                ..incoming.clone()
            },
            None => incoming.clone(),
        };
        if before == Some(&merged) {
            return Err(Intake::only(Stored::Unchanged));
        }
        let purge_at = self.retention.purge_at(&merged.retention_facts(now));
        let was = stored.as_ref().map_or(PiiState::None, |s| s.pii.state);
        // Deleted on request: never sealed again, whatever Amazon still sends.
        let held = purge_at > now && !fetched.pii.is_empty() && !was.deleted_on_request();
        let intake = Intake::only(if before.is_some() {
            Stored::Updated
        } else {
            Stored::Inserted
        });
        Ok(Planned {
            at,
            merged,
            stored,
            purge_at,
            held,
            intake,
        })
    }

    /// The order's PII purged (it is not to be held): its state after, on record in the
    /// audit log before the record says purged (a retry after a failure here finds the record
    /// still held and records it again: at least once, never lost).
    async fn purge(
        &self,
        p: &Planned,
        now: DateTime<Utc>,
    ) -> Result<(PiiState, usize), IntakeError> {
        let merged = &p.merged;
        let purged_items = self
            .sealed_items
            .purge(&merged.seller_id, &merged.order_id, PurgeScope::All)
            .await?;
        let was = p.stored.as_ref().map_or(PiiState::None, |s| s.pii.state);
        let state = match was {
            // Purged before: the first purge's date and reason stand.
            PiiState::Purged { .. } => was,
            PiiState::Held => PiiState::Purged {
                at: now,
                reason: purge_reason(merged),
            },
            PiiState::None if purged_items > 0 => PiiState::Purged {
                at: now,
                reason: purge_reason(merged),
            },
            PiiState::None => PiiState::None,
        };
        if let PiiState::Purged { reason, .. } = state
            && (was == PiiState::Held || purged_items > 0)
        {
            self.audit
                .record(
                    &AuditEvent::new(AuditKind::PiiPurge, INTAKE, reason.as_str(), now)
                        .order(&merged.seller_id, &merged.order_id)
                        .count(purged_items as u64),
                )
                .await?;
        }
        Ok((state, purged_items))
    }

    /// The PII status the record is written with; `purged`: the state a purge left.
    fn status(&self, p: &Planned, fetched: &FetchedOrder, purged: Option<PiiState>) -> PiiStatus {
        let stored = p.stored.as_ref();
        // The items held: what was sealed before (still held) and what was sealed now.
        let mut sealed_kinds: Vec<PiiKind> = match stored {
            Some(s) if p.held && s.pii.state == PiiState::Held => s.pii.sealed_kinds.clone(),
            _ => Vec::new(),
        };
        if p.held {
            for kind in fetched.pii.kinds() {
                if !sealed_kinds.contains(&kind) {
                    sealed_kinds.push(kind);
                }
            }
        }
        PiiStatus {
            state: if p.held {
                PiiState::Held
            } else {
                purged.unwrap_or(PiiState::None)
            },
            purge_at: p.purge_at,
            sealed_kinds,
            // The buyer's requests, not Amazon's: no update of the order lifts them.
            restricted: stored.and_then(|s| s.pii.restricted.clone()),
            ship_to_corrected: stored.and_then(|s| s.pii.ship_to_corrected.clone()),
        }
    }
}

fn purge_reason(order: &Order) -> PurgeReason {
    if order.status == OrderStatus::Canceled {
        PurgeReason::Canceled
    } else {
        PurgeReason::Retention
    }
}
