//! The orders table: order facts without PII, one item per seller + order.

use super::batch::Written;
use super::{StoreError, is_condition_failure, known_kinds, put_if_revision, read_item};
use crate::kernel::{AmazonOrderId, SellerId};
use crate::orders::Order;
use crate::orders::{OrderStore, OrderWrite, StoredOrder};
use crate::pii::{HeldPii, Marked, PiiRecords, PiiStatus};
use crate::pii::{PiiState, PurgeReason, SubjectRecord};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The index of orders holding PII, by purge date (`infra/tables.json`).
const PII_DUE_INDEX: &str = "pii_due";

pub struct DynamoOrderStore {
    pub(super) client: Client,
    pub(super) table: String,
}

/// The stored shape: the order plus the attributes indexes and the redactor work from.
#[derive(Serialize, Deserialize)]
struct OrderRecord {
    #[serde(flatten)]
    order: Order,
    /// Bumped by every write (intake, warehouse and redactor alike); writes are conditional
    /// on it.
    revision: u64,
    /// Amazon's `lastUpdatedTime` in ms, for queries and reports.
    amazon_updated_ms: i64,
    /// `held` while sealed PII exists in the pii table, `purged` once it is gone, `none` if
    /// none was ever held.
    pii_state: String,
    /// The date the PII must be gone by (epoch seconds), kept for reports.
    pii_purge_at: i64,
    /// The pii table's sort keys of the items held (the redactor deletes these by key). Kept
    /// as text: a kind a later build writes must not make the record unreadable here.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pii_kinds: Vec<String>,
    /// Sparse key of the `pii_due` index: present only while PII is held.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pii_purge_due: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pii_purged_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pii_purge_reason: Option<PurgeReason>,
    /// Data-subject requests carried out (a restriction, a correction of the ship-to), kept
    /// for good.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pii_restricted: Option<SubjectRecord>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pii_ship_to_corrected: Option<SubjectRecord>,
    /// Sparse key of the `open_by_ship_by` index: present only while the order is open.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    open_ship_by: Option<String>,
    stored_at: DateTime<Utc>,
}

impl OrderRecord {
    /// The record of `order` at `revision`, as every write of it stores it.
    fn new(order: &Order, pii: PiiStatus, revision: u64) -> Self {
        let held = pii.state == PiiState::Held;
        let (purged_at, reason) = match pii.state {
            PiiState::Purged { at, reason } => (Some(at), Some(reason)),
            _ => (None, None),
        };
        OrderRecord {
            order: order.clone(),
            revision,
            amazon_updated_ms: order.last_updated_at.timestamp_millis(),
            pii_state: pii.state.as_str().to_owned(),
            pii_purge_at: pii.purge_at.timestamp(),
            pii_purge_due: held.then(|| pii.purge_at.timestamp()),
            pii_kinds: if held {
                pii.sealed_kinds
                    .iter()
                    .map(|k| k.key().into_owned())
                    .collect()
            } else {
                Vec::new()
            },
            pii_purged_at: purged_at,
            pii_purge_reason: reason,
            pii_restricted: pii.restricted,
            pii_ship_to_corrected: pii.ship_to_corrected,
            open_ship_by: order
                .status
                .is_open()
                .then(|| order.ship_by.unwrap_or(order.created_at).to_rfc3339()),
            stored_at: Utc::now(),
        }
    }

