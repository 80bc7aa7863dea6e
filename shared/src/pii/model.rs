//! What happens to an order's PII after intake: held until its date, then purged (by the
//! retention rule, a cancel, or a deletion request); and the audit events every PII read,
//! purge, deletion and credential change leaves. Ids, dates and counts only: nothing here can
//! hold PII.

use crate::kernel::{AmazonOrderId, SellerId, SubjectRequestId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why PII is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurgeReason {
    /// Its retention date passed.
    Retention,
    /// The order was canceled: nothing to ship, nothing to keep.
    Canceled,
    /// A deletion request (by order, or the seller's offboarding). Never sealed again.
    DeletionRequest,
}

impl PurgeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeReason::Retention => "retention",
            PurgeReason::Canceled => "canceled",
            PurgeReason::DeletionRequest => "deletion_request",
        }
    }
}

/// Where an order's PII stands, as its business record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiState {
    /// Never held (pending or canceled when first seen, or Amazon sent none).
    None,
    /// Sealed in the pii table until `purge_at`.
    Held,
    Purged {
        at: DateTime<Utc>,
        reason: PurgeReason,
    },
}

impl PiiState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PiiState::None => "none",
            PiiState::Held => "held",
            PiiState::Purged { .. } => "purged",
        }
    }

    /// Deleted on request: intake must not seal this order's PII again.
    pub fn deleted_on_request(&self) -> bool {
        matches!(
            self,
            PiiState::Purged {
                reason: PurgeReason::DeletionRequest,
                ..
            }
        )
    }
}

/// Where the order's PII stands and the date it must be gone by (kept for reports even when
/// nothing is held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiStatus {
    pub state: PiiState,
    pub purge_at: DateTime<Utc>,
    /// The kinds of the items held: the redactor deletes exactly these, by key. Empty when none
    /// are held, or when the record lists a kind this build does not know (the pii table is
    /// then asked for every item of the order).
    pub sealed_kinds: Vec<crate::kernel::PiiKind>,
    /// The buyer restricted the use of their data (a data-subject request): it stays sealed and
    /// opens for the shipment alone. Kept on the business record for good, PII or not.
    pub restricted: Option<SubjectRecord>,
    /// The buyer corrected the ship-to (a data-subject request): the one sealed is theirs, not
    /// Amazon's, and a label bought through Amazon would print Amazon's. Kept for good.
    pub ship_to_corrected: Option<SubjectRecord>,
}

impl PiiStatus {
    /// Whether staff may be shown the order's PII (a ship-to, a packing slip's address): not
    /// once the buyer restricted it to the shipment, which still buys and prints the label and
    /// answers the buyer's own requests.
    pub fn shown_to_staff(&self) -> bool {
        self.restricted.is_none()
    }
}

/// A data-subject request carried out on the order (a restriction, a correction): which
/// request, when, by whom. Ids only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRecord {
    pub request_id: SubjectRequestId,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// What a deletion request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionScope {
    /// One order's PII (a buyer's request, a seller's instruction).
    Order {
        seller_id: SellerId,
        order_id: AmazonOrderId,
    },
    /// Offboarding: every PII item of the seller, its refresh token and registry entry.
    Seller { seller_id: SellerId },
}

impl DeletionScope {
    pub fn seller_id(&self) -> &SellerId {
        match self {
            DeletionScope::Order { seller_id, .. } | DeletionScope::Seller { seller_id } => {
                seller_id
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            DeletionScope::Order { .. } => "order",
            DeletionScope::Seller { .. } => "seller",
        }
    }
}

/// A deletion request as it arrives on its queue:
/// `{"request_id", "scope": "order"|"seller", "seller_id", "order_id" (order scope only),
/// "requested_by", "received_at" (optional)}`. Anything else is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScopeFields", into = "ScopeFields")]
pub struct DeletionRequest {
    pub request_id: SubjectRequestId,
    pub scope: DeletionScope,
    /// Who asked (an operator's name or system), for the confirmation and the audit log.
    pub requested_by: String,
    /// When the requester asked; the queue's arrival time if absent.
    pub received_at: Option<DateTime<Utc>>,
}

/// The flat layout requests and confirmations share on the wire and in the control table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeFields {
    request_id: SubjectRequestId,
    scope: String,
    seller_id: SellerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order_id: Option<AmazonOrderId>,
    requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    received_at: Option<DateTime<Utc>>,
}

