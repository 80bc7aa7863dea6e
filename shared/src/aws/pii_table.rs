//! The pii table as a store of sealed items: listed, counted and deleted by key, never
//! opened. The redactor and the auditor report use this alone (no KMS key needed); the vault
//! (`vault.rs`) seals into it and opens from it.

use super::{is_condition_failure, known_kinds};
use crate::kernel::{AmazonOrderId, PiiKind, SellerId, StoreError};
use crate::pii::{
    HeldItem, HeldPiiSummary, PurgeScope, SealedFilter, SealedItems, SealedOrder, VaultError,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Clone)]
pub struct PiiTable {
    pub(super) dynamo: aws_sdk_dynamodb::Client,
    pub(super) name: String,
}

pub(super) fn seller_order(seller: &SellerId, order: &AmazonOrderId) -> String {
    format!("{seller}#{order}")
}

fn parse_seller_order(key: &str) -> Result<(SellerId, AmazonOrderId), StoreError> {
    key.split_once('#')
        .and_then(|(s, o)| Some((SellerId::parse(s).ok()?, AmazonOrderId::parse(o).ok()?)))
        .ok_or_else(|| StoreError::Corrupt {
            what: "sealed item with a malformed seller_order key".into(),
        })
}

impl PiiTable {
    pub fn new(dynamo: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Self {
            dynamo,
            name: name.into(),
        }
    }

    /// Every item of the pii table (attributes `projection` only; `filter` with its one
    /// value `:v`), strongly consistent.
    async fn scan(
        &self,
        projection: &str,
        filter: Option<(&str, AttributeValue)>,
    ) -> Result<Vec<std::collections::HashMap<String, AttributeValue>>, StoreError> {
        let scan = self
            .dynamo
            .scan()
            .table_name(&self.name)
            // Said explicitly: the readers' roles require it (keys and dates only).
            .select(aws_sdk_dynamodb::types::Select::SpecificAttributes)
            .projection_expression(projection)
            .consistent_read(true);
        let scan = match filter {
            Some((expression, value)) => scan
                .filter_expression(expression)
                .expression_attribute_values(":v", value),
            None => scan,
        };
        scan.into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| super::store_error("Scan", e))
    }
}

