//! The shared rate budget in the control table: `pk = rate#<seller>`, `sk = <operation>`.
//! A take is a consistent read and a write conditional on the version read, so two takers
//! can never spend the same token; the loser re-reads and tries again.

use super::{StoreError, put_if_version, read_item};
use crate::domain::{Bucket, Reserve, SellerId, Take, UsagePlan};
use crate::ports::{Clock, RateBudget, Slot};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// How often a take re-reads after losing a race before it reports a short wait instead.
const MAX_RACES: usize = 8;
/// An idle bucket refills to full long before this; a missing bucket reads as full.
const IDLE_EXPIRY: Duration = Duration::days(2);

pub struct DynamoRateBudget {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    /// One spend in flight per bucket in this process: concurrent requests of one Lambda
    /// queue here instead of racing each other's conditional writes (a lost race costs a
    /// read and a write). Other processes still race, and the condition still decides.
    in_flight: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BucketRecord {
    pk: String,
    sk: String,
    /// Absent until the first take (a reported rate can arrive first).
    tokens: Option<f64>,
    at_ms: Option<i64>,
    reported_rate: Option<f64>,
    version: u64,
    expires_at: i64,
}

impl DynamoRateBudget {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            in_flight: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn pk(seller: &SellerId) -> String {
        format!("rate#{seller}")
    }
}

fn bucket_of(r: &BucketRecord, plan: UsagePlan, now: DateTime<Utc>) -> Bucket {
    match (r.tokens, r.at_ms.and_then(DateTime::from_timestamp_millis)) {
        (Some(tokens), Some(at)) => Bucket { tokens, at },
        _ => Bucket::full(plan, now),
    }
}

/// What a read bucket decided.
enum Decision<T> {
    /// Store the bucket (if the version still holds) and answer `T`.
    Write(Bucket, T),
    /// Answer at once; nothing changes.
    Answer(T),
}

impl DynamoRateBudget {
    /// Read the bucket, let `decide` spend from it, write it back conditional on the version
    /// read; on a lost race read again. After `MAX_RACES` lost races: `contended`.
    async fn spend<T>(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
        decide: impl Fn(Bucket, UsagePlan, DateTime<Utc>) -> Decision<T>,
        contended: T,
    ) -> Result<T, StoreError> {
        let pk = Self::pk(seller);
        let turn = {
            let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(format!("{pk}/{operation}")).or_default().clone()
        };
        let _turn = turn.lock().await;
        for _ in 0..MAX_RACES {
            let now = self.clock.now();
            let stored: Option<BucketRecord> = read_item(
                &self.client,
                &self.table,
                [("pk", pk.clone()), ("sk", operation.to_owned())],
                || format!("rate bucket {operation} of seller {seller}"),
            )
            .await?;
            let reported_rate = stored.as_ref().and_then(|r| r.reported_rate);
            let plan = reported_rate.map_or(plan, |r| plan.with_reported_rate(r));
            let bucket = stored
                .as_ref()
                .map_or_else(|| Bucket::full(plan, now), |r| bucket_of(r, plan, now));
            let (next, answer) = match decide(bucket, plan, now) {
                Decision::Answer(a) => return Ok(a),
                Decision::Write(next, a) => (next, a),
            };
            let record = BucketRecord {
                pk: pk.clone(),
                sk: operation.to_owned(),
                tokens: Some(next.tokens),
                at_ms: Some(next.at.timestamp_millis()),
                reported_rate,
                version: stored.as_ref().map_or(1, |r| r.version + 1),
                expires_at: (now + IDLE_EXPIRY).timestamp(),
            };
            let won = put_if_version(
                &self.client,
                &self.table,
                &record,
                stored.as_ref().map(|r| r.version),
                || format!("rate bucket {operation} of seller {seller}"),
            )
            .await?;
            // Lost: another worker spent between our read and write; read again.
            if won {
                return Ok(answer);
            }
        }
        Ok(contended)
    }
}

#[async_trait]
impl RateBudget for DynamoRateBudget {
    async fn take(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
    ) -> Result<Option<std::time::Duration>, StoreError> {
        let clock = self.clock.clone();
        self.spend(
            seller,
            operation,
            plan,
            |bucket, plan, now| match bucket.take(plan, now) {
                Take::Granted(next) => Decision::Write(next, None),
                Take::Wait(wait) => Decision::Answer(Some(clock.real(wait))),
            },
            Some(std::time::Duration::from_millis(100)),
        )
        .await
    }

    async fn reserve(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
        horizon: Duration,
    ) -> Result<Slot, StoreError> {
        let clock = self.clock.clone();
        let now = clock.now();
        self.spend(
            seller,
            operation,
            plan,
            |bucket, plan, now| match bucket.reserve(plan, now, horizon) {
                Reserve::Granted(next) => Decision::Write(next, Slot::Now),
                Reserve::Reserved { bucket, at } => Decision::Write(
                    bucket,
                    Slot::At {
                        at,
                        wait: clock.real(at - now),
                    },
                ),
                Reserve::TooFar { at } => Decision::Answer(Slot::Full {
                    at,
                    wait: clock.real(at - now),
                }),
            },
            // Lost every race: try again in a moment.
            Slot::Full {
                at: now + Duration::milliseconds(100),
                wait: self.clock.real(Duration::milliseconds(100)),
            },
        )
        .await
    }

    async fn record_reported_rate(
        &self,
        seller: &SellerId,
        operation: &'static str,
        rate_per_second: f64,
    ) -> Result<(), StoreError> {
        if !(rate_per_second.is_finite() && rate_per_second > 0.0) {
            return Ok(());
        }
        // Bumping the version makes a take that read the old rate lose its race and re-read.
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::pk(seller)))
            .key("sk", AttributeValue::S(operation.to_owned()))
            .update_expression("SET reported_rate = :r, expires_at = :e ADD version :one")
            .expression_attribute_values(":r", AttributeValue::N(rate_per_second.to_string()))
            .expression_attribute_values(
                ":e",
                AttributeValue::N((self.clock.now() + IDLE_EXPIRY).timestamp().to_string()),
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        Ok(())
    }
}
