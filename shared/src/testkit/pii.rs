use super::lock;
use crate::kernel::{
    Address, AmazonOrderId, BuyerPii, Clock, OrderPii, PackageId, Pii, PiiKind, SellerId,
    StoreError, SubjectRequestId,
};
use crate::pii::{
    DeletionConfirmation, DeletionLedger, DeletionRequest, DeletionStart, HeldItem, HeldPiiSummary,
    OpenedPii, PiiOpener, PiiSealer, PurgeScope, SealedFilter, SealedItems, SealedOrder,
    VaultError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// One sealed part; its fields stay `Pii<String>` (a label's bytes are never printed), so
/// nothing here prints them.
#[derive(Clone)]
enum Part {
    Buyer(BuyerPii),
    Recipient(Address),
    Label(Vec<u8>),
}

struct Sealed {
    part: Part,
    order_updated_at: DateTime<Utc>,
    purge_at: DateTime<Utc>,
    sealed_at: DateTime<Utc>,
}

type Key = (SellerId, AmazonOrderId, PiiKind);

/// Stands in for the PII vault and the pii table (`KmsPiiVault`, `PiiTable`): sealed items
/// by order and kind, with their purge dates (no encryption: nothing leaves the process).
pub struct MemVault {
    clock: Arc<dyn Clock>,
    faults: Arc<super::Faults>,
    items: Mutex<BTreeMap<Key, Sealed>>,
    seal_calls: Mutex<u32>,
    /// Orders whose keys were asked for ahead, and how many of those keys sealing took.
    keys_ahead: Mutex<(Vec<(SellerId, AmazonOrderId)>, u32)>,
}

/// `MemVault`'s keys asked for ahead: the orders they are for.
type AheadOrders = std::collections::BTreeSet<(SellerId, AmazonOrderId)>;

impl MemVault {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            faults: Arc::default(),
            items: Mutex::default(),
            seal_calls: Mutex::default(),
            keys_ahead: Mutex::default(),
        }
    }

    pub(super) fn with_faults(self, faults: Arc<super::Faults>) -> Self {
        Self { faults, ..self }
    }

    /// The kinds sealed for the order, with their purge dates.
    pub fn items(&self, seller: &SellerId, order: &AmazonOrderId) -> Vec<(PiiKind, DateTime<Utc>)> {
        lock(&self.items)
            .iter()
            .filter(|((s, o, _), _)| s == seller && o == order)
            .map(|((_, _, k), v)| (k.clone(), v.purge_at))
            .collect()
    }

    /// Every sealed item, all orders.
    pub fn len(&self) -> usize {
        lock(&self.items).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The orders whose keys were asked for ahead, in order, and how many of them sealing took.
    pub fn keys_ahead(&self) -> (Vec<(SellerId, AmazonOrderId)>, u32) {
        lock(&self.keys_ahead).clone()
    }

    /// Calls of `seal`, whatever they wrote.
    pub fn seal_calls(&self) -> u32 {
        *lock(&self.seal_calls)
    }
}

#[async_trait]
impl PiiSealer for MemVault {
    async fn seal(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        order_updated_at: DateTime<Utc>,
        pii: &OrderPii,
        purge_at: DateTime<Utc>,
    ) -> Result<usize, VaultError> {
        *lock(&self.seal_calls) += 1;
        let parts = [
            pii.buyer.clone().map(|b| (PiiKind::Buyer, Part::Buyer(b))),
            pii.recipient
                .clone()
                .map(|a| (PiiKind::Recipient, Part::Recipient(a))),
        ];
        let mut items = lock(&self.items);
        let mut written = 0;
        for (kind, part) in parts.into_iter().flatten() {
            let key = (seller.clone(), order.clone(), kind);
            // PII of a later update is already sealed: keep it.
            if items
                .get(&key)
                .is_some_and(|s| s.order_updated_at > order_updated_at)
            {
                continue;
            }
            items.insert(
                key,
                Sealed {
                    part,
                    order_updated_at,
                    purge_at,
                    sealed_at: self.clock.now(),
                },
            );
            written += 1;
        }
        Ok(written)
    }

