//! The audit table: append-only events without PII. `day = YYYY-MM-DD` (UTC) of the event,
//! `event = <time to the microsecond>#<random id>`, so a day's events sort by time and a
//! write never replaces another.

use super::{StoreError, put_if, query_all};
use crate::kernel::AuditEvent;
use crate::kernel::AuditLog;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Days, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub struct DynamoAuditLog {
    client: Client,
    table: String,
}

#[derive(Serialize, Deserialize)]
struct AuditRecord {
    day: String,
    event: String,
    #[serde(flatten)]
    body: AuditEvent,
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Sort key prefix: fixed width, so that text order is time order.
fn time_key(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl DynamoAuditLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl AuditLog for DynamoAuditLog {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let record = AuditRecord {
            day: day(event.at),
            event: format!("{}#{:016x}", time_key(event.at), rand::random::<u64>()),
            body: event.clone(),
        };
        let what = || format!("audit event {:?}", event.kind);
        // Append-only: an event is never overwritten.
        let condition = "attribute_not_exists(event)";
        if put_if(&self.client, &self.table, &record, condition, None, what).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                what: format!("audit event key {} taken", record.event),
            })
        }
    }

    async fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events = Vec::new();
        let mut date = from.date_naive();
        while date <= to.date_naive() {
            let items: Vec<_> = query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#day = :day AND #event BETWEEN :from AND :to")
                    .expression_attribute_names("#day", "day")
                    .expression_attribute_names("#event", "event")
                    .expression_attribute_values(":day", AttributeValue::S(date.to_string()))
                    .expression_attribute_values(":from", AttributeValue::S(time_key(from)))
                    // Past every id of the last instant; `at < to` is checked below.
                    .expression_attribute_values(
                        ":to",
                        AttributeValue::S(format!("{}~", time_key(to))),
                    ),
            )
            .await?;
            for item in items {
                let r: AuditRecord =
                    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
                        what: format!("audit event of {date}: {e}"),
                    })?;
                if r.body.at >= from && r.body.at < to {
                    events.push(r.body);
                }
            }
            let Some(next) = date.checked_add_days(Days::new(1)) else {
                break;
            };
            date = next;
        }
        Ok(events)
    }
}
