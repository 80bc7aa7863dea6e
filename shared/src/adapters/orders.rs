//! The orders table: order facts without PII, one item per seller + order.

use super::{StoreError, put_if_version, read_item};
use crate::domain::{AmazonOrderId, Order, SellerId};
use crate::ports::{OrderStore, PiiHolding, Versioned};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
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
    /// Bumped by every write (intake and warehouse alike); writes are conditional on it.
    version: u64,
    /// Amazon's `lastUpdatedTime` in ms, for queries and reports.
    amazon_version_ms: i64,
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
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Option<Versioned<Order>>, StoreError> {
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
        Ok(record.map(|r| Versioned {
            value: r.order,
            version: r.version,
        }))
    }

    async fn save(
        &self,
        order: &Order,
        pii: PiiHolding,
        expected: Option<u64>,
    ) -> Result<Option<u64>, StoreError> {
        let version = expected.map_or(1, |v| v + 1);
        let record = OrderRecord {
            order: order.clone(),
            version,
            amazon_version_ms: order.last_updated_at.timestamp_millis(),
            pii_state: if pii.held { "held" } else { "none" }.to_owned(),
            pii_purge_at: pii.purge_at.timestamp(),
            pii_purge_due: pii.held.then(|| pii.purge_at.timestamp()),
            open_ship_by: order
                .status
                .is_open()
                .then(|| order.ship_by.unwrap_or(order.created_at).to_rfc3339()),
            stored_at: Utc::now(),
        };
        let what = || format!("order {}", order.order_id);
        let won = put_if_version(&self.client, &self.table, &record, expected, what).await?;
        Ok(won.then_some(version))
    }
}
