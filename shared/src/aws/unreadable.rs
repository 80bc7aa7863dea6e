//! The sweep's record of orders Amazon served that the suite could not read, in the control
//! table: `pk = unreadable#<seller>, sk = <order id>` (or `no-id#<window start>#<reason hash>`
//! for one without a readable id). Ids, reasons, dates and counts: never order data.

use super::{DynamoControl, StoreError, query_all};
use crate::kernel::{AmazonOrderId, SellerId};
use crate::orders::{UnreadableOnRecord, UnreadableOrder, UnreadableOrders};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use std::hash::{Hash, Hasher};

/// The parts of a record `pending` hands back (only records with an id are listed).
#[derive(Deserialize)]
struct Record {
    order_id: AmazonOrderId,
    reason: String,
    first_seen: DateTime<Utc>,
    seen: u32,
}

fn pk(seller: &SellerId) -> String {
    format!("unreadable#{seller}")
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[async_trait]
impl UnreadableOrders for DynamoControl {
    async fn record(
        &self,
        seller: &SellerId,
        order: &UnreadableOrder,
        window_start: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sk = match &order.order_id {
            Some(id) => id.to_string(),
            None => {
                // Stable across runs: the same unreadable order in the same window is one record.
                let mut h = std::collections::hash_map::DefaultHasher::new();
                order.reason.hash(&mut h);
                format!("no-id#{}#{:016x}", iso(window_start), h.finish())
            }
        };
        let mut set =
            "SET reason = :reason, last_seen = :at, first_seen = if_not_exists(first_seen, :at)"
                .to_owned();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", Av::S(pk(seller)))
            .key("sk", Av::S(sk))
            .expression_attribute_values(":reason", Av::S(order.reason.clone()))
            .expression_attribute_values(":at", Av::S(iso(at)))
            .expression_attribute_values(":one", Av::N("1".into()));
        if let Some(id) = &order.order_id {
            set.push_str(", order_id = :id");
            update = update.expression_attribute_values(":id", Av::S(id.to_string()));
        }
        update
            .update_expression(format!("{set} ADD seen :one"))
            .send()
            .await
            .map_err(|e| super::store_error("UpdateItem", e))?;
        Ok(())
    }

    async fn pending(
        &self,
        seller: &SellerId,
        limit: usize,
    ) -> Result<Vec<UnreadableOnRecord>, StoreError> {
        let items: Vec<_> = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("attribute_exists(order_id)")
                .expression_attribute_values(":pk", Av::S(pk(seller))),
        )
        .await?;
        let mut out = items
            .into_iter()
            .map(|item| {
                let r: Record = serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
                    what: format!("unreadable-order record of seller {seller}: {e}"),
                })?;
                Ok(UnreadableOnRecord {
                    order_id: r.order_id,
                    reason: r.reason,
                    first_seen: r.first_seen,
                    seen: r.seen,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by(|a, b| (a.first_seen, &a.order_id).cmp(&(b.first_seen, &b.order_id)));
        out.truncate(limit);
        Ok(out)
    }

    async fn resolve(&self, seller: &SellerId, order: &AmazonOrderId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", Av::S(pk(seller)))
            .key("sk", Av::S(order.to_string()))
            .send()
            .await
            .map_err(|e| super::store_error("DeleteItem", e))?;
        Ok(())
    }
}
