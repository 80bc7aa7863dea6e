//! The append-only audit log's records: who touched which order's PII, purges, deletions,
//! credential changes. Ids, who, why, when and counts only: nothing here can hold PII.

use super::ids::{AmazonOrderId, SellerId, SubjectRequestId};
use super::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// Someone opened an order's PII (a label print, a staff view).
    PiiRead,
    /// PII purged by the retention rule.
    PiiPurge,
    /// PII deleted on request.
    PiiDeletion,
    /// A deletion request taken up (each attempt; the report keeps one per request).
    DeletionRequested,
    /// A deletion request carried out (one per request, with its counts).
    DeletionCompleted,
    /// A credential created, rotated or deleted.
    CredentialChange,
    /// The redactor's self-check found PII past its date.
    PiiPastDue,
    /// A bought label voided on Amazon; its sealed document deleted with it.
    LabelVoided,
    /// A buyer's ship-to corrected on their request, sealed anew (purpose names the request).
    SubjectCorrection,
    /// A buyer's data restricted on their request to the shipment alone.
    SubjectRestriction,
}

/// One append-only audit record. No PII: ids, who, why, when, counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub kind: AuditKind,
    /// A person (staff login) or a function (`pii-redactor`).
    pub actor: String,
    pub purpose: String,
    pub at: DateTime<Utc>,
    pub seller_id: Option<SellerId>,
    pub order_id: Option<AmazonOrderId>,
    pub request_id: Option<SubjectRequestId>,
    /// Items deleted, orders purged, items past due: whatever the kind counts.
    pub count: Option<u64>,
}

impl AuditEvent {
    pub fn new(kind: AuditKind, actor: &str, purpose: &str, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            actor: actor.to_owned(),
            purpose: purpose.to_owned(),
            at,
            seller_id: None,
            order_id: None,
            request_id: None,
            count: None,
        }
    }

    pub fn order(mut self, seller: &SellerId, order: &AmazonOrderId) -> Self {
        self.seller_id = Some(seller.clone());
        self.order_id = Some(order.clone());
        self
    }

    pub fn seller(mut self, seller: &SellerId) -> Self {
        self.seller_id = Some(seller.clone());
        self
    }

    pub fn request(mut self, id: &SubjectRequestId) -> Self {
        self.request_id = Some(id.clone());
        self
    }

    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }
}

/// The append-only audit log. No PII.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Append one event; never overwrites one.
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Every event from `from` up to (not including) `to`, oldest first.
    async fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
