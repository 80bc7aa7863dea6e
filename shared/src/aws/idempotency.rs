//! The API's idempotency keys in the control table: `pk = idem#<seller>`, `sk = <key>`, the
//! request's fingerprint, `in_progress` with a lease or `done` with its answer, and a TTL.

use super::{DynamoControl, StoreError, read_item, store_error, written};
use crate::api::{IdempotencyKey, IdempotencyKeys, KeptAnswer, KeyStart, idempotency};
use crate::kernel::SellerId;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct KeyRecord {
    pk: String,
    sk: String,
    fingerprint: String,
    /// `in_progress` or `done`.
    state: String,
    /// Epoch seconds: an `in_progress` record past it may be taken again.
    lease_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<String>,
    /// TTL (epoch seconds); a record past it counts as gone before DynamoDB deletes it.
    expires_at: i64,
}

fn pk(seller: &SellerId) -> String {
    format!("idem#{seller}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[async_trait]
impl IdempotencyKeys for DynamoControl {
    async fn begin(
        &self,
        seller: &SellerId,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyStart, StoreError> {
        let record = KeyRecord {
            pk: pk(seller),
            sk: key.as_str().to_owned(),
            fingerprint: fingerprint.to_owned(),
            state: "in_progress".into(),
            lease_until: (now + idempotency::LEASE).timestamp(),
            answer: None,
            expires_at: (now + idempotency::KEPT_FOR).timestamp(),
        };
        let item = serde_dynamo::to_item(&record).map_err(|e| StoreError::Corrupt {
            what: format!("idempotency key record: {e}"),
        })?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR \
                 (#state = :progress AND lease_until < :now AND fingerprint = :print)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":progress", s("in_progress"))
            .expression_attribute_values(":print", s(fingerprint))
            .send()
            .await;
        if written("PutItem", put)? {
            return Ok(KeyStart::New);
        }
        let held: Option<KeyRecord> = read_item(
            &self.client,
            &self.table,
            [("pk", pk(seller)), ("sk", key.as_str().to_owned())],
            || format!("idempotency key of seller {seller}"),
        )
        .await?;
        Ok(match held {
            // Gone between the two calls (its TTL): the caller may try again.
            None => KeyStart::InProgress,
            Some(r) if r.fingerprint != fingerprint => KeyStart::Reused,
            Some(r) if r.state == "done" => {
                let answer: KeptAnswer = r
                    .answer
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok())
                    .ok_or_else(|| StoreError::Corrupt {
                        what: format!("idempotency answer of seller {seller}"),
                    })?;
                KeyStart::Replay(answer)
            }
            Some(_) => KeyStart::InProgress,
        })
    }

    async fn finish(
        &self,
        seller: &SellerId,
        key: &IdempotencyKey,
        fingerprint: &str,
        answer: &KeptAnswer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let answer = serde_json::to_string(answer).map_err(|e| StoreError::Corrupt {
            what: format!("idempotency answer: {e}"),
        })?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(seller)))
            .key("sk", s(key.as_str()))
            .update_expression("SET #state = :done, answer = :answer, expires_at = :expires")
            .condition_expression("fingerprint = :print AND #state = :progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":progress", s("in_progress"))
            .expression_attribute_values(":answer", s(answer))
            .expression_attribute_values(":expires", n((now + idempotency::KEPT_FOR).timestamp()))
            .expression_attribute_values(":print", s(fingerprint))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error("UpdateItem", e))
    }

    async fn release(
        &self,
        seller: &SellerId,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk(seller)))
            .key("sk", s(key.as_str()))
            .condition_expression("fingerprint = :print AND #state = :progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":progress", s("in_progress"))
            .expression_attribute_values(":print", s(fingerprint))
            .send()
            .await;
        // Not ours to delete (done, or another request's): left as it is.
        written("DeleteItem", deleted).map(|_| ())
    }
}
