use super::lock;
use crate::kernel::{AmazonOrderId, SellerId, StoreError};
use crate::orders::{Order, OrderStore, StoredOrder};
use crate::pii::{HeldPii, Marked, PiiRecords, PiiState, PiiStatus, PurgeReason};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;

type Key = (SellerId, AmazonOrderId);

/// Stands in for the orders table (`DynamoOrderStore`): order records and their PII status.
#[derive(Default)]
pub struct MemOrders {
    records: Mutex<BTreeMap<Key, StoredOrder>>,
    faults: std::sync::Arc<super::Faults>,
}

impl MemOrders {
    pub(super) fn with_faults(self, faults: std::sync::Arc<super::Faults>) -> Self {
        Self { faults, ..self }
    }

    /// The stored record, as a test reads it.
    pub fn stored(&self, seller: &SellerId, order: &AmazonOrderId) -> Option<StoredOrder> {
        lock(&self.records)
            .get(&(seller.clone(), order.clone()))
            .cloned()
    }

    pub fn len(&self) -> usize {
        lock(&self.records).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl OrderStore for MemOrders {
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<StoredOrder>, StoreError> {
        Ok(self.stored(seller, order))
    }

    async fn load_many(
        &self,
        keys: &[(SellerId, AmazonOrderId)],
    ) -> Vec<Result<Option<StoredOrder>, StoreError>> {
        keys.iter()
            .map(|(seller, order)| {
                if self.faults.hit(super::BatchStep::Load, order.as_str()) {
                    Err(StoreError::Failed(super::Faults::io(
                        super::BatchStep::Load,
                    )))
                } else {
                    Ok(self.stored(seller, order))
                }
            })
            .collect()
    }

    async fn save_many(
        &self,
        writes: &[crate::orders::OrderWrite],
    ) -> Vec<Result<Option<u64>, StoreError>> {
        let mut answers = Vec::with_capacity(writes.len());
        for w in writes {
            answers.push(
                if self
                    .faults
                    .hit(super::BatchStep::Save, w.order.order_id.as_str())
                {
                    Err(StoreError::Failed(super::Faults::io(
                        super::BatchStep::Save,
                    )))
                } else {
                    self.save(&w.order, w.pii.clone(), w.expected).await
                },
            );
        }
        answers
    }

    async fn save(
        &self,
        order: &Order,
        mut pii: PiiStatus,
        expected: Option<u64>,
    ) -> Result<Option<u64>, StoreError> {
        let mut records = lock(&self.records);
        let key = (order.seller_id.clone(), order.order_id.clone());
        if records.get(&key).map(|s| s.revision) != expected {
            return Ok(None);
        }
        // As the table keeps it: the list of items only while they are held.
        if pii.state != PiiState::Held {
            pii.sealed_kinds.clear();
        }
        let revision = expected.map_or(1, |v| v + 1);
        records.insert(
            key,
            StoredOrder {
                order: order.clone(),
                revision,
                pii,
            },
        );
        Ok(Some(revision))
    }
}

#[async_trait]
impl PiiRecords for MemOrders {
    async fn held_pii(
        &self,
        seller: &SellerId,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HeldPii>, StoreError> {
        let mut due: Vec<HeldPii> = lock(&self.records)
            .values()
            .filter(|s| &s.order.seller_id == seller)
            .filter(|s| s.pii.state == PiiState::Held && s.pii.purge_at <= until)
            .map(|s| HeldPii {
                seller_id: s.order.seller_id.clone(),
                order_id: s.order.order_id.clone(),
                purge_at: s.pii.purge_at,
                sealed_kinds: s.pii.sealed_kinds.clone(),
            })
            .collect();
        due.sort_by(|a, b| (a.purge_at, &a.order_id).cmp(&(b.purge_at, &b.order_id)));
        due.truncate(limit.clamp(1, 1000) as usize);
        Ok(due)
    }

    async fn mark_pii_purged(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        reason: PurgeReason,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError> {
        let mut records = lock(&self.records);
        let Some(stored) = records.get_mut(&(seller.clone(), order.clone())) else {
            return Ok(Marked::NoRecord);
        };
        // Only while its date is still past (intake may have re-sealed with a later one);
        // a deletion request marks it whatever the date.
        let due = stored.pii.state == PiiState::Held && stored.pii.purge_at <= at;
        if reason != PurgeReason::DeletionRequest && !due {
            return Ok(Marked::Moved);
        }
        stored.pii.state = PiiState::Purged { at, reason };
        stored.pii.sealed_kinds.clear();
        stored.revision += 1;
        Ok(Marked::Purged)
    }
}
