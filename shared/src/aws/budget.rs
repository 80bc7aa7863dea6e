//! The shared rate budget in the control table: `pk = rate#<seller>`, `sk = <operation>`,
//! holding the schedule of `rate::plan`: `tat_us` (the theoretical arrival time, µs since the
//! epoch), `interval_us` (the interval it is kept in) and `reported_rate` (Amazon's
//! `x-amzn-RateLimit-Limit`, once seen).
//!
//! While a seller is busy (`tat` ahead of now), a request is one `UpdateItem` adding one
//! interval, conditional on `tat` being within the burst (for a reservation: within the burst
//! and the horizon) and on the interval being the one the caller counts in. Concurrent Lambdas
//! queue on the item; nobody reads first. An idle schedule restarts at now with another
//! conditional write. Only when neither condition holds does the caller read the item: to
//! learn a rate Amazon reported, or how far ahead the schedule is.

use super::{StoreError, is_condition_failure, read_item};
use crate::kernel::Clock;
use crate::kernel::SellerId;
use crate::rate::UsagePlan;
use crate::rate::plan::{place, rescale};
use crate::rate::{RateBudget, Reservation};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Attempts before a request reports a short wait instead.
const MAX_RACES: usize = 8;
/// An idle schedule is a full burst long before this; a missing one is idle.
const IDLE_EXPIRY: Duration = Duration::days(2);

pub struct DynamoRateBudget {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    /// What this process last learned per schedule, to pick the likely write first.
    known: Mutex<HashMap<String, Known>>,
    /// One request in flight per schedule in this process: the requests of one Lambda queue
    /// here instead of failing each other's conditions. Other processes still meet at the item.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Known {
    reported_rate: Option<f64>,
    /// The schedule's `tat` as last written here: ahead of now means busy.
    tat: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Record {
    tat_us: Option<i64>,
    interval_us: Option<i64>,
    reported_rate: Option<f64>,
}

/// Where a request landed in the schedule.
enum Placed {
    /// Written: the request's place follows from the `tat` before it (`None`: idle).
    At {
        before: Option<DateTime<Utc>>,
        plan: UsagePlan,
    },
    /// The schedule is further ahead than allowed; nothing written.
    Beyond { tat: DateTime<Utc>, plan: UsagePlan },
    /// Lost every race; nothing written.
    Contended,
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn micros(d: Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

impl DynamoRateBudget {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            known: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn pk(seller: &SellerId) -> String {
        format!("rate#{seller}")
    }

    fn update(
        &self,
        seller: &SellerId,
        operation: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::pk(seller)))
            .key("sk", AttributeValue::S(operation.to_owned()))
    }

    async fn read(&self, seller: &SellerId, operation: &str) -> Result<Option<Record>, StoreError> {
        read_item(
            &self.client,
            &self.table,
            [("pk", Self::pk(seller)), ("sk", operation.to_owned())],
            || format!("rate schedule {operation} of seller {seller}"),
        )
        .await
    }

    fn known(&self, key: &str) -> Known {
        self.known
            .lock()
            .map(|m| m.get(key).copied().unwrap_or_default())
            .unwrap_or_default()
    }

    fn learn(&self, key: &str, f: impl FnOnce(&mut Known)) {
        if let Ok(mut m) = self.known.lock() {
            f(m.entry(key.to_owned()).or_default());
        }
    }

