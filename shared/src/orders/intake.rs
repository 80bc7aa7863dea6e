//! Storing an order fetched from Amazon: the one path both intake routes take, the
//! notification handler (`order-events`) and the catch-up sweep (`order-sync`).
//!
//! Order of the steps, so that a Lambda dying anywhere loses nothing when the work is retried:
//! PII first (sealed, or purged when its date has passed), then the stock change, then the
//! order record. The record is written last and only if nothing else wrote it since it was
//! read; a stored record equal to the incoming one means every earlier step is done.

use crate::kernel::{AuditEvent, AuditKind, PiiKind};
use crate::kernel::{AuditLog, Clock};
use crate::kernel::{QueueError, StoreError};
use crate::orders::{FetchedOrder, OrderStore};
use crate::orders::{Order, OrderStatus, stock_change};
use crate::pii::VaultError;
use crate::pii::{PiiSealer, PiiStatus, PurgeScope, SealedItems};
use crate::pii::{PiiState, PurgeReason, RetentionPolicy};
use crate::stock::StockChangeKind;
use crate::stock::StockEvents;
use serde::Serialize;

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

impl OrderIntake<'_> {
    /// Store one fetched order. Idempotent: the same update again changes nothing.
    pub async fn store(&self, fetched: &FetchedOrder) -> Result<Intake, IntakeError> {
        let incoming = &fetched.order;
        for _ in 0..MAX_RACES {
            let stored = self
                .orders
                .load(&incoming.seller_id, &incoming.order_id)
                .await?;
            let before = stored.as_ref().map(|s| &s.order);
            let merged = match before {
                Some(b) if b.last_updated_at > incoming.last_updated_at => {
                    return Ok(Intake::only(Stored::Stale));
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
                return Ok(Intake::only(Stored::Unchanged));
            }

            let now = self.clock.now();
            let purge_at = self.retention.purge_at(&merged.retention_facts(now));
            let was = stored.as_ref().map_or(PiiState::None, |s| s.pii.state);
            // Deleted on request: never sealed again, whatever Amazon still sends.
            let held = purge_at > now && !fetched.pii.is_empty() && !was.deleted_on_request();
            let mut intake = Intake::only(if before.is_some() {
                Stored::Updated
            } else {
                Stored::Inserted
            });
            let mut purged_items = 0;
            if held {
                intake.pii_items_sealed = self
                    .vault
                    .seal(
                        &merged.seller_id,
                        &merged.order_id,
                        merged.last_updated_at,
                        &fetched.pii,
                        purge_at,
                    )
                    .await? as u32;
            } else {
                purged_items = self
                    .sealed_items
                    .purge(&merged.seller_id, &merged.order_id, PurgeScope::All)
                    .await?;
                intake.pii_purged = purged_items > 0;
            }
            let state = match was {
                _ if held => PiiState::Held,
                // Purged before: the first purge's date and reason stand.
                PiiState::Purged { .. } => was,
                PiiState::Held => PiiState::Purged {
                    at: now,
                    reason: purge_reason(&merged),
                },
                PiiState::None if intake.pii_purged => PiiState::Purged {
                    at: now,
                    reason: purge_reason(&merged),
                },
                PiiState::None => PiiState::None,
            };
            // On record before the record says purged: a retry after a failure here finds the
            // record still held and records it again (at least once, never lost).
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
            // Announced before the record is written: a crash in between announces it again
            // (same change id, applied once) instead of never.
            if let Some(change) = stock_change(before, &merged) {
                self.stock.publish(&change).await?;
                intake.stock_change = Some(change.kind);
            }
            // The items held: what was sealed before (still held) and what was sealed now.
            let mut sealed_kinds: Vec<PiiKind> = match stored.as_ref() {
                Some(s) if held && s.pii.state == PiiState::Held => s.pii.sealed_kinds.clone(),
                _ => Vec::new(),
            };
            if held {
                for kind in fetched.pii.kinds() {
                    if !sealed_kinds.contains(&kind) {
                        sealed_kinds.push(kind);
                    }
                }
            }
            let expected = stored.as_ref().map(|s| s.revision);
            let status = PiiStatus {
                state,
                purge_at,
                sealed_kinds,
                // The buyer's requests, not Amazon's: no update of the order lifts them.
                restricted: stored.as_ref().and_then(|s| s.pii.restricted.clone()),
                ship_to_corrected: stored
                    .as_ref()
                    .and_then(|s| s.pii.ship_to_corrected.clone()),
            };
            if self.orders.save(&merged, status, expected).await?.is_some() {
                return Ok(intake);
            }
            // Someone (a warehouse move, another copy of this notification) wrote first.
        }
        Err(IntakeError::Contended {
            order_id: incoming.order_id.to_string(),
        })
    }
}

fn purge_reason(order: &Order) -> PurgeReason {
    if order.status == OrderStatus::Canceled {
        PurgeReason::Canceled
    } else {
        PurgeReason::Retention
    }
}
