//! Amazon's usage plans as token buckets: `rate` tokens per second refill a bucket of `burst`.
//! Pure arithmetic on stored state, so every Lambda instance can share one bucket per
//! seller × operation through a conditional write (see `ports::RateBudget`).
//!
//! The SP-API simulator keeps Amazon's side of the same rule in its own code on purpose: a
//! shared implementation could not catch a mistake in either.

use chrono::{DateTime, Duration, Utc};

/// Rate and burst of one operation for one selling partner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsagePlan {
    pub rate_per_second: f64,
    pub burst: u32,
}

impl UsagePlan {
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        Self {
            rate_per_second,
            burst,
        }
    }

    /// The plan as the suite spends it: one token short of Amazon's burst. Requests granted
    /// in order can reach Amazon slightly out of order (concurrent connections); the token
    /// held back absorbs that, so Amazon's own bucket never runs dry before ours.
    pub fn with_headroom(self) -> Self {
        Self {
            burst: self.burst.saturating_sub(1).max(1),
            ..self
        }
    }

    /// The plan with the rate Amazon reported (`x-amzn-RateLimit-Limit`). Burst is not
    /// reported, so it stays. A nonsensical rate is ignored.
    pub fn with_reported_rate(self, rate: f64) -> Self {
        if rate.is_finite() && rate > 0.0 {
            Self {
                rate_per_second: rate,
                ..self
            }
        } else {
            self
        }
    }
}

/// A bucket as stored: tokens left at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub at: DateTime<Utc>,
}

/// The outcome of reserving a request's place in a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reserve {
    /// A token is here now; store this bucket and go.
    Granted(Bucket),
    /// The request's token is set aside for `at`; store this bucket (it owes that token) and
    /// come back then, taking nothing more.
    Reserved { bucket: Bucket, at: DateTime<Utc> },
    /// The next free slot (`at`) is beyond the horizon: nothing was set aside.
    TooFar { at: DateTime<Utc> },
}

/// The outcome of asking a bucket for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Take {
    /// Go ahead; store this bucket.
    Granted(Bucket),
    /// No token before this long from now.
    Wait(Duration),
}

impl Bucket {
    /// A bucket nobody has drawn from: full.
    pub fn full(plan: UsagePlan, now: DateTime<Utc>) -> Self {
        Self {
            tokens: f64::from(plan.burst),
            at: now,
        }
    }

