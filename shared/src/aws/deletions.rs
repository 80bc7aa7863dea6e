//! Deletion requests and their confirmations in the control table:
//! `pk = deletion#<request_id>`, `sk = deletion`. Kept (no TTL): the confirmation is what an
//! operator shows when asked whether a deletion was done.

use super::{DynamoControl, StoreError, put_if, read_item};
use crate::kernel::SubjectRequestId;
use crate::pii::{DeletionConfirmation, DeletionRequest};
use crate::pii::{DeletionLedger, DeletionStart};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const SK: &str = "deletion";

#[derive(Serialize, Deserialize)]
struct DeletionRecord {
    pk: String,
    sk: String,
    request: DeletionRequest,
    received_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    orders_purged: u64,
    pii_items_deleted: u64,
    refresh_token_deleted: bool,
    registry_entry_removed: bool,
}

impl DeletionRecord {
    fn of(c: &DeletionConfirmation) -> Self {
        Self {
            pk: pk(&c.request.request_id),
            sk: SK.into(),
            request: c.request.clone(),
            received_at: c.received_at,
            completed_at: c.completed_at,
            orders_purged: c.orders_purged,
            pii_items_deleted: c.pii_items_deleted,
            refresh_token_deleted: c.refresh_token_deleted,
            registry_entry_removed: c.registry_entry_removed,
        }
    }

    fn confirmation(self) -> DeletionConfirmation {
        DeletionConfirmation {
            request: self.request,
            received_at: self.received_at,
            completed_at: self.completed_at,
            orders_purged: self.orders_purged,
            pii_items_deleted: self.pii_items_deleted,
            refresh_token_deleted: self.refresh_token_deleted,
            registry_entry_removed: self.registry_entry_removed,
        }
    }
}

fn pk(id: &SubjectRequestId) -> String {
    format!("deletion#{id}")
}

impl DynamoControl {
    async fn put_deletion(
        &self,
        c: &DeletionConfirmation,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let what = || format!("deletion request {}", c.request.request_id);
        let record = DeletionRecord::of(c);
        put_if(&self.client, &self.table, &record, condition, None, what).await
    }
}

#[async_trait]
impl DeletionLedger for DynamoControl {
    async fn begin(
        &self,
        request: &DeletionRequest,
        received_at: DateTime<Utc>,
    ) -> Result<DeletionStart, StoreError> {
        let fresh = DeletionConfirmation {
            request: request.clone(),
            received_at: request.received_at.unwrap_or(received_at),
            completed_at: None,
            orders_purged: 0,
            pii_items_deleted: 0,
            refresh_token_deleted: false,
            registry_entry_removed: false,
        };
        if self
            .put_deletion(&fresh, "attribute_not_exists(pk)")
            .await?
        {
            return Ok(DeletionStart::Proceed(fresh));
        }
        let Some(stored) = self.confirmation(&request.request_id).await? else {
            // Gone between the write and the read: nothing deletes these, so try again later.
            return Err(StoreError::Conflict {
                what: format!("deletion request {}", request.request_id),
            });
        };
        Ok(if stored.request.scope != request.scope {
            DeletionStart::Conflict
        } else if stored.completed_at.is_some() {
            DeletionStart::Completed(stored)
        } else {
            DeletionStart::Proceed(stored)
        })
    }

    async fn complete(&self, confirmation: &DeletionConfirmation) -> Result<(), StoreError> {
        if self
            .put_deletion(confirmation, "attribute_exists(pk)")
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                what: format!(
                    "deletion request {} vanished before its confirmation",
                    confirmation.request.request_id
                ),
            })
        }
    }

    async fn confirmation(
        &self,
        id: &SubjectRequestId,
    ) -> Result<Option<DeletionConfirmation>, StoreError> {
        let record: Option<DeletionRecord> = read_item(
            &self.client,
            &self.table,
            [("pk", pk(id)), ("sk", SK.into())],
            || format!("deletion request {id}"),
        )
        .await?;
        Ok(record.map(DeletionRecord::confirmation))
    }
}
