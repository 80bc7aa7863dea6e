//! Amazon's usage plans (`rate` requests per second, bursts of `burst`) as a schedule: the
//! generic cell rate algorithm, which is a token bucket kept as one instant. `tat`, the
//! theoretical arrival time, is when the next request would be on time were every request so
//! far spread at exactly the plan's rate. A request may go at `now` if `tat` is no more than
//! `burst - 1` intervals ahead of `now`; it moves `tat` on by one interval. One number per
//! seller × operation, moved forward by an atomic add while busy, so every Lambda instance can
//! share it with a single conditional write (see `aws::DynamoRateBudget`).
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

    /// The plan as the suite spends it: one request short of Amazon's burst. Requests granted
    /// in order can reach Amazon slightly out of order (concurrent connections); the request
    /// held back absorbs that, so Amazon's own bucket never runs dry before ours.
    pub fn with_headroom(self) -> Self {
        Self {
            burst: self.burst.saturating_sub(1).max(1),
            ..self
        }
    }

    /// Time between two requests at the plan's rate.
    pub fn interval(&self) -> Duration {
        seconds(1.0 / self.rate_per_second.max(f64::MIN_POSITIVE))
    }

    /// How far ahead of now `tat` may be for a request to go now: the burst.
    pub fn tolerance(&self) -> Duration {
        self.interval() * (self.burst.max(1) as i32 - 1)
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

/// The outcome of asking the schedule for one request now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Take {
    /// Go ahead; store this `tat`.
    Granted(DateTime<Utc>),
    /// Not before this long from now.
    Wait(Duration),
}

/// The outcome of reserving a request's place in the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reserve {
    /// Go now; store this `tat`.
    Granted(DateTime<Utc>),
    /// The request's place is `at`; store this `tat` (the place is promised) and come back
    /// then, taking nothing more.
    Reserved {
        tat: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The next free place (`at`) is beyond the horizon: nothing was promised.
    TooFar { at: DateTime<Utc> },
}

/// A stored `tat` that is in the past (or absent) is now: an idle plan is a full burst.
fn current(tat: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    tat.map_or(now, |t| t.max(now))
}

/// When a request asking at `now` may go.
pub fn place(tat: Option<DateTime<Utc>>, plan: UsagePlan, now: DateTime<Utc>) -> DateTime<Utc> {
    (current(tat, now) - plan.tolerance()).max(now)
}

/// One request now, or how long until it may go.
pub fn take(tat: Option<DateTime<Utc>>, plan: UsagePlan, now: DateTime<Utc>) -> Take {
    let at = place(tat, plan, now);
    if at > now {
        Take::Wait(at - now)
    } else {
        Take::Granted(current(tat, now) + plan.interval())
    }
}

/// Promise one request the earliest free place, behind every place promised before: a queue
/// of waiting work is served at exactly the plan's rate, each piece at its own moment.
pub fn reserve(
    tat: Option<DateTime<Utc>>,
    plan: UsagePlan,
    now: DateTime<Utc>,
    horizon: Duration,
) -> Reserve {
    let at = place(tat, plan, now);
    let next = current(tat, now) + plan.interval();
    if at <= now {
        Reserve::Granted(next)
    } else if at - now > horizon {
        Reserve::TooFar { at }
    } else {
        Reserve::Reserved { tat: next, at }
    }
}

