//! The parcels watched until delivery, in the control table: `pk = tracking`, `sk =
//! <seller>#<order>#<package>`, the parcel's ids and carrier references beside it. One
//! partition, read whole by the tracker (parcels in transit: thousands, a few pages).

use super::{DynamoControl, StoreError, put_if, query_all};
use crate::kernel::{AmazonOrderId, PackageId, SellerId};
use crate::labels::{TrackingWatch, WatchedParcel};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

const PK: &str = "tracking";

#[derive(Serialize, Deserialize)]
struct WatchItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    parcel: WatchedParcel,
}

fn sk(seller: &SellerId, order: &AmazonOrderId, package: &PackageId) -> String {
    format!("{seller}#{order}#{package}")
}

fn item(parcel: &WatchedParcel) -> WatchItem {
    WatchItem {
        pk: PK.into(),
        sk: sk(&parcel.seller_id, &parcel.order_id, &parcel.package_id),
        parcel: parcel.clone(),
    }
}

fn what(parcel: &WatchedParcel) -> impl Fn() -> String + '_ {
    move || format!("tracking of {} {}", parcel.order_id, parcel.package_id)
}

#[async_trait]
impl TrackingWatch for DynamoControl {
    async fn watch(&self, parcel: &WatchedParcel) -> Result<(), StoreError> {
        // Watched already: what was learnt stays.
        put_if(
            &self.client,
            &self.table,
            &item(parcel),
            "attribute_not_exists(pk)",
            None,
            what(parcel),
        )
        .await
        .map(|_| ())
    }

    async fn watched(&self) -> Result<Vec<WatchedParcel>, StoreError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(PK.into()))
                .consistent_read(true),
        )
        .await?;
        items
            .into_iter()
            .map(|i| {
                serde_dynamo::from_item::<_, WatchItem>(i)
                    .map(|w| w.parcel)
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("a watched parcel: {e}"),
                    })
            })
            .collect()
    }

    async fn update(&self, parcel: &WatchedParcel) -> Result<(), StoreError> {
        // Unwatched meanwhile (delivered, voided): nothing to update.
        put_if(
            &self.client,
            &self.table,
            &item(parcel),
            "attribute_exists(pk)",
            None,
            what(parcel),
        )
        .await
        .map(|_| ())
    }

    async fn unwatch(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(PK.into()))
            .key("sk", AttributeValue::S(sk(seller, order, package)))
            .send()
            .await
            .map_err(|e| super::store_error("DeleteItem", e))?;
        Ok(())
    }
}
