//! Notification dedupe in the control table: `pk = notification#<NotificationId>`,
//! `sk = notification`; `state` is `processing` (with `holder`, the SQS message id, and
//! `lease_until`) or `done`; `failures` counts failed attempts; `reserved_at_ms`, while deferred, is
//! when the `getOrder` place set aside for it is due; `expires_at` is the TTL.

use super::batch::Written;
use super::{DynamoControl, StoreError, is_condition_failure, read_item};
use crate::orders::{Claim, ClaimAsk, NotificationClaims};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::collections::HashMap;

/// Amazon redelivers for hours at most; SQS keeps a message 14 days at most.
const KEEP: Duration = Duration::days(14);
const SK: &str = "notification";
/// A claim as `claim` writes it, whatever its condition; `claim_many`'s first claims put the
/// same attributes as a whole item.
const CLAIM: &str =
    "SET #state = :processing, holder = :holder, lease_until = :lease, expires_at = :expires";

#[derive(Deserialize)]
struct LedgerEntry {
    state: String,
}

fn pk(notification_id: &str) -> AttributeValue {
    AttributeValue::S(format!("notification#{notification_id}"))
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DynamoControl {
    fn claim_update(
        &self,
        notification_id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(notification_id))
            .key("sk", AttributeValue::S(SK.into()))
    }
}