    fn pii(&self) -> Result<PiiStatus, StoreError> {
        let state = match (
            self.pii_state.as_str(),
            self.pii_purged_at,
            self.pii_purge_reason,
        ) {
            ("held", ..) => PiiState::Held,
            ("purged", Some(at), Some(reason)) => PiiState::Purged { at, reason },
            ("none", ..) => PiiState::None,
            (other, ..) => {
                return Err(StoreError::Corrupt {
                    what: format!(
                        "order {}: pii_state {other:?} without its date and reason",
                        self.order.order_id
                    ),
                });
            }
        };
        Ok(PiiStatus {
            state,
            purge_at: DateTime::from_timestamp(self.pii_purge_at, 0).unwrap_or_default(),
            sealed_kinds: known_kinds(self.pii_kinds.iter().map(String::as_str)),
            restricted: self.pii_restricted.clone(),
            ship_to_corrected: self.pii_ship_to_corrected.clone(),
        })
    }
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// One stored item of the table (or of an index projecting every attribute) as the order
/// with its revision and PII status.
pub(super) fn stored_of(
    item: std::collections::HashMap<String, AttributeValue>,
) -> Result<StoredOrder, StoreError> {
    let r: OrderRecord = serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        what: format!("order record: {e}"),
    })?;
    Ok(StoredOrder {
        pii: r.pii()?,
        revision: r.revision,
        order: r.order,
    })
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The order's record as an item, `corrected.revision + 1`, for a transaction that writes it
/// over the revision read (`revision = <read>`).
#[cfg(feature = "kms")]
pub(super) fn record_item(
    corrected: &StoredOrder,
) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
    let record = OrderRecord::new(
        &corrected.order,
        corrected.pii.clone(),
        corrected.revision + 1,
    );
    serde_dynamo::to_item(&record).map_err(|e| StoreError::Corrupt {
        what: format!("order {}: {e}", corrected.order.order_id),
    })
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<StoredOrder>, StoreError> {
        let record: Option<OrderRecord> = read_item(
            &self.client,
            &self.table,
            [
                ("seller_id", seller.to_string()),
                ("order_id", order.to_string()),
            ],
            || format!("order {order}"),
        )
        .await?;
        record
            .map(|r| {
                Ok(StoredOrder {
                    pii: r.pii()?,
                    revision: r.revision,
                    order: r.order,
                })
            })
            .transpose()
    }

    async fn save(
        &self,
        order: &Order,
        pii: PiiStatus,
        expected: Option<u64>,
    ) -> Result<Option<u64>, StoreError> {
        let revision = expected.map_or(1, |v| v + 1);
        let record = OrderRecord::new(order, pii, revision);
        let what = || format!("order {}", order.order_id);
        let won = put_if_revision(&self.client, &self.table, &record, expected, what).await?;
        Ok(won.then_some(revision))
    }

    /// One `BatchGetItem` for up to 100 orders.
    async fn load_many(
        &self,
        keys: &[(SellerId, AmazonOrderId)],
    ) -> Vec<Result<Option<StoredOrder>, StoreError>> {
        let asked = keys
            .iter()
            .map(|(seller, order)| {
                std::collections::HashMap::from([
                    ("seller_id".to_owned(), s(seller.as_str())),
                    ("order_id".to_owned(), s(order.as_str())),
                ])
            })
            .collect();
        super::batch::get_each(&self.client, &self.table, ["seller_id", "order_id"], asked)
            .await
            .into_iter()
            .map(|read| read.and_then(|item| item.map(stored_of).transpose()))
            .collect()
    }

    /// One `TransactWriteItems` for up to 100 records, each put on its own condition
    /// (`revision = <read>`, or no record yet).
    async fn save_many(&self, writes: &[OrderWrite]) -> Vec<Result<Option<u64>, StoreError>> {
        let mut answers: Vec<Option<Result<Option<u64>, StoreError>>> =
            crate::kernel::unanswered(writes.len());
        let mut puts = Vec::new();
        let mut sent = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            let revision = w.expected.map_or(1, |v| v + 1);
            let record = OrderRecord::new(&w.order, w.pii.clone(), revision);
            let put = serde_dynamo::to_item(&record)
                .map_err(|e| format!("order {}: {e}", w.order.order_id))
                .and_then(|item| {
                    let put = Put::builder().table_name(&self.table).set_item(Some(item));
                    match w.expected {
                        None => put.condition_expression("attribute_not_exists(revision)"),
                        Some(v) => put
                            .condition_expression("revision = :read")
                            .expression_attribute_values(":read", n(v as i64)),
                    }
                    .build()
                    .map_err(|e| format!("order {}: {e}", w.order.order_id))
                });
            match put {
                Ok(put) => {
                    puts.push(TransactWriteItem::builder().put(put).build());
                    sent.push((i, revision));
                }
                Err(what) => answers[i] = Some(Err(StoreError::Corrupt { what })),
            }
        }
        let written = super::batch::transact_each(&self.client, puts).await;
        for ((i, revision), w) in sent.into_iter().zip(written) {
            answers[i] = Some(w.map(|w| (w == Written::Yes).then_some(revision)));
        }
        crate::kernel::answered(answers)
    }
}

