use super::lock;
use crate::kernel::{AmazonOrderId, Revisioned, SellerId, StoreError};
use crate::orders::{
    CheckpointStore, Claim, NotificationClaims, SweepCheckpoint, UnreadableOnRecord,
    UnreadableOrder, UnreadableOrders,
};
use crate::sellers::{
    Credentials, CredentialsError, LwaAppCredentials, SellerAccount, SellerRegistry,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Stands in for the sweep checkpoints of the control table (`DynamoControl`).
#[derive(Default)]
pub struct MemCheckpoints {
    checkpoints: Mutex<BTreeMap<SellerId, Revisioned<SweepCheckpoint>>>,
}

impl MemCheckpoints {
    pub fn get(&self, seller: &SellerId) -> Option<Revisioned<SweepCheckpoint>> {
        lock(&self.checkpoints).get(seller).cloned()
    }

    fn forget(&self, seller: &SellerId) {
        lock(&self.checkpoints).remove(seller);
    }
}

#[async_trait]
impl CheckpointStore for MemCheckpoints {
    async fn load(
        &self,
        seller: &SellerId,
    ) -> Result<Option<Revisioned<SweepCheckpoint>>, StoreError> {
        Ok(self.get(seller))
    }

    async fn save(
        &self,
        seller: &SellerId,
        checkpoint: &SweepCheckpoint,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut all = lock(&self.checkpoints);
        let stored = all.get(seller).map(|v| v.revision);
        if stored != expected {
            return Err(StoreError::Conflict {
                what: format!("checkpoint of seller {seller} moved past revision {expected:?}"),
            });
        }
        let revision = expected.map_or(1, |v| v + 1);
        all.insert(
            seller.clone(),
            Revisioned {
                value: checkpoint.clone(),
                revision,
            },
        );
        Ok(revision)
    }
}

/// Stands in for the unreadable-order records of the control table (`DynamoControl`).
#[derive(Default)]
pub struct MemUnreadable {
    /// Per seller: by order id, or `no-id#<window start>#<reason>` for one without an id.
    records: Mutex<BTreeMap<(SellerId, String), UnreadableRecord>>,
}

/// One record; only those with an id are `pending`.
struct UnreadableRecord {
    order_id: Option<AmazonOrderId>,
    reason: String,
    first_seen: DateTime<Utc>,
    seen: u32,
}

impl MemUnreadable {
    /// Records kept for `seller`, with or without ids.
    pub fn count(&self, seller: &SellerId) -> usize {
        lock(&self.records)
            .keys()
            .filter(|(s, _)| s == seller)
            .count()
    }
}

#[async_trait]
impl UnreadableOrders for MemUnreadable {
    async fn record(
        &self,
        seller: &SellerId,
        order: &UnreadableOrder,
        window_start: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = match &order.order_id {
            Some(id) => id.to_string(),
            None => format!("no-id#{}#{}", window_start.to_rfc3339(), order.reason),
        };
        let mut records = lock(&self.records);
        let r = records
            .entry((seller.clone(), key))
            .or_insert_with(|| UnreadableRecord {
                order_id: order.order_id.clone(),
                reason: order.reason.clone(),
                first_seen: at,
                seen: 0,
            });
        r.reason = order.reason.clone();
        r.seen += 1;
        Ok(())
    }

    async fn pending(
        &self,
        seller: &SellerId,
        limit: usize,
    ) -> Result<Vec<UnreadableOnRecord>, StoreError> {
        let mut out: Vec<UnreadableOnRecord> = lock(&self.records)
            .iter()
            .filter(|((s, _), _)| s == seller)
            .filter_map(|(_, r)| {
                Some(UnreadableOnRecord {
                    order_id: r.order_id.clone()?,
                    reason: r.reason.clone(),
                    first_seen: r.first_seen,
                    seen: r.seen,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.first_seen, &a.order_id).cmp(&(b.first_seen, &b.order_id)));
        out.truncate(limit);
        Ok(out)
    }

    async fn resolve(&self, seller: &SellerId, order: &AmazonOrderId) -> Result<(), StoreError> {
        lock(&self.records).remove(&(seller.clone(), order.to_string()));
        Ok(())
    }
}

/// One notification's claim, as a test reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimState {
    pub done: bool,
    /// The SQS message holding the claim, and until when.
    pub holder: Option<(String, DateTime<Utc>)>,
    pub failures: u32,
    /// A `getOrder` place set aside for the notification, while it is deferred.
    pub reserved_at: Option<DateTime<Utc>>,
}

/// Stands in for notification dedupe in the control table (`DynamoControl`).
#[derive(Default)]
pub struct MemClaims {
    claims: Mutex<HashMap<String, ClaimState>>,
    faults: Arc<super::Faults>,
}

impl MemClaims {
    pub(super) fn with_faults(self, faults: Arc<super::Faults>) -> Self {
        Self { faults, ..self }
    }

    pub fn get(&self, notification_id: &str) -> Option<ClaimState> {
        lock(&self.claims).get(notification_id).cloned()
    }
}

#[async_trait]
impl NotificationClaims for MemClaims {
    async fn claim(
        &self,
        notification_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let mut claims = lock(&self.claims);
        let c = claims.entry(notification_id.to_owned()).or_default();
        if c.done {
            return Ok(Claim::AlreadyDone);
        }
        let free = match &c.holder {
            None => true,
            Some((holder, until)) => holder == message_id || *until < now,
        };
        if !free {
            return Ok(Claim::InFlight);
        }
        c.holder = Some((message_id.to_owned(), lease_until));
        Ok(Claim::Claimed {
            failures: c.failures,
            reserved_at: c.reserved_at,
        })
    }

    async fn complete(&self, notification_id: &str, _now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut claims = lock(&self.claims);
        let c = claims.entry(notification_id.to_owned()).or_default();
        c.done = true;
        c.holder = None;
        c.reserved_at = None;
        Ok(())
    }

    async fn claim_many(
        &self,
        asks: &[crate::orders::ClaimAsk],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Vec<Result<Claim, StoreError>> {
        let mut answers = Vec::with_capacity(asks.len());
        for a in asks {
            answers.push(
                if self.faults.hit(super::BatchStep::Claim, &a.notification_id) {
                    Err(StoreError::Failed(super::Faults::io(
                        super::BatchStep::Claim,
                    )))
                } else {
                    self.claim(&a.notification_id, &a.message_id, now, lease_until)
                        .await
                },
            );
        }
        answers
    }

    async fn complete_many(
        &self,
        notification_ids: &[String],
        now: DateTime<Utc>,
    ) -> Vec<Result<(), StoreError>> {
        let mut answers = Vec::with_capacity(notification_ids.len());
        for n in notification_ids {
            answers.push(if self.faults.hit(super::BatchStep::Complete, n) {
                Err(StoreError::Failed(super::Faults::io(
                    super::BatchStep::Complete,
                )))
            } else {
                self.complete(n, now).await
            });
        }
        answers
    }

    async fn release(&self, notification_id: &str, message_id: &str) -> Result<(), StoreError> {
        let mut claims = lock(&self.claims);
        if claims
            .get(notification_id)
            .is_some_and(|c| c.holder.as_ref().is_some_and(|(h, _)| h == message_id))
        {
            claims.remove(notification_id);
        }
        Ok(())
    }

    async fn fail(&self, notification_id: &str, _message_id: &str) -> Result<u32, StoreError> {
        let mut claims = lock(&self.claims);
        let Some(c) = claims.get_mut(notification_id) else {
            return Ok(1);
        };
        // A place it held was spent on the failed attempt.
        c.failures += 1;
        c.holder = None;
        c.reserved_at = None;
        Ok(c.failures)
    }

    async fn defer(
        &self,
        notification_id: &str,
        message_id: &str,
        reserved_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut claims = lock(&self.claims);
        // Someone else holds it now: nothing of ours to put off.
        if let Some(c) = claims.get_mut(notification_id)
            && c.holder.as_ref().is_some_and(|(h, _)| h == message_id)
        {
            c.holder = None;
            c.reserved_at = reserved_at;
        }
        Ok(())
    }
}

/// Stands in for the seller registry of the control table (`DynamoControl`).
pub struct MemSellers {
    sellers: Mutex<BTreeMap<SellerId, (SellerAccount, bool)>>,
    /// Offboarding removes the seller's sweep checkpoint too.
    checkpoints: Arc<MemCheckpoints>,
    /// Reads fail while set (an outage of the table).
    unreadable: std::sync::atomic::AtomicBool,
}

impl MemSellers {
    pub fn new(checkpoints: Arc<MemCheckpoints>) -> Self {
        Self {
            sellers: Mutex::default(),
            checkpoints,
            unreadable: Default::default(),
        }
    }

    /// Make the registry unreadable (`true`) or readable again.
    pub fn set_unreadable(&self, unreadable: bool) {
        self.unreadable
            .store(unreadable, std::sync::atomic::Ordering::Relaxed);
    }

    /// Register (or re-activate) a seller.
    pub fn add(&self, account: SellerAccount) {
        lock(&self.sellers).insert(account.seller_id.clone(), (account, true));
    }

    /// Keep the entry but stop syncing the seller.
    pub fn deactivate(&self, seller: &SellerId) {
        if let Some((_, active)) = lock(&self.sellers).get_mut(seller) {
            *active = false;
        }
    }

    pub fn contains(&self, seller: &SellerId) -> bool {
        lock(&self.sellers).contains_key(seller)
    }
}

#[async_trait]
impl SellerRegistry for MemSellers {
    async fn active_sellers(&self) -> Result<Vec<SellerAccount>, StoreError> {
        if self.unreadable.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Failed(crate::kernel::IoFailure {
                operation: "injected",
                failure: crate::kernel::Failure::Transient,
                detail: "the seller registry is unreadable (test)".into(),
                source: "registry".into(),
            }));
        }
        Ok(lock(&self.sellers)
            .values()
            .filter(|(_, active)| *active)
            .map(|(a, _)| a.clone())
            .collect())
    }

    async fn all_sellers(&self) -> Result<Vec<SellerId>, StoreError> {
        Ok(lock(&self.sellers).keys().cloned().collect())
    }

    async fn remove(&self, seller: &SellerId) -> Result<bool, StoreError> {
        let existed = lock(&self.sellers).remove(seller).is_some();
        self.checkpoints.forget(seller);
        Ok(existed)
    }
}

/// Stands in for Secrets Manager (`SecretsManagerCredentials`): the app's LWA client and refresh
/// tokens by seller.
#[derive(Default)]
pub struct MemCredentials {
    refresh_tokens: Mutex<BTreeMap<SellerId, SecretString>>,
}

impl MemCredentials {
    pub fn add_refresh_token(&self, seller: &SellerId, token: &str) {
        lock(&self.refresh_tokens).insert(seller.clone(), SecretString::from(token));
    }

    pub fn has_refresh_token(&self, seller: &SellerId) -> bool {
        lock(&self.refresh_tokens).contains_key(seller)
    }
}

#[async_trait]
impl Credentials for MemCredentials {
    async fn lwa_app(&self) -> Result<LwaAppCredentials, CredentialsError> {
        Ok(LwaAppCredentials {
            client_id: "amzn1.application-oa2-client.testkit".into(),
            client_secret: SecretString::from("testkit-client-secret"),
        })
    }

    async fn refresh_token(&self, seller: &SellerId) -> Result<SecretString, CredentialsError> {
        lock(&self.refresh_tokens)
            .get(seller)
            .cloned()
            .ok_or_else(|| CredentialsError::NotFound {
                secret_id: format!("fbm/seller/{seller}"),
            })
    }

    async fn delete_refresh_token(&self, seller: &SellerId) -> Result<bool, CredentialsError> {
        Ok(lock(&self.refresh_tokens).remove(seller).is_some())
    }
}