#[async_trait]
impl NotificationClaims for DynamoControl {
    async fn claim(
        &self,
        notification_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let result = self
            .claim_update(notification_id)
            .update_expression(CLAIM)
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :processing AND \
                 (attribute_not_exists(holder) OR holder = :holder OR lease_until < :now))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":processing", AttributeValue::S("processing".into()))
            .expression_attribute_values(":holder", AttributeValue::S(message_id.into()))
            .expression_attribute_values(":lease", n(lease_until.timestamp_millis()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":expires", n((now + KEEP).timestamp()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let number = |name: &str| -> Option<i64> {
                    out.attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse().ok())
                };
                Ok(Claim::Claimed {
                    failures: number("failures").unwrap_or(0) as u32,
                    reserved_at: number("reserved_at_ms").and_then(DateTime::from_timestamp_millis),
                })
            }
            Err(e) if is_condition_failure(&e) => {
                let entry: Option<LedgerEntry> = read_item(
                    &self.client,
                    &self.table,
                    [
                        ("pk", format!("notification#{notification_id}")),
                        ("sk", SK.into()),
                    ],
                    || format!("notification {notification_id}"),
                )
                .await?;
                Ok(match entry {
                    Some(e) if e.state == "done" => Claim::AlreadyDone,
                    // Gone between the write and the read (TTL): a later copy claims it.
                    _ => Claim::InFlight,
                })
            }
            Err(e) => Err(super::store_error("UpdateItem", e)),
        }
    }

    async fn complete(&self, notification_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.claim_update(notification_id)
            .update_expression(
                "SET #state = :done, expires_at = :expires REMOVE holder, lease_until, reserved_at_ms",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .expression_attribute_values(":expires", n((now + KEEP).timestamp()))
            .send()
            .await
            .map_err(|e| super::store_error("UpdateItem", e))?;
        Ok(())
    }

    /// A notification seen for the first time, the usual case, is claimed in one
    /// `TransactWriteItems` with the batch's others (a put where no item is); one seen before
    /// (a redelivery, a copy, one done) is told apart by the item its failed condition returns,
    /// and claimed alone.
    async fn claim_many(
        &self,
        asks: &[ClaimAsk],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Vec<Result<Claim, StoreError>> {
        let mut answers: Vec<Option<Result<Claim, StoreError>>> =
            crate::kernel::unanswered(asks.len());
        let mut puts = Vec::new();
        let mut sent = Vec::new();
        for (i, a) in asks.iter().enumerate() {
            // A first claim is the whole item, put where none is: what `CLAIM` sets on an
            // absent item, without an update expression to evaluate.
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", pk(&a.notification_id))
                .item("sk", AttributeValue::S(SK.into()))
                .item("state", AttributeValue::S("processing".into()))
                .item("holder", AttributeValue::S(a.message_id.clone()))
                .item("lease_until", n(lease_until.timestamp_millis()))
                .item("expires_at", n((now + KEEP).timestamp()))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(super::batch::old_on_failure())
                .build();
            // It always builds; one that did not would be claimed alone below.
            if let Ok(p) = put {
                puts.push(TransactWriteItem::builder().put(p).build());
                sent.push(i);
            }
        }
        let written = super::batch::transact_each(&self.client, puts).await;
        for (i, w) in sent.into_iter().zip(written) {
            answers[i] = match w {
                Ok(Written::Yes) => Some(Ok(Claim::Claimed {
                    failures: 0,
                    reserved_at: None,
                })),
                Ok(Written::ConditionFailed(Some(old)))
                    if old
                        .get("state")
                        .and_then(|v| v.as_s().ok())
                        .map(String::as_str)
                        == Some("done") =>
                {
                    Some(Ok(Claim::AlreadyDone))
                }
                // Seen before and not done: its claim depends on the holder and the lease.
                Ok(Written::ConditionFailed(_)) => None,
                Err(e) => Some(Err(e)),
            };
        }
        let mut out = Vec::with_capacity(asks.len());
        for (a, answer) in asks.iter().zip(answers) {
            out.push(match answer {
                Some(answer) => answer,
                None => {
                    self.claim(&a.notification_id, &a.message_id, now, lease_until)
                        .await
                }
            });
        }
        out
    }

    /// One `BatchWriteItem` for up to 25: a done notification needs nothing of its claim.
    async fn complete_many(
        &self,
        notification_ids: &[String],
        now: DateTime<Utc>,
    ) -> Vec<Result<(), StoreError>> {
        let items = notification_ids
            .iter()
            .map(|id| {
                HashMap::from([
                    ("pk".to_owned(), pk(id)),
                    ("sk".to_owned(), AttributeValue::S(SK.into())),
                    ("state".to_owned(), AttributeValue::S("done".into())),
                    ("expires_at".to_owned(), n((now + KEEP).timestamp())),
                ])
            })
            .collect();
        super::batch::put_each(&self.client, &self.table, items).await
    }

    async fn release(&self, notification_id: &str, message_id: &str) -> Result<(), StoreError> {
        let sent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk(notification_id))
            .key("sk", AttributeValue::S(SK.into()))
            .condition_expression("#state = :processing AND holder = :holder")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":processing", AttributeValue::S("processing".into()))
            .expression_attribute_values(":holder", AttributeValue::S(message_id.into()))
            .send()
            .await;
        match sent {
            // Not ours (any more): nothing to let go of.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(super::store_error("DeleteItem", e)),
            Ok(_) => Ok(()),
        }
    }

    async fn fail(&self, notification_id: &str, message_id: &str) -> Result<u32, StoreError> {
        let out = self
            .claim_update(notification_id)
            // A place it held was spent on the failed attempt.
            .update_expression("ADD failures :one REMOVE holder, lease_until, reserved_at_ms")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .attributes()
                .and_then(|a| a.get("failures"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)),
            Err(e) if is_condition_failure(&e) => {
                tracing::warn!(
                    notification_id,
                    message_id,
                    "notification claim vanished before its failure was counted"
                );
                Ok(1)
            }
            Err(e) => Err(super::store_error("UpdateItem", e)),
        }
    }

    async fn defer(
        &self,
        notification_id: &str,
        message_id: &str,
        reserved_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let update = self
            .claim_update(notification_id)
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", AttributeValue::S(message_id.into()));
        let update = match reserved_at {
            Some(at) => update
                .update_expression("SET reserved_at_ms = :reserved_at REMOVE holder, lease_until")
                .expression_attribute_values(":reserved_at", n(at.timestamp_millis())),
            None => update.update_expression("REMOVE holder, lease_until, reserved_at_ms"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            // Someone else holds it now: nothing of ours to put off.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(super::store_error("UpdateItem", e)),
        }
    }
}
