//! The label purchase ledger in the control table: `pk = label#<seller>#<order>`,
//! `sk = <package id>`; `state` is `in_progress` (with the `attempt`: its key and the exact
//! request) or `purchased` (with the `label` on record); `idem_key` is the attempt's key, which
//! every conditional write names.

use super::{DynamoControl, StoreError, is_condition_failure, read_item};
use crate::kernel::{AmazonOrderId, SellerId};
use crate::labels::{LabelRecord, PackageId, PurchaseAttempt, PurchaseEntry, PurchaseLedger};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

const IN_PROGRESS: &str = "in_progress";
const PURCHASED: &str = "purchased";

#[derive(Serialize, Deserialize)]
struct PurchaseItem {
    pk: String,
    sk: String,
    state: String,
    idem_key: String,
    attempt: PurchaseAttempt,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    label: Option<LabelRecord>,
}

fn pk(seller: &SellerId, order: &AmazonOrderId) -> String {
    format!("label#{seller}#{order}")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

#[async_trait]
impl PurchaseLedger for DynamoControl {
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
    ) -> Result<Option<PurchaseEntry>, StoreError> {
        let item: Option<PurchaseItem> = read_item(
            &self.client,
            &self.table,
            [("pk", pk(seller, order)), ("sk", package.to_string())],
            || format!("label purchase {order} {package}"),
        )
        .await?;
        item.map(|i| match (i.state.as_str(), i.label) {
            (PURCHASED, Some(label)) => Ok(PurchaseEntry::Purchased(label)),
            (IN_PROGRESS, _) => Ok(PurchaseEntry::InProgress(i.attempt)),
            (state, _) => Err(StoreError::Corrupt {
                what: format!("label purchase {order} {package}: state {state}"),
            }),
        })
        .transpose()
    }

    async fn start(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        attempt: &PurchaseAttempt,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError> {
        let item = PurchaseItem {
            pk: pk(seller, order),
            sk: package.to_string(),
            state: IN_PROGRESS.into(),
            idem_key: attempt.idempotency_key.clone(),
            attempt: attempt.clone(),
            label: None,
        };
        let item = serde_dynamo::to_item(&item).map_err(|e| StoreError::Corrupt {
            what: format!("label purchase {order} {package}: {e}"),
        })?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = match replacing {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(previous) => put
                .condition_expression("#state = :in_progress AND idem_key = :previous")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":previous", s(previous)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(super::store_error("PutItem", e)),
        }
    }

    async fn complete(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        record: &LabelRecord,
    ) -> Result<bool, StoreError> {
        let label = serde_dynamo::to_attribute_value(record).map_err(|e| StoreError::Corrupt {
            what: format!("label purchase {order} {package}: {e}"),
        })?;
        let done = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk(seller, order)))
            .key("sk", s(package.as_str()))
            .update_expression("SET #state = :purchased, label = :label")
            .condition_expression("#state = :in_progress AND idem_key = :key")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":purchased", s(PURCHASED))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":key", s(&record.idempotency_key))
            .expression_attribute_values(":label", label)
            .send()
            .await;
        match done {
            Ok(_) => Ok(true),
            // Finished already under the same key (two processes on one attempt): done.
            Err(e) if is_condition_failure(&e) => Ok(matches!(
                self.load(seller, order, package).await?,
                Some(PurchaseEntry::Purchased(r)) if r.idempotency_key == record.idempotency_key
            )),
            Err(e) => Err(super::store_error("UpdateItem", e)),
        }
    }
}
