//! The control table: sweep checkpoints and the seller registry (notification dedupe in
//! `notification_claims.rs`, rate buckets in `budget.rs`).
//! Keys: `pk = checkpoint#order-sync, sk = <seller>`; `pk = seller, sk = <seller>`.

use super::{StoreError, put_if_revision, query_all, read_item};
use crate::kernel::Revisioned;
use crate::kernel::{MarketplaceId, SellerId};
use crate::orders::{CheckpointStore, SweepCheckpoint};
use crate::sellers::{SellerAccount, SellerRegistry};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

const CHECKPOINT_PK: &str = "checkpoint#order-sync";
const SELLER_PK: &str = "seller";

pub struct DynamoControl {
    pub(super) client: Client,
    pub(super) table: String,
}

#[derive(Serialize, Deserialize)]
struct CheckpointRecord {
    pk: String,
    sk: String,
    checkpoint: SweepCheckpoint,
    revision: u64,
}

/// A seller's registry entry, as onboarding writes it.
#[derive(Debug, Serialize, Deserialize)]
pub struct SellerRecord {
    pub pk: String,
    pub sk: String,
    pub marketplace_ids: Vec<MarketplaceId>,
    /// `active`, or `offboarded` (no more syncing).
    pub status: String,
}

impl SellerRecord {
    pub fn active(account: &SellerAccount) -> Self {
        Self {
            pk: SELLER_PK.into(),
            sk: account.seller_id.to_string(),
            marketplace_ids: account.marketplace_ids.clone(),
            status: "active".into(),
        }
    }
}

impl DynamoControl {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every registry entry, whatever its status, with its seller id checked.
    async fn registry(&self) -> Result<Vec<(SellerId, SellerRecord)>, StoreError> {
        let items: Vec<_> = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(SELLER_PK.into())),
        )
        .await?;
        items
            .into_iter()
            .map(|item| {
                let corrupt = |e: String| StoreError::Corrupt {
                    what: format!("seller registry entry: {e}"),
                };
                let r: SellerRecord =
                    serde_dynamo::from_item(item).map_err(|e| corrupt(e.to_string()))?;
                let id = SellerId::parse(r.sk.clone()).map_err(|e| corrupt(e.to_string()))?;
                Ok((id, r))
            })
            .collect()
    }

    /// Register (or re-activate) a seller. Used by onboarding and the local stack.
    pub async fn register_seller(&self, account: &SellerAccount) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(SellerRecord::active(account)).map_err(|e| {
            StoreError::Corrupt {
                what: format!("seller {}: {e}", account.seller_id),
            }
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| super::store_error("PutItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl CheckpointStore for DynamoControl {
    async fn load(
        &self,
        seller: &SellerId,
    ) -> Result<Option<Revisioned<SweepCheckpoint>>, StoreError> {
        let Some(record) = read_item::<CheckpointRecord>(
            &self.client,
            &self.table,
            [("pk", CHECKPOINT_PK.into()), ("sk", seller.to_string())],
            || format!("checkpoint of seller {seller}"),
        )
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(Revisioned {
            value: record.checkpoint,
            revision: record.revision,
        }))
    }

    async fn save(
        &self,
        seller: &SellerId,
        checkpoint: &SweepCheckpoint,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let revision = expected.map_or(1, |v| v + 1);
        let record = CheckpointRecord {
            pk: CHECKPOINT_PK.into(),
            sk: seller.to_string(),
            checkpoint: checkpoint.clone(),
            revision,
        };
        let what = || format!("checkpoint of seller {seller}");
        if put_if_revision(&self.client, &self.table, &record, expected, what).await? {
            Ok(revision)
        } else {
            Err(StoreError::Conflict {
                what: format!("checkpoint of seller {seller} moved past revision {expected:?}"),
            })
        }
    }
}

#[async_trait]
impl SellerRegistry for DynamoControl {
    async fn active_sellers(&self) -> Result<Vec<SellerAccount>, StoreError> {
        Ok(self
            .registry()
            .await?
            .into_iter()
            .filter(|(_, r)| r.status == "active")
            .map(|(seller_id, r)| SellerAccount {
                seller_id,
                marketplace_ids: r.marketplace_ids,
            })
            .collect())
    }

    async fn all_sellers(&self) -> Result<Vec<SellerId>, StoreError> {
        Ok(self
            .registry()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    async fn remove(&self, seller: &SellerId) -> Result<bool, StoreError> {
        let mut existed = false;
        for pk in [SELLER_PK, CHECKPOINT_PK] {
            let out = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk.into()))
                .key("sk", AttributeValue::S(seller.to_string()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| super::store_error("DeleteItem", e))?;
            if pk == SELLER_PK {
                existed = out.attributes.is_some_and(|a| !a.is_empty());
            }
        }
        Ok(existed)
    }
}
