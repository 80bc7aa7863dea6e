//! The stock table ([`DynamoStockLedger`], the `stock::StockLedger` port). Keys:
//! `seller_sku = <seller>#<sku>` with `entry =`
//! - `head`: the SKU's counters (`reserved`, `picked`), settings and listing state; carries
//!   `stock_seller`/`stock_sku` for the sparse `skus_by_seller` index;
//! - `at#<location>`: on hand in one location;
//! - `hold#<order>#<item>`: what one order line holds;
//! - `move#<movement id>`: the ledger (append-only).
//!
//! `seller_sku = feed#<seller>#<feed id>`, `entry = part#<n>`: a submitted feed's lines
//! (2,000 a part), until its result is read; and `seller_sku = <seller>` with `entry = locations` (the seller's locations) and
//! `kit#<sku>` (one kit's components), read together in one query. A movement is one
//! `TransactWriteItems`: its ledger entry (only if absent: applied once), every on-hand
//! change with `on_hand >= need` on the way down, the counters added (on the heads of the kits
//! the SKU is part of too), and the hold only if it is still as read.

use super::{query_all, read_item, store_error, written};
use crate::kernel::{AmazonOrderId, OrderItemId, SellerId, Sku, StoreError};
use crate::stock::{
    Applied, FeedEntry, FeedRecord, Hold, KitComponent, ListingState, LocationId, Locations,
    Movement, Plan, SkuPosition, SkuSettings, StockLedger, Warehouse,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const HEAD: &str = "head";
const LOCATIONS: &str = "locations";
const KIT: &str = "kit#";
/// A feed's lines per item: far below DynamoDB's 400 KB.
const FEED_PART: usize = 2_000;
/// The sparse index of head items by seller (`infra/tables.json`).
const SKUS_BY_SELLER: &str = "skus_by_seller";

pub struct DynamoStockLedger {
    client: Client,
    table: String,
}

fn pk(seller: &SellerId, sku: &Sku) -> String {
    format!("{seller}#{sku}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn corrupt(what: String) -> impl FnOnce(serde_dynamo::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        what: format!("{what}: {e}"),
    }
}

#[derive(Deserialize, Default)]
struct HeadItem {
    #[serde(default)]
    reserved: i64,
    #[serde(default)]
    picked: i64,
    settings: Option<SkuSettings>,
    #[serde(default)]
    listing: ListingState,
    #[serde(default)]
    movements: i64,
}

#[derive(Deserialize)]
struct OnHandItem {
    location: LocationId,
    #[serde(default)]
    on_hand: i64,
}

#[derive(Serialize, Deserialize)]
struct LocationsItem {
    seller_sku: String,
    entry: String,
    #[serde(flatten)]
    locations: Locations,
}

#[derive(Serialize, Deserialize)]
struct KitItem {
    seller_sku: String,
    entry: String,
    kit: Sku,
    components: Vec<KitComponent>,
}

#[derive(Serialize, Deserialize)]
struct FeedPartItem {
    seller_sku: String,
    entry: String,
    feed_id: String,
    entries: Vec<FeedEntry>,
}

fn feed_pk(seller: &SellerId, feed_id: &str) -> String {
    format!("feed#{seller}#{feed_id}")
}

#[derive(Serialize, Deserialize)]
struct HoldItem {
    seller_sku: String,
    entry: String,
    #[serde(flatten)]
    hold: Hold,
}

#[derive(Serialize, Deserialize)]
struct MovementItem {
    seller_sku: String,
    entry: String,
    #[serde(flatten)]
    movement: Movement,
}

/// An item's sort key (`head`, `at#…`, `kit#…`, …).
fn entry_of(item: &std::collections::HashMap<String, AttributeValue>) -> String {
    item.get("entry")
        .and_then(|e| e.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn hold_entry(order: &AmazonOrderId, item: &OrderItemId) -> String {
    format!("hold#{order}#{item}")
}

impl DynamoStockLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn head_update(
        &self,
        seller: &SellerId,
        sku: &Sku,
        now: DateTime<Utc>,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder()
            .table_name(&self.table)
            .key("seller_sku", s(pk(seller, sku)))
            .key("entry", s(HEAD))
            .expression_attribute_values(":seller", s(seller.as_str()))
            .expression_attribute_values(":sku", s(sku.as_str()))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
    }
}

impl DynamoStockLedger {
    /// Every item under one partition key, in sort-key order.
    fn partition(
        &self,
        pk: String,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("seller_sku = :pk")
            .expression_attribute_values(":pk", s(pk))
    }

    /// An item written whole (no condition: the caller's key is its own).
    async fn put(
        &self,
        item: std::collections::HashMap<String, AttributeValue>,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }

    /// One map attribute of the SKU's head set (the head made if it is the SKU's first record).
    async fn set_on_head<T: Serialize>(
        &self,
        seller: &SellerId,
        sku: &Sku,
        attribute: &'static str,
        value: &T,
        seen: Option<u64>,
    ) -> Result<bool, StoreError> {
        let value = serde_dynamo::to_attribute_value(value)
            .map_err(corrupt(format!("{attribute} of {seller}/{sku}")))?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("seller_sku", s(pk(seller, sku)))
            .key("entry", s(HEAD))
            .update_expression("SET #attr = :value, stock_seller = :seller, stock_sku = :sku")
            .expression_attribute_names("#attr", attribute)
            .expression_attribute_values(":value", value)
            .expression_attribute_values(":seller", s(seller.as_str()))
            .expression_attribute_values(":sku", s(sku.as_str()));
        if let Some(seen) = seen {
            // A movement since the read: what was read is no longer what Amazon was told.
            let condition = if seen == 0 {
                "attribute_not_exists(movements) OR movements = :seen"
            } else {
                "movements = :seen"
            };
            update = update
                .condition_expression(condition)
                .expression_attribute_values(":seen", n(seen));
        }
        written("UpdateItem", update.send().await)
    }
}

#[async_trait]
impl StockLedger for DynamoStockLedger {
    async fn warehouse(&self, seller: &SellerId) -> Result<Warehouse, StoreError> {
        // `kit#…` sorts before `locations`: the seller's partition holds nothing else.
        let items = query_all(self.partition(seller.to_string()).consistent_read(true)).await?;
        let mut warehouse = Warehouse::default();
        for item in items {
            let entry = entry_of(&item);
            if entry == LOCATIONS {
                let l: LocationsItem = serde_dynamo::from_item(item)
                    .map_err(corrupt(format!("locations of {seller}")))?;
                warehouse.locations = l.locations;
            } else if entry.starts_with(KIT) {
                let k: KitItem = serde_dynamo::from_item(item)
                    .map_err(corrupt(format!("{entry} of {seller}")))?;
                if k.components.is_empty() {
                    warehouse.kits.retired.insert(k.kit);
                } else {
                    warehouse.kits.kits.insert(k.kit, k.components);
                }
            }
        }
        Ok(warehouse)
    }

    async fn kit_line(
        &self,
        seller: &SellerId,
        kit: &Sku,
        order: &AmazonOrderId,
        item: &OrderItemId,
        components: &[KitComponent],
    ) -> Result<Vec<KitComponent>, StoreError> {
        // `kitline#…` sorts after `head`: a position's range never reads it.
        let key = [
            ("seller_sku", pk(seller, kit)),
            ("entry", format!("kitline#{order}#{item}")),
        ];
        let line = KitItem {
            seller_sku: key[0].1.clone(),
            entry: key[1].1.clone(),
            kit: kit.clone(),
            components: components.to_vec(),
        };
        let item_value = serde_dynamo::to_item(&line)
            .map_err(corrupt(format!("kit line {order}/{item} of {seller}")))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_value))
            .condition_expression("attribute_not_exists(entry)")
            .send()
            .await;
        if written("PutItem", put)? {
            return Ok(line.components);
        }
        let kept: Option<KitItem> = read_item(&self.client, &self.table, key, || {
            format!("kit line {order}/{item} of {seller}")
        })
        .await?;
        Ok(kept.map(|k| k.components).unwrap_or(line.components))
    }

    async fn set_kit(
        &self,
        seller: &SellerId,
        kit: &Sku,
        components: &[KitComponent],
    ) -> Result<(), StoreError> {
        // A kit no longer sold keeps its item with no components: the ledger's table is
        // never deleted from (only finished feeds' records are).
        let item = serde_dynamo::to_item(KitItem {
            seller_sku: seller.to_string(),
            entry: format!("{KIT}{kit}"),
            kit: kit.clone(),
            components: components.to_vec(),
        })
        .map_err(corrupt(format!("kit {kit} of {seller}")))?;
        self.put(item).await?;
        // The kit's head: its listing state lives there, and the index lists it for the
        // reconciliation.
        self.set_on_head(seller, kit, "components", &components.to_vec(), None)
            .await
            .map(|_| ())
    }

    async fn set_locations(
        &self,
        seller: &SellerId,
        locations: &Locations,
    ) -> Result<(), StoreError> {
        let item = LocationsItem {
            seller_sku: seller.to_string(),
            entry: LOCATIONS.into(),
            locations: locations.clone(),
        };
        let item =
            serde_dynamo::to_item(&item).map_err(corrupt(format!("locations of {seller}")))?;
        self.put(item).await?;
        Ok(())
    }

    async fn set_settings(
        &self,
        seller: &SellerId,
        sku: &Sku,
        settings: &SkuSettings,
    ) -> Result<(), StoreError> {
        self.set_on_head(seller, sku, "settings", settings, None)
            .await
            .map(|_| ())
    }

    async fn position(&self, seller: &SellerId, sku: &Sku) -> Result<SkuPosition, StoreError> {
        // `at#…` sorts before `head`, and `hold#…`/`move#…` after it: one range, no ledger.
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("seller_sku = :pk AND entry BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk(seller, sku)))
                .expression_attribute_values(":from", s("at#"))
                .expression_attribute_values(":to", s(HEAD)),
        )
        .await?;
        let mut position = SkuPosition::default();
        for item in items {
            let entry = entry_of(&item);
            let what = || format!("stock {entry} of {seller}/{sku}");
            position.known = true;
            if entry == HEAD {
                let head: HeadItem = serde_dynamo::from_item(item).map_err(corrupt(what()))?;
                position.reserved = u64::try_from(head.reserved).unwrap_or(0);
                position.picked = u64::try_from(head.picked).unwrap_or(0);
                position.configured = head.settings.is_some();
                position.settings = head.settings.unwrap_or_default();
                position.listing = head.listing;
                position.movements = u64::try_from(head.movements).unwrap_or(0);
            } else {
                let at: OnHandItem = serde_dynamo::from_item(item).map_err(corrupt(what()))?;
                position
                    .on_hand
                    .insert(at.location, u64::try_from(at.on_hand).unwrap_or(0));
            }
        }
        Ok(position)
    }

    async fn hold(
        &self,
        seller: &SellerId,
        sku: &Sku,
        order: &AmazonOrderId,
        item: &OrderItemId,
    ) -> Result<Option<Hold>, StoreError> {
        let held: Option<HoldItem> = read_item(
            &self.client,
            &self.table,
            [
                ("seller_sku", pk(seller, sku)),
                ("entry", hold_entry(order, item)),
            ],
            || format!("hold of {seller}/{order}/{item}"),
        )
        .await?;
        Ok(held.map(|h| h.hold))
    }

    async fn apply(&self, m: &Movement, plan: &Plan) -> Result<Applied, StoreError> {
        let key = pk(&m.seller_id, &m.sku);
        let what = || format!("movement {} of {}/{}", m.movement_id, m.seller_id, m.sku);
        let ledger = serde_dynamo::to_item(MovementItem {
            seller_sku: key.clone(),
            entry: format!("move#{}", m.movement_id),
            movement: m.clone(),
        })
        .map_err(corrupt(what()))?;
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt {
            what: format!("{}: {e}", what()),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(ledger))
                        .condition_expression("attribute_not_exists(entry)")
                        .build()
                        .map_err(built)?,
                )
                .build(),
        ];
        items.push(
            TransactWriteItem::builder()
                .update(
                    self.head_update(&m.seller_id, &m.sku, m.at)
                        .update_expression(
                            "ADD reserved :reserved, picked :picked, movements :one \
                             SET stock_seller = :seller, stock_sku = :sku, updated_at = :now",
                        )
                        .expression_attribute_values(":reserved", n(plan.reserved))
                        .expression_attribute_values(":picked", n(plan.picked))
                        .expression_attribute_values(":one", n(1))
                        .build()
                        .map_err(built)?,
                )
                .build(),
        );
        for kit in &plan.kit_heads {
            items.push(
                TransactWriteItem::builder()
                    .update(
                        self.head_update(&m.seller_id, kit, m.at)
                            .update_expression(
                                "ADD movements :one \
                                 SET stock_seller = :seller, stock_sku = :sku, updated_at = :now",
                            )
                            .expression_attribute_values(":one", n(1))
                            .build()
                            .map_err(built)?,
                    )
                    .build(),
            );
        }
        for (location, delta) in &plan.on_hand {
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("seller_sku", s(&key))
                .key("entry", s(format!("at#{location}")))
                .update_expression("ADD on_hand :delta SET #loc = :loc")
                .expression_attribute_names("#loc", "location")
                .expression_attribute_values(":delta", n(delta))
                .expression_attribute_values(":loc", s(location.as_str()));
            if *delta < 0 {
                update = update
                    .condition_expression("on_hand >= :need")
                    .expression_attribute_values(":need", n(delta.unsigned_abs()));
            }
            items.push(
                TransactWriteItem::builder()
                    .update(update.build().map_err(built)?)
                    .build(),
            );
        }
        if let Some(write) = &plan.hold {
            let item = serde_dynamo::to_item(HoldItem {
                seller_sku: key.clone(),
                entry: hold_entry(&write.hold.order_id, &write.hold.order_item_id),
                hold: write.hold.clone(),
            })
            .map_err(corrupt(what()))?;
            let put = Put::builder().table_name(&self.table).set_item(Some(item));
            let put = match write.expected {
                None => put.condition_expression("attribute_not_exists(entry)"),
                Some(state) => put
                    .condition_expression("#state = :expected")
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_values(
                        ":expected",
                        serde_dynamo::to_attribute_value(state).map_err(corrupt(what()))?,
                    ),
            };
            items.push(
                TransactWriteItem::builder()
                    .put(put.build().map_err(built)?)
                    .build(),
            );
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Applied::Applied),
            Err(e) => {
                let Some(canceled) = e.as_service_error().and_then(|se| match se {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                    _ => None,
                }) else {
                    return Err(store_error("TransactWriteItems", e));
                };
                let codes: Vec<Option<&str>> = canceled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code())
                    .collect();
                if codes.first().copied().flatten() == Some("ConditionalCheckFailed") {
                    return Ok(Applied::AlreadyApplied);
                }
                let lost = |c: &Option<&str>| {
                    matches!(c, Some("ConditionalCheckFailed" | "TransactionConflict"))
                };
                if codes.is_empty() || codes.iter().any(lost) {
                    // Without reasons, the ledger says whether it was a repeat.
                    if codes.is_empty() && self.recorded(m).await? {
                        return Ok(Applied::AlreadyApplied);
                    }
                    return Ok(Applied::Stale);
                }
                Err(store_error("TransactWriteItems", e))
            }
        }
    }

    async fn recorded(&self, m: &Movement) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("seller_sku", s(pk(&m.seller_id, &m.sku)))
            .key("entry", s(format!("move#{}", m.movement_id)))
            .projection_expression("entry")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(out.item.is_some())
    }

    async fn record_listing(
        &self,
        seller: &SellerId,
        sku: &Sku,
        listing: &ListingState,
        seen: u64,
    ) -> Result<bool, StoreError> {
        self.set_on_head(seller, sku, "listing", listing, Some(seen))
            .await
    }

    async fn movements(&self, seller: &SellerId, sku: &Sku) -> Result<Vec<Movement>, StoreError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("seller_sku = :pk AND begins_with(entry, :move)")
                .expression_attribute_values(":pk", s(pk(seller, sku)))
                .expression_attribute_values(":move", s("move#")),
        )
        .await?;
        let mut movements = items
            .into_iter()
            .map(|i| {
                serde_dynamo::from_item::<_, MovementItem>(i)
                    .map(|m| m.movement)
                    .map_err(corrupt(format!("ledger of {seller}/{sku}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        movements.sort_by(|a, b| (a.at, &a.movement_id).cmp(&(b.at, &b.movement_id)));
        Ok(movements)
    }

    async fn skus(&self, seller: &SellerId) -> Result<Vec<Sku>, StoreError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(SKUS_BY_SELLER)
                .key_condition_expression("stock_seller = :seller")
                .expression_attribute_values(":seller", s(seller.as_str()))
                .projection_expression("stock_sku"),
        )
        .await?;
        items
            .iter()
            .map(|i| {
                let raw = i
                    .get("stock_sku")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                Sku::parse(raw).map_err(|e| StoreError::Corrupt {
                    what: format!("a SKU of {seller} in {SKUS_BY_SELLER}: {e}"),
                })
            })
            .collect()
    }

    async fn record_feed(&self, seller: &SellerId, feed: &FeedRecord) -> Result<(), StoreError> {
        for (n, part) in feed.entries.chunks(FEED_PART).enumerate() {
            let item = serde_dynamo::to_item(FeedPartItem {
                seller_sku: feed_pk(seller, &feed.feed_id),
                entry: format!("part#{n:04}"),
                feed_id: feed.feed_id.clone(),
                entries: part.to_vec(),
            })
            .map_err(corrupt(format!("feed {} of {seller}", feed.feed_id)))?;
            self.put(item).await?;
        }
        Ok(())
    }

    async fn feed(
        &self,
        seller: &SellerId,
        feed_id: &str,
    ) -> Result<Option<FeedRecord>, StoreError> {
        let items = query_all(
            self.partition(feed_pk(seller, feed_id))
                .consistent_read(true),
        )
        .await?;
        if items.is_empty() {
            return Ok(None);
        }
        let mut entries = Vec::new();
        // Parts come in key order: `part#0000`, `part#0001`, …
        for item in items {
            let part: FeedPartItem = serde_dynamo::from_item(item)
                .map_err(corrupt(format!("feed {feed_id} of {seller}")))?;
            entries.extend(part.entries);
        }
        Ok(Some(FeedRecord {
            feed_id: feed_id.to_owned(),
            entries,
        }))
    }

    async fn forget_feed(&self, seller: &SellerId, feed_id: &str) -> Result<(), StoreError> {
        let items = query_all(
            self.partition(feed_pk(seller, feed_id))
                .projection_expression("entry"),
        )
        .await?;
        for item in items {
            let entry = item.get("entry").cloned().unwrap_or_else(|| s(""));
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("seller_sku", s(feed_pk(seller, feed_id)))
                .key("entry", entry)
                .send()
                .await
                .map_err(|e| store_error("DeleteItem", e))?;
        }
        Ok(())
    }
}