#[async_trait]
impl SealedItems for PiiTable {
    async fn purge(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        scope: PurgeScope,
    ) -> Result<usize, VaultError> {
        let kinds: Vec<AttributeValue> = match &scope {
            // The record says which items it holds: delete those by key, no lookup.
            PurgeScope::PastDue { kinds, .. } | PurgeScope::Kinds(kinds) if !kinds.is_empty() => {
                kinds
                    .iter()
                    .map(|k| AttributeValue::S(k.key().into_owned()))
                    .collect()
            }
            PurgeScope::Kinds(_) => Vec::new(),
            // Every kind the order has (buyer, recipient, label documents), keys only.
            _ => self
                .dynamo
                .query()
                .table_name(&self.name)
                .key_condition_expression("seller_order = :so")
                .expression_attribute_values(":so", AttributeValue::S(seller_order(seller, order)))
                .select(aws_sdk_dynamodb::types::Select::SpecificAttributes)
                .projection_expression("kind")
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| super::store_error("Query", e))?
                .items()
                .iter()
                .filter_map(|item| item.get("kind").cloned())
                .collect(),
        };
        let mut deleted = 0;
        for kind in kinds {
            let delete = self
                .dynamo
                .delete_item()
                .table_name(&self.name)
                .key(
                    "seller_order",
                    AttributeValue::S(seller_order(seller, order)),
                )
                .key("kind", kind)
                .condition_expression(match scope {
                    PurgeScope::All | PurgeScope::Kinds(_) => "attribute_exists(kind)",
                    // Re-sealed since with a later date: not ours to delete.
                    PurgeScope::PastDue { .. } => "attribute_exists(kind) AND pii_purge_at <= :now",
                });
            let delete = match &scope {
                PurgeScope::All | PurgeScope::Kinds(_) => delete,
                PurgeScope::PastDue { now, .. } => delete.expression_attribute_values(
                    ":now",
                    AttributeValue::N(now.timestamp().to_string()),
                ),
            };
            match delete.send().await {
                Ok(_) => deleted += 1,
                // Gone already, or not yet due.
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(super::store_error("DeleteItem", e).into()),
            }
        }
        Ok(deleted)
    }

    async fn bring_forward(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kinds: &[PiiKind],
        at: DateTime<Utc>,
    ) -> Result<usize, VaultError> {
        let mut moved = 0;
        for kind in kinds {
            let update = self
                .dynamo
                .update_item()
                .table_name(&self.name)
                .key(
                    "seller_order",
                    AttributeValue::S(seller_order(seller, order)),
                )
                .key("kind", AttributeValue::S(kind.key().into_owned()))
                .update_expression("SET pii_purge_at = :at")
                .condition_expression("attribute_exists(kind) AND pii_purge_at > :at")
                .expression_attribute_values(":at", AttributeValue::N(at.timestamp().to_string()))
                .send()
                .await;
            match update {
                Ok(_) => moved += 1,
                // Gone, or due sooner already.
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(super::store_error("UpdateItem", e).into()),
            }
        }
        Ok(moved)
    }

    async fn sealed_orders(&self, filter: SealedFilter) -> Result<Vec<SealedOrder>, VaultError> {
        let items = match &filter {
            SealedFilter::PastDue(now) => {
                self.scan(
                    "seller_order, kind",
                    Some((
                        "pii_purge_at <= :v",
                        AttributeValue::N(now.timestamp().to_string()),
                    )),
                )
                .await?
            }
            SealedFilter::Seller(seller) => {
                self.scan(
                    "seller_order, kind",
                    Some((
                        "begins_with(seller_order, :v)",
                        AttributeValue::S(format!("{seller}#")),
                    )),
                )
                .await?
            }
        };
        let mut orders: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for item in &items {
            let key = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            if let (Some(so), Some(kind)) = (key("seller_order"), key("kind")) {
                orders.entry(so).or_default().push(kind);
            }
        }
        orders
            .into_iter()
            .map(|(so, kinds)| {
                let (seller_id, order_id) = parse_seller_order(&so)?;
                Ok(SealedOrder {
                    seller_id,
                    order_id,
                    kinds: known_kinds(kinds.iter().map(String::as_str)),
                })
            })
            .collect()
    }

    async fn count_past_due(&self, now: DateTime<Utc>) -> Result<u64, VaultError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .scan()
                .table_name(&self.name)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .filter_expression("pii_purge_at <= :v")
                .expression_attribute_values(":v", AttributeValue::N(now.timestamp().to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| super::store_error("Scan", e))?;
            total += u64::try_from(page.count).unwrap_or_default();
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    async fn held(&self, now: DateTime<Utc>) -> Result<HeldPiiSummary, VaultError> {
        #[derive(Deserialize)]
        struct Dates {
            seller_order: String,
            kind: PiiKind,
            pii_purge_at: i64,
            sealed_at: DateTime<Utc>,
        }
        // Keys and dates only: the report's reader may list the table, never its ciphertext.
        let items = self
            .scan("seller_order, kind, pii_purge_at, sealed_at", None)
            .await?;
        let mut summary = HeldPiiSummary::default();
        let mut orders = std::collections::BTreeSet::new();
        for item in items {
            let d: Dates = serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
                what: format!("sealed item dates: {e}"),
            })?;
            let purge_at =
                DateTime::from_timestamp(d.pii_purge_at, 0).ok_or_else(|| StoreError::Corrupt {
                    what: "sealed item with an out-of-range pii_purge_at".into(),
                })?;
            summary.items += 1;
            if purge_at <= now {
                summary.items_past_due += 1;
            }
            let older = summary
                .oldest
                .as_ref()
                .is_none_or(|o| d.sealed_at < o.sealed_at);
            if older {
                let (seller_id, order_id) = parse_seller_order(&d.seller_order)?;
                summary.oldest = Some(HeldItem {
                    seller_id,
                    order_id,
                    kind: d.kind,
                    sealed_at: d.sealed_at,
                    purge_at,
                });
            }
            orders.insert(d.seller_order);
        }
        summary.orders = orders.len() as u64;
        Ok(summary)
    }
}