/// `tat` kept at `old` interval, carried over to `new`: the requests it is ahead of `now` by
/// stay ahead by as many requests (a changed rate changes what they cost, not how many).
pub fn rescale(
    tat: Option<DateTime<Utc>>,
    old: Duration,
    new: Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let t = tat?;
    if t <= now {
        return Some(t);
    }
    let ahead = (t - now).num_microseconds().unwrap_or(i64::MAX) as f64
        / old.num_microseconds().unwrap_or(1).max(1) as f64;
    Some(now + seconds(ahead * new.num_microseconds().unwrap_or(0) as f64 / 1e6))
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

    /// Take until told to wait; the count and the wait.
    fn drain(
        tat: &mut Option<DateTime<Utc>>,
        plan: UsagePlan,
        now: DateTime<Utc>,
    ) -> (u32, Duration) {
        let mut n = 0;
        loop {
            match take(*tat, plan, now) {
                Take::Granted(next) => {
                    *tat = Some(next);
                    n += 1;
                }
                Take::Wait(w) => return (n, w),
            }
        }
    }

    #[test]
    fn an_idle_plan_grants_its_burst_then_says_how_long_to_wait() {
        let plan = UsagePlan::new(0.5, 30);
        let mut tat = None;
        assert_eq!(drain(&mut tat, plan, t0()), (30, Duration::seconds(2)));
        assert_eq!(drain(&mut tat, plan, t0() + Duration::seconds(2)).0, 1);
        assert_eq!(drain(&mut tat, plan, t0() + Duration::seconds(12)).0, 5);
    }

    #[test]
    fn search_orders_allows_one_request_about_every_three_minutes() {
        let plan = UsagePlan::new(0.0056, 20);
        let mut tat = None;
        let (n, wait) = drain(&mut tat, plan, t0());
        assert_eq!(n, 20);
        assert_eq!(wait.num_seconds(), 178);
    }

    #[test]
    fn idle_time_refills_at_most_the_burst_and_a_clock_going_back_refills_nothing() {
        let plan = UsagePlan::new(0.5, 30);
        let mut tat = None;
        drain(&mut tat, plan, t0());
        assert_eq!(drain(&mut tat, plan, t0() + Duration::hours(5)).0, 30);
        let mut tat = None;
        drain(&mut tat, plan, t0());
        assert_eq!(drain(&mut tat, plan, t0() - Duration::hours(1)).0, 0);
    }

    #[test]
    fn a_reported_rate_replaces_the_default_but_not_the_burst() {
        let plan = UsagePlan::new(0.5, 30).with_reported_rate(2.0);
        assert_eq!((plan.rate_per_second, plan.burst), (2.0, 30));
        assert_eq!(
            UsagePlan::new(0.5, 30)
                .with_reported_rate(f64::NAN)
                .rate_per_second,
            0.5
        );
    }

    #[test]
    fn a_new_rate_keeps_the_requests_ahead_and_changes_what_they_cost() {
        let slow = UsagePlan::new(0.5, 30);
        let fast = slow.with_reported_rate(2.0);
        let mut tat = None;
        drain(&mut tat, slow, t0());
        let mut tat = rescale(tat, slow.interval(), fast.interval(), t0());
        // 30 requests ahead at 0.5 s each: after 10 s, 20 more at 2/s.
        assert_eq!(drain(&mut tat, fast, t0() + Duration::seconds(10)).0, 20);
    }

    #[test]
    fn headroom_keeps_one_request_of_the_burst_back() {
        assert_eq!(UsagePlan::new(0.5, 30).with_headroom().burst, 29);
        assert_eq!(UsagePlan::new(0.5, 1).with_headroom().burst, 1);
        assert_eq!(UsagePlan::new(0.5, 30).with_headroom().rate_per_second, 0.5);
    }

    #[test]
    fn reservations_queue_up_at_the_plans_rate_and_later_takers_wait_behind_them() {
        let plan = UsagePlan::new(0.5, 2);
        let horizon = Duration::minutes(1);
        let mut tat = None;
        let mut places = Vec::new();
        for _ in 0..5 {
            match reserve(tat, plan, t0(), horizon) {
                Reserve::Granted(next) => {
                    tat = Some(next);
                    places.push(t0());
                }
                Reserve::Reserved { tat: next, at } => {
                    tat = Some(next);
                    places.push(at);
                }
                Reserve::TooFar { .. } => panic!("within the horizon"),
            }
        }
        let secs: Vec<i64> = places.iter().map(|s| (*s - t0()).num_seconds()).collect();
        assert_eq!(secs, [0, 0, 2, 4, 6], "burst now, then one every 2 s");
        // A plain take now waits behind the three promised places.
        assert_eq!(take(tat, plan, t0()), Take::Wait(Duration::seconds(8)));
        // Nothing is promised beyond the horizon.
        assert!(matches!(
            reserve(tat, plan, t0(), Duration::seconds(5)),
            Reserve::TooFar { .. }
        ));
    }
}
