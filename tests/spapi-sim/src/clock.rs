//! The simulator's clock: real time, optionally sped up, plus jumps that tests ask for.
//! Token buckets and token lifetimes run on it, so a test can watch an hour of quota in seconds.

use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct SimClock {
    started_real: Instant,
    started_sim: DateTime<Utc>,
    speed: f64,
    jumped: Mutex<Duration>,
}

impl SimClock {
    pub fn new(start: DateTime<Utc>, speed: f64) -> Self {
        Self {
            started_real: Instant::now(),
            started_sim: start,
            speed: speed.max(0.0),
            jumped: Mutex::new(Duration::zero()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started_real.elapsed().as_secs_f64() * self.speed;
        let jumped = *self.jumped.lock().expect("clock lock");
        self.started_sim + Duration::microseconds((elapsed * 1e6) as i64) + jumped
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn advance(&self, by: Duration) {
        *self.jumped.lock().expect("clock lock") += by;
    }
}

/// Amazon's usage plan for one operation: `rate` requests per second refilled into a bucket of
/// `burst`. One bucket per selling partner and operation, as Amazon keeps them.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: DateTime<Utc>,
}

impl TokenBucket {
    pub fn full(rate: f64, burst: u32, now: DateTime<Utc>) -> Self {
        Self {
            rate,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            at: now,
        }
    }

    pub fn try_take(&mut self, now: DateTime<Utc>) -> bool {
        let dt = (now - self.at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
        if dt > 0.0 {
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
            self.at = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Utc::now();
        let mut b = TokenBucket::full(0.5, 3, t0);
        assert!((0..3).all(|_| b.try_take(t0)));
        assert!(!b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::milliseconds(1900)));
        assert!(b.try_take(t0 + Duration::milliseconds(2000)));
        // A long pause refills to the burst, never beyond.
        let later = t0 + Duration::hours(1);
        assert!((0..3).all(|_| b.try_take(later)));
        assert!(!b.try_take(later));
    }

    #[test]
    fn the_clock_jumps_when_told() {
        let c = SimClock::new(Utc::now(), 1.0);
        let before = c.now();
        c.advance(Duration::days(31));
        assert!(c.now() - before >= Duration::days(31));
    }
}
