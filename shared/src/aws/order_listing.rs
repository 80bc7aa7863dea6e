//! The orders table read page by page: open orders by ship-by through the sparse
//! `open_by_ship_by` index, any other listing through the seller's partition.

use super::orders::stored_of;
use super::{DynamoOrderStore, StoreError, store_error};
use crate::kernel::SellerId;
use crate::orders::{OrderFilter, OrderListPage, OrderListing, OrderStatus, PageKey};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// The index of open orders by ship-by (`infra/tables.json`).
const OPEN_BY_SHIP_BY_INDEX: &str = "open_by_ship_by";
const TABLE_KEY: &[&str] = &["order_id", "seller_id"];
const OPEN_INDEX_KEY: &[&str] = &["open_ship_by", "order_id", "seller_id"];

fn status_name(status: OrderStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[async_trait]
impl OrderListing for DynamoOrderStore {
    async fn list(
        &self,
        seller: &SellerId,
        filter: &OrderFilter,
        limit: u32,
        after: Option<&PageKey>,
    ) -> Result<OrderListPage, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .limit(limit.clamp(1, 1000) as i32)
            .expression_attribute_values(":seller", AttributeValue::S(seller.to_string()));
        let statuses: Vec<OrderStatus> = match filter {
            OrderFilter::Open {
                statuses,
                ship_by_before,
            } => {
                query = query.index_name(OPEN_BY_SHIP_BY_INDEX);
                query = match ship_by_before {
                    // The index key is the ship-by as the store writes it (RFC 3339, UTC).
                    Some(before) => query
                        .key_condition_expression("seller_id = :seller AND open_ship_by <= :before")
                        .expression_attribute_values(
                            ":before",
                            AttributeValue::S(before.to_rfc3339()),
                        ),
                    None => query.key_condition_expression("seller_id = :seller"),
                };
                statuses.clone()
            }
            OrderFilter::Status(status) => {
                query = query.key_condition_expression("seller_id = :seller");
                vec![*status]
            }
            OrderFilter::All => {
                query = query.key_condition_expression("seller_id = :seller");
                Vec::new()
            }
        };
        if !statuses.is_empty() {
            let names: Vec<String> = (0..statuses.len()).map(|i| format!(":st{i}")).collect();
            query = query
                .filter_expression(format!("#status IN ({})", names.join(", ")))
                .expression_attribute_names("#status", "status");
            for (name, status) in names.into_iter().zip(&statuses) {
                query = query
                    .expression_attribute_values(name, AttributeValue::S(status_name(*status)));
            }
        }
        if let Some(after) = after {
            let key: HashMap<String, AttributeValue> = after
                .iter()
                .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
                .collect();
            query = query.set_exclusive_start_key(Some(key));
        }
        let out = query.send().await.map_err(|e| store_error("Query", e))?;
        let next = out.last_evaluated_key.map(|key| {
            key.into_iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|v| (k, v.clone())))
                .collect()
        });
        let orders = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(stored_of)
            .collect::<Result<_, _>>()?;
        Ok(OrderListPage { orders, next })
    }

    fn page_key_names(&self, filter: &OrderFilter) -> &'static [&'static str] {
        match filter {
            OrderFilter::Open { .. } => OPEN_INDEX_KEY,
            _ => TABLE_KEY,
        }
    }
}