    /// The bucket refilled up to `now` (never beyond the burst; a clock that went back refills
    /// nothing).
    pub fn refilled(self, plan: UsagePlan, now: DateTime<Utc>) -> Self {
        let elapsed = (now - self.at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
        if elapsed <= 0.0 {
            return self;
        }
        Self {
            tokens: (self.tokens + elapsed * plan.rate_per_second).min(f64::from(plan.burst)),
            at: now,
        }
    }

    /// Set a token aside for one request at the earliest moment the bucket can give it,
    /// behind every token already set aside: a queue of waiting work is served at exactly the
    /// plan's rate, each piece at its own moment, instead of all asking again and again.
    /// A bucket that owes tokens (negative) makes every later taker wait for them too.
    pub fn reserve(self, plan: UsagePlan, now: DateTime<Utc>, horizon: Duration) -> Reserve {
        let b = self.refilled(plan, now);
        if b.tokens >= 1.0 {
            return Reserve::Granted(Bucket {
                tokens: b.tokens - 1.0,
                ..b
            });
        }
        let at = now + seconds((1.0 - b.tokens) / plan.rate_per_second.max(f64::MIN_POSITIVE));
        if at - now > horizon {
            return Reserve::TooFar { at };
        }
        Reserve::Reserved {
            bucket: Bucket {
                tokens: b.tokens - 1.0,
                ..b
            },
            at,
        }
    }

    pub fn take(self, plan: UsagePlan, now: DateTime<Utc>) -> Take {
        let b = self.refilled(plan, now);
        if b.tokens >= 1.0 {
            return Take::Granted(Bucket {
                tokens: b.tokens - 1.0,
                ..b
            });
        }
        let missing = 1.0 - b.tokens;
        Take::Wait(seconds(
            missing / plan.rate_per_second.max(f64::MIN_POSITIVE),
        ))
    }
}

fn seconds(secs: f64) -> Duration {
    Duration::microseconds((secs * 1e6).ceil().min(i64::MAX as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_full_bucket_grants_its_burst_then_says_how_long_to_wait() {
        let plan = UsagePlan::new(0.5, 30);
        let mut b = Bucket::full(plan, t0());
        for _ in 0..30 {
            match b.take(plan, t0()) {
                Take::Granted(next) => b = next,
                Take::Wait(_) => panic!("burst not granted"),
            }
        }
        assert_eq!(b.take(plan, t0()), Take::Wait(Duration::seconds(2)));
        assert!(matches!(
            b.take(plan, t0() + Duration::seconds(2)),
            Take::Granted(_)
        ));
    }

    #[test]
    fn search_orders_refills_one_token_in_about_three_minutes() {
        let plan = UsagePlan::new(0.0056, 20);
        let empty = Bucket {
            tokens: 0.0,
            at: t0(),
        };
        let Take::Wait(wait) = empty.take(plan, t0()) else {
            panic!("granted from an empty bucket")
        };
        assert_eq!(wait.num_seconds(), 178);
        assert!(matches!(empty.take(plan, t0() + wait), Take::Granted(_)));
    }

    #[test]
    fn refill_stops_at_the_burst_and_ignores_a_clock_going_back() {
        let plan = UsagePlan::new(0.5, 30);
        let b = Bucket {
            tokens: 3.0,
            at: t0(),
        };
        assert_eq!(b.refilled(plan, t0() + Duration::hours(5)).tokens, 30.0);
        assert_eq!(b.refilled(plan, t0() - Duration::hours(1)), b);
    }

    #[test]
    fn a_reported_rate_replaces_the_default_but_not_the_burst() {
        let plan = UsagePlan::new(0.0056, 20);
        assert_eq!(plan.with_reported_rate(0.0167), UsagePlan::new(0.0167, 20));
        assert_eq!(plan.with_reported_rate(f64::NAN), plan);
        assert_eq!(plan.with_reported_rate(0.0), plan);
    }

    #[test]
    fn headroom_keeps_one_token_of_the_burst_back() {
        assert_eq!(UsagePlan::new(0.5, 30).with_headroom().burst, 29);
        assert_eq!(UsagePlan::new(0.5, 1).with_headroom().burst, 1);
        assert_eq!(UsagePlan::new(0.5, 30).with_headroom().rate_per_second, 0.5);
    }

    #[test]
    fn reservations_queue_up_at_the_plans_rate_and_later_takers_wait_behind_them() {
        let plan = UsagePlan::new(0.5, 2);
        let horizon = Duration::minutes(1);
        let mut b = Bucket::full(plan, t0());
        let mut slots = Vec::new();
        for _ in 0..5 {
            match b.reserve(plan, t0(), horizon) {
                Reserve::Granted(next) => {
                    b = next;
                    slots.push(t0());
                }
                Reserve::Reserved { bucket, at } => {
                    b = bucket;
                    slots.push(at);
                }
                Reserve::TooFar { .. } => panic!("within the horizon"),
            }
        }
        let secs: Vec<i64> = slots.iter().map(|s| (*s - t0()).num_seconds()).collect();
        assert_eq!(secs, [0, 0, 2, 4, 6], "burst now, then one every 2 s");
        // A plain take now waits behind the three reserved tokens.
        assert_eq!(b.take(plan, t0()), Take::Wait(Duration::seconds(8)));
        // Nothing is set aside beyond the horizon.
        assert!(matches!(
            b.reserve(plan, t0(), Duration::seconds(5)),
            Reserve::TooFar { .. }
        ));
    }
}