#[async_trait]
impl PiiRecords for DynamoOrderStore {
    async fn held_pii(
        &self,
        seller: &SellerId,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HeldPii>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PII_DUE_INDEX)
            .key_condition_expression("seller_id = :s AND pii_purge_due <= :until")
            .expression_attribute_values(":s", s(seller.as_str()))
            .expression_attribute_values(":until", n(until.timestamp()))
            .projection_expression("order_id, pii_purge_due, pii_kinds")
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| super::store_error("Query", e))?;
        out.items()
            .iter()
            .map(|item| {
                let order_id = item
                    .get("order_id")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|v| AmazonOrderId::parse(v.as_str()).ok());
                let due = item
                    .get("pii_purge_due")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .and_then(|v| DateTime::from_timestamp(v, 0));
                match (order_id, due) {
                    (Some(order_id), Some(purge_at)) => Ok(HeldPii {
                        seller_id: seller.clone(),
                        order_id,
                        purge_at,
                        sealed_kinds: item
                            .get("pii_kinds")
                            .and_then(|v| v.as_l().ok())
                            .map(|l| {
                                known_kinds(
                                    l.iter().map(|k| k.as_s().map(String::as_str).unwrap_or("")),
                                )
                            })
                            .unwrap_or_default(),
                    }),
                    _ => Err(StoreError::Corrupt {
                        what: format!("pii_due index entry of seller {seller}"),
                    }),
                }
            })
            .collect()
    }

    async fn mark_pii_purged(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        reason: PurgeReason,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("seller_id", s(seller.as_str()))
            .key("order_id", s(order.as_str()))
            .update_expression(
                "SET pii_state = :purged, pii_purged_at = :at, pii_purge_reason = :reason, \
                 revision = revision + :one REMOVE pii_purge_due, pii_kinds",
            )
            .expression_attribute_values(":purged", s("purged"))
            .expression_attribute_values(":at", s(at.to_rfc3339()))
            .expression_attribute_values(":reason", s(reason.as_str()))
            .expression_attribute_values(":one", n(1));
        let update = match reason {
            // Only while the date is still past: intake may have re-sealed with a later one.
            PurgeReason::Retention | PurgeReason::Canceled => update
                .condition_expression("attribute_exists(order_id) AND pii_purge_due <= :now")
                .expression_attribute_values(":now", n(at.timestamp())),
            PurgeReason::DeletionRequest => {
                update.condition_expression("attribute_exists(order_id)")
            }
        };
        match update.send().await {
            Ok(_) => Ok(Marked::Purged),
            Err(e) if is_condition_failure(&e) => {
                let exists = read_item::<serde_json::Value>(
                    &self.client,
                    &self.table,
                    [
                        ("seller_id", seller.to_string()),
                        ("order_id", order.to_string()),
                    ],
                    || format!("order {order}"),
                )
                .await?
                .is_some();
                Ok(if exists {
                    Marked::Moved
                } else {
                    Marked::NoRecord
                })
            }
            Err(e) => Err(super::store_error("UpdateItem", e)),
        }
    }
}