    async fn seal_many(
        &self,
        requests: &[crate::pii::SealRequest<'_>],
        ahead: &mut crate::pii::KeysAhead,
    ) -> Vec<Result<usize, VaultError>> {
        let mut answers = Vec::with_capacity(requests.len());
        for r in requests {
            if let Some(orders) = ahead.of::<AheadOrders>()
                && orders.remove(&(r.seller.clone(), r.order.clone()))
            {
                lock(&self.keys_ahead).1 += 1;
            }
            answers.push(
                if self.faults.hit(super::BatchStep::Seal, r.order.as_str()) {
                    Err(StoreError::Failed(super::Faults::io(super::BatchStep::Seal)).into())
                } else {
                    self.seal(r.seller, r.order, r.order_updated_at, r.pii, r.purge_at)
                        .await
                },
            );
        }
        answers
    }

    async fn keys_ahead(&self, orders: &[(&SellerId, &AmazonOrderId)]) -> crate::pii::KeysAhead {
        let orders: Vec<_> = orders
            .iter()
            .map(|(s, o)| ((*s).clone(), (*o).clone()))
            .collect();
        lock(&self.keys_ahead).0.extend(orders.iter().cloned());
        crate::pii::KeysAhead::new(orders.into_iter().collect::<AheadOrders>())
    }

    async fn seal_label(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        document: &Pii<Vec<u8>>,
        purge_at: DateTime<Utc>,
    ) -> Result<bool, VaultError> {
        let key = (
            seller.clone(),
            order.clone(),
            PiiKind::Label(package.clone()),
        );
        let mut items = lock(&self.items);
        if items.contains_key(&key) {
            return Ok(false);
        }
        let now = self.clock.now();
        items.insert(
            key,
            Sealed {
                part: Part::Label(document.expose().clone()),
                order_updated_at: now,
                purge_at,
                sealed_at: now,
            },
        );
        Ok(true)
    }
}

#[async_trait]
impl PiiOpener for MemVault {
    async fn open(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kind: PiiKind,
    ) -> Result<Option<OpenedPii>, VaultError> {
        Ok(lock(&self.items)
            .get(&(seller.clone(), order.clone(), kind))
            .map(|s| match s.part.clone() {
                Part::Buyer(b) => OpenedPii::Buyer(b),
                Part::Recipient(a) => OpenedPii::Recipient(a),
                Part::Label(d) => OpenedPii::Label(Pii::new(d)),
            }))
    }
}

#[async_trait]
impl SealedItems for MemVault {
    async fn purge(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        scope: PurgeScope,
    ) -> Result<usize, VaultError> {
        let mut items = lock(&self.items);
        let doomed: Vec<Key> = items
            .iter()
            .filter(|((s, o, k), v)| {
                s == seller
                    && o == order
                    && match &scope {
                        PurgeScope::All => true,
                        PurgeScope::Kinds(kinds) => kinds.contains(k),
                        // Listed kinds by key (or every kind when none are listed), each only
                        // if its own date has passed: one re-sealed later stays.
                        PurgeScope::PastDue { now, kinds } => {
                            (kinds.is_empty() || kinds.contains(k)) && v.purge_at <= *now
                        }
                    }
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in &doomed {
            items.remove(key);
        }
        Ok(doomed.len())
    }

    async fn bring_forward(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kinds: &[PiiKind],
        at: DateTime<Utc>,
    ) -> Result<usize, VaultError> {
        let mut items = lock(&self.items);
        let mut moved = 0;
        for ((s, o, k), v) in items.iter_mut() {
            if s == seller && o == order && kinds.contains(k) && v.purge_at > at {
                v.purge_at = at;
                moved += 1;
            }
        }
        Ok(moved)
    }

    async fn sealed_orders(&self, filter: SealedFilter) -> Result<Vec<SealedOrder>, VaultError> {
        let mut orders: BTreeMap<(SellerId, AmazonOrderId), Vec<PiiKind>> = BTreeMap::new();
        for ((s, o, k), v) in lock(&self.items).iter() {
            let matches = match &filter {
                SealedFilter::PastDue(now) => v.purge_at <= *now,
                SealedFilter::Seller(seller) => s == seller,
            };
            if matches {
                orders
                    .entry((s.clone(), o.clone()))
                    .or_default()
                    .push(k.clone());
            }
        }
        Ok(orders
            .into_iter()
            .map(|((seller_id, order_id), kinds)| SealedOrder {
                seller_id,
                order_id,
                kinds,
            })
            .collect())
    }

    async fn count_past_due(&self, now: DateTime<Utc>) -> Result<u64, VaultError> {
        Ok(lock(&self.items)
            .values()
            .filter(|v| v.purge_at <= now)
            .count() as u64)
    }

    async fn held(&self, now: DateTime<Utc>) -> Result<HeldPiiSummary, VaultError> {
        let items = lock(&self.items);
        let orders: BTreeSet<_> = items.keys().map(|(s, o, _)| (s, o)).collect();
        let oldest = items
            .iter()
            .min_by_key(|(_, v)| v.sealed_at)
            .map(|((s, o, k), v)| HeldItem {
                seller_id: s.clone(),
                order_id: o.clone(),
                kind: k.clone(),
                sealed_at: v.sealed_at,
                purge_at: v.purge_at,
            });
        Ok(HeldPiiSummary {
            items: items.len() as u64,
            orders: orders.len() as u64,
            items_past_due: items.values().filter(|v| v.purge_at <= now).count() as u64,
            oldest,
        })
    }
}

/// Stands in for deletion requests and confirmations in the control table (`DynamoControl`).
#[derive(Default)]
pub struct MemDeletions {
    requests: Mutex<BTreeMap<SubjectRequestId, DeletionConfirmation>>,
}

#[async_trait]
impl DeletionLedger for MemDeletions {
    async fn begin(
        &self,
        request: &DeletionRequest,
        received_at: DateTime<Utc>,
    ) -> Result<DeletionStart, StoreError> {
        let mut requests = lock(&self.requests);
        let Some(stored) = requests.get(&request.request_id) else {
            let fresh = DeletionConfirmation {
                request: request.clone(),
                received_at: request.received_at.unwrap_or(received_at),
                completed_at: None,
                orders_purged: 0,
                pii_items_deleted: 0,
                refresh_token_deleted: false,
                registry_entry_removed: false,
            };
            requests.insert(request.request_id.clone(), fresh.clone());
            return Ok(DeletionStart::Proceed(fresh));
        };
        Ok(if stored.request.scope != request.scope {
            DeletionStart::Conflict
        } else if stored.completed_at.is_some() {
            DeletionStart::Completed(stored.clone())
        } else {
            DeletionStart::Proceed(stored.clone())
        })
    }

    async fn complete(&self, confirmation: &DeletionConfirmation) -> Result<(), StoreError> {
        let mut requests = lock(&self.requests);
        match requests.get_mut(&confirmation.request.request_id) {
            Some(stored) => {
                *stored = confirmation.clone();
                Ok(())
            }
            None => Err(StoreError::Conflict {
                what: format!(
                    "deletion request {} vanished before its confirmation",
                    confirmation.request.request_id
                ),
            }),
        }
    }

    async fn confirmation(
        &self,
        id: &SubjectRequestId,
    ) -> Result<Option<DeletionConfirmation>, StoreError> {
        Ok(lock(&self.requests).get(id).cloned())
    }
}