    /// Add `count` requests to the schedule if the last lands no more than `allowance` ahead
    /// of now (one write for all of them).
    async fn schedule(
        &self,
        seller: &SellerId,
        operation: &'static str,
        default: UsagePlan,
        count: u32,
        allowance: impl Fn(UsagePlan) -> Duration,
    ) -> Result<Placed, StoreError> {
        let count = count.max(1);
        // The first request's allowance, so that the last still lands within it.
        let allowance = |plan: UsagePlan| {
            (allowance(plan) - plan.interval() * (count as i32 - 1)).max(Duration::zero())
        };
        let key = format!("{}/{operation}", Self::pk(seller));
        let turn = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let _turn = turn.lock().await;
        for _ in 0..MAX_RACES {
            let now = self.clock.now();
            let known = self.known(&key);
            let plan = known
                .reported_rate
                .map_or(default, |r| default.with_reported_rate(r));
            let interval = micros(plan.interval());
            let step = interval.saturating_mul(i64::from(count));
            let limit = us(now + allowance(plan));
            let expires = (now + IDLE_EXPIRY).timestamp();
            let same_interval = "(attribute_not_exists(interval_us) OR interval_us = :iv)";
            let busy = || {
                self.update(seller, operation)
                    .update_expression(
                        "SET tat_us = tat_us + :step, interval_us = :iv, expires_at = :exp",
                    )
                    .condition_expression(format!(
                        "tat_us >= :now AND tat_us <= :limit AND {same_interval}"
                    ))
                    .expression_attribute_values(":iv", n(interval))
                    .expression_attribute_values(":step", n(step))
                    .expression_attribute_values(":now", n(us(now)))
                    .expression_attribute_values(":limit", n(limit))
                    .expression_attribute_values(":exp", n(expires))
                    .return_values(ReturnValue::UpdatedNew)
                    .send()
            };
            let idle = || {
                self.update(seller, operation)
                    .update_expression("SET tat_us = :next, interval_us = :iv, expires_at = :exp")
                    .condition_expression(format!(
                        "(attribute_not_exists(tat_us) OR tat_us < :now) AND {same_interval}"
                    ))
                    .expression_attribute_values(":next", n(us(now) + step))
                    .expression_attribute_values(":iv", n(interval))
                    .expression_attribute_values(":now", n(us(now)))
                    .expression_attribute_values(":exp", n(expires))
                    .send()
            };
            // The write that is likely to hold first; the other one second.
            let busy_now = known.tat.is_some_and(|t| t >= now);
            for busy_first in [busy_now, !busy_now] {
                if busy_first {
                    match busy().await {
                        Ok(out) => {
                            let tat = out
                                .attributes()
                                .and_then(|a| a.get("tat_us"))
                                .and_then(|v| v.as_n().ok())
                                .and_then(|v| v.parse::<i64>().ok())
                                .and_then(DateTime::from_timestamp_micros);
                            self.learn(&key, |k| k.tat = tat);
                            return Ok(Placed::At {
                                before: tat.map(|t| t - Duration::microseconds(step)),
                                plan,
                            });
                        }
                        Err(e) if is_condition_failure(&e) => {}
                        Err(e) => return Err(super::store_error("UpdateItem", e)),
                    }
                } else {
                    match idle().await {
                        Ok(_) => {
                            self.learn(&key, |k| k.tat = Some(now + Duration::microseconds(step)));
                            return Ok(Placed::At { before: None, plan });
                        }
                        Err(e) if is_condition_failure(&e) => {}
                        Err(e) => return Err(super::store_error("UpdateItem", e)),
                    }
                }
            }
            // Neither held: the schedule is too far ahead, or counts in another interval (a
            // rate Amazon reported), or another writer moved it between the two. Look.
            let Some(record) = self.read(seller, operation).await? else {
                continue;
            };
            let tat = record.tat_us.and_then(DateTime::from_timestamp_micros);
            self.learn(&key, |k| {
                k.reported_rate = record.reported_rate;
                k.tat = tat;
            });
            let plan = record
                .reported_rate
                .map_or(default, |r| default.with_reported_rate(r));
            if let Some(tat) = tat
                && record
                    .interval_us
                    .is_none_or(|iv| iv == micros(plan.interval()))
                && us(tat) > us(self.clock.now() + allowance(plan))
            {
                return Ok(Placed::Beyond { tat, plan });
            }
        }
        Ok(Placed::Contended)
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
        Ok(
            match self
                .schedule(seller, operation, plan, 1, |p| p.tolerance())
                .await?
            {
                Placed::At { .. } => None,
                Placed::Beyond { tat, plan } => {
                    let now = self.clock.now();
                    Some(self.clock.real(place(Some(tat), plan, now) - now))
                }
                Placed::Contended => Some(self.clock.real(Duration::milliseconds(100))),
            },
        )
    }