impl TryFrom<ScopeFields> for DeletionRequest {
    type Error = String;
    fn try_from(f: ScopeFields) -> Result<Self, String> {
        let scope = match (f.scope.as_str(), f.order_id) {
            ("order", Some(order_id)) => DeletionScope::Order {
                seller_id: f.seller_id,
                order_id,
            },
            ("order", None) => return Err("scope \"order\" needs order_id".into()),
            ("seller", None) => DeletionScope::Seller {
                seller_id: f.seller_id,
            },
            ("seller", Some(_)) => return Err("scope \"seller\" takes no order_id".into()),
            _ => return Err("scope must be \"order\" or \"seller\"".into()),
        };
        let requested_by = f.requested_by.trim().to_owned();
        if requested_by.is_empty() || requested_by.len() > 128 {
            return Err("requested_by must be 1 to 128 characters".into());
        }
        Ok(Self {
            request_id: f.request_id,
            scope,
            requested_by,
            received_at: f.received_at,
        })
    }
}

impl From<DeletionRequest> for ScopeFields {
    fn from(r: DeletionRequest) -> Self {
        let (scope, seller_id, order_id) = match r.scope {
            DeletionScope::Order {
                seller_id,
                order_id,
            } => ("order", seller_id, Some(order_id)),
            DeletionScope::Seller { seller_id } => ("seller", seller_id, None),
        };
        Self {
            request_id: r.request_id,
            scope: scope.into(),
            seller_id,
            order_id,
            requested_by: r.requested_by,
            received_at: r.received_at,
        }
    }
}

/// The written confirmation of a deletion request, readable back by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionConfirmation {
    pub request: DeletionRequest,
    pub received_at: DateTime<Utc>,
    /// Absent while the request is being carried out.
    pub completed_at: Option<DateTime<Utc>>,
    pub orders_purged: u64,
    pub pii_items_deleted: u64,
    pub refresh_token_deleted: bool,
    pub registry_entry_removed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_requests_parse_by_scope_and_refuse_anything_else() {
        let order: DeletionRequest = serde_json::from_str(
            r#"{"request_id":"del-1","scope":"order","seller_id":"A1SELLER","order_id":"113-1234567-1234567","requested_by":"ops"}"#,
        )
        .unwrap();
        assert_eq!(order.scope.kind(), "order");
        let seller: DeletionRequest = serde_json::from_str(
            r#"{"request_id":"off-1","scope":"seller","seller_id":"A1SELLER","requested_by":"ops"}"#,
        )
        .unwrap();
        assert_eq!(seller.scope.seller_id().as_str(), "A1SELLER");
        for bad in [
            r#"{"request_id":"x","scope":"everything","seller_id":"A1","requested_by":"ops"}"#,
            r#"{"request_id":"x","scope":"order","seller_id":"A1","requested_by":"ops"}"#,
            r#"{"request_id":"has space","scope":"seller","seller_id":"A1","requested_by":"ops"}"#,
            r#"{"request_id":"x","scope":"seller","seller_id":"A1","requested_by":"ops","name":"?"}"#,
        ] {
            assert!(
                serde_json::from_str::<DeletionRequest>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_a_deletion_request_bars_sealing_again() {
        let now = Utc::now();
        assert!(
            PiiState::Purged {
                at: now,
                reason: PurgeReason::DeletionRequest
            }
            .deleted_on_request()
        );
        assert!(
            !PiiState::Purged {
                at: now,
                reason: PurgeReason::Retention
            }
            .deleted_on_request()
        );
        assert!(!PiiState::Held.deleted_on_request());
    }
}
