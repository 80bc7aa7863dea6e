//! The orders table: order facts without PII, one item per seller + order.

use super::{StoreError, is_condition_failure, read_item};
use crate::domain::{AmazonOrderId, Order, SellerId};
use crate::ports::{OrderStore, PiiHolding, UpsertOutcome};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

/// The stored shape: the order plus the attributes indexes and the redactor work from.
#[derive(Serialize, Deserialize)]
struct OrderRecord {
    #[serde(flatten)]
    order: Order,
    /// `last_updated_at` in ms: the version the conditional write compares.
    version_ms: i64,
    /// `held` while sealed PII exists in the pii table, `none` otherwise.
    pii_state: String,
    pii_purge_at: i64,
    /// Sparse key of the `pii_due` index: present only while PII is held.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pii_purge_due: Option<i64>,
    /// Sparse key of the `open_by_ship_by` index: present only while the order is open.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    open_ship_by: Option<String>,
    stored_at: DateTime<Utc>,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    async fn upsert(&self, order: &Order, pii: PiiHolding) -> Result<UpsertOutcome, StoreError> {
        let version_ms = order.last_updated_at.timestamp_millis();
        let record = OrderRecord {
            order: order.clone(),
            version_ms,
            pii_state: if pii.held { "held" } else { "none" }.to_owned(),
            pii_purge_at: pii.purge_at.timestamp(),
            pii_purge_due: pii.held.then(|| pii.purge_at.timestamp()),
            open_ship_by: order
                .status
                .is_open()
                .then(|| order.ship_by.unwrap_or(order.created_at).to_rfc3339()),
            stored_at: Utc::now(),
        };
        let item = serde_dynamo::to_item(&record).map_err(|e| StoreError::Corrupt {
            what: format!("order {} does not serialize: {e}", order.order_id),
        })?;
        // Same version again is a harmless rewrite (idempotent retry); older never wins.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(order_id) OR version_ms <= :v")
            .expression_attribute_values(":v", AttributeValue::N(version_ms.to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) if out.attributes().is_some_and(|a| !a.is_empty()) => {
                Ok(UpsertOutcome::Updated)
            }
            Ok(_) => Ok(UpsertOutcome::Inserted),
            Err(e) if is_condition_failure(&e) => Ok(UpsertOutcome::Stale),
            Err(e) => Err(StoreError::dynamo("PutItem", e)),
        }
    }

    async fn get(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<Order>, StoreError> {
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
        Ok(record.map(|r| r.order))
    }
}