    async fn reserve(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
        horizon: Duration,
    ) -> Result<Reservation, StoreError> {
        let mut places = self
            .reserve_many(seller, operation, plan, horizon, 1)
            .await?;
        Ok(places.pop().unwrap_or(Reservation::Full {
            at: self.clock.now(),
            wait: std::time::Duration::ZERO,
        }))
    }

    async fn reserve_many(
        &self,
        seller: &SellerId,
        operation: &'static str,
        plan: UsagePlan,
        horizon: Duration,
        count: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let n = u32::try_from(count).unwrap_or(u32::MAX);
        let placed = self
            .schedule(seller, operation, plan, n, |p| p.tolerance() + horizon)
            .await?;
        let now = self.clock.now();
        Ok(match placed {
            // The k-th request of the batch finds the schedule k intervals on from `before`
            // (idle: from now).
            Placed::At { before, plan } => (0..n)
                .map(|k| {
                    let tat = match (before, k) {
                        (None, 0) => None,
                        (b, k) => Some(b.unwrap_or(now) + plan.interval() * k as i32),
                    };
                    let at = place(tat, plan, now);
                    if at <= now {
                        Reservation::Now
                    } else {
                        Reservation::At {
                            at,
                            wait: self.clock.real(at - now),
                        }
                    }
                })
                .collect(),
            Placed::Beyond { tat, plan } => {
                let at = place(Some(tat), plan, now);
                vec![
                    Reservation::Full {
                        at,
                        wait: self.clock.real(at - now),
                    };
                    count
                ]
            }
            Placed::Contended => vec![
                Reservation::Full {
                    at: now + Duration::milliseconds(100),
                    wait: self.clock.real(Duration::milliseconds(100)),
                };
                count
            ],
        })
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
        let key = format!("{}/{operation}", Self::pk(seller));
        let new_interval = UsagePlan::new(rate_per_second, 1).interval();
        for _ in 0..MAX_RACES {
            let now = self.clock.now();
            let record = self.read(seller, operation).await?;
            let tat = record
                .as_ref()
                .and_then(|r| r.tat_us)
                .and_then(DateTime::from_timestamp_micros);
            let old_interval = record.as_ref().and_then(|r| r.interval_us);
            // The requests already scheduled stay scheduled, at the new rate's spacing.
            let rescaled = match (tat, old_interval) {
                (Some(_), Some(old)) => {
                    rescale(tat, Duration::microseconds(old), new_interval, now)
                }
                _ => tat,
            };
            let update = self
                .update(seller, operation)
                .expression_attribute_values(":r", AttributeValue::N(rate_per_second.to_string()))
                .expression_attribute_values(":iv", n(micros(new_interval)))
                .expression_attribute_values(":exp", n((now + IDLE_EXPIRY).timestamp()));
            let update = match (tat, rescaled) {
                (Some(old), Some(new)) => update
                    .update_expression(
                        "SET reported_rate = :r, interval_us = :iv, tat_us = :new, expires_at = :exp",
                    )
                    .condition_expression("tat_us = :old")
                    .expression_attribute_values(":old", n(us(old)))
                    .expression_attribute_values(":new", n(us(new))),
                _ => update
                    .update_expression(
                        "SET reported_rate = :r, interval_us = :iv, expires_at = :exp",
                    )
                    .condition_expression("attribute_not_exists(tat_us)"),
            };
            match update.send().await {
                Ok(_) => {
                    self.learn(&key, |k| k.reported_rate = Some(rate_per_second));
                    return Ok(());
                }
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(super::store_error("UpdateItem", e)),
            }
        }
        Err(StoreError::Conflict {
            what: format!("rate schedule {operation} of seller {seller} kept moving"),
        })
    }
}
