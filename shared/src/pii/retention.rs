//! The PII retention rule of Amazon's Data Protection Policy: PII is kept no longer than
//! 30 days after delivery. `pii_purge_at = anchor + retention_days`, where the anchor is the
//! delivery, else the latest promised delivery date, else the ship date; canceled orders
//! purge at once.

use chrono::{DateTime, Duration, Utc};

/// Amazon's ceiling. Configuring more is refused at start-up.
pub const MAX_RETENTION_DAYS: u32 = 30;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RetentionError {
    #[error(
        "retention_days = {0} is over the Data Protection Policy's limit of {MAX_RETENTION_DAYS} days after delivery"
    )]
    OverLimit(u32),
    #[error("retention_days must be at least 1")]
    Zero,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            days: MAX_RETENTION_DAYS,
        }
    }
}

/// What the rule needs to know about an order.
#[derive(Debug, Clone, Copy)]
pub struct RetentionFacts {
    pub canceled: bool,
    pub delivered: bool,
    /// When the carrier delivered, where its tracking said so.
    pub delivered_at: Option<DateTime<Utc>>,
    pub latest_delivery: Option<DateTime<Utc>>,
    pub ship_date: Option<DateTime<Utc>>,
    pub last_updated: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl RetentionPolicy {
    pub fn new(days: u32) -> Result<Self, RetentionError> {
        match days {
            0 => Err(RetentionError::Zero),
            d if d > MAX_RETENTION_DAYS => Err(RetentionError::OverLimit(d)),
            d => Ok(Self { days: d }),
        }
    }

    pub fn days(&self) -> u32 {
        self.days
    }

    /// When this order's PII must be gone.
    pub fn purge_at(&self, f: &RetentionFacts) -> DateTime<Utc> {
        if f.canceled {
            return f.now;
        }
        // The last date we know of; recomputed at every update of the order.
        let promised = f.latest_delivery.or(f.ship_date).unwrap_or(f.last_updated);
        let anchor = if f.delivered {
            // Delivery happened by now, at the carrier's time where tracking gave it; never
            // anchored later than that (a late sweep must not stretch the 30 days).
            promised.min(f.delivered_at.unwrap_or(f.now).min(f.now))
        } else {
            promised
        };
        anchor + Duration::days(i64::from(self.days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0).unwrap()
    }

    fn facts() -> RetentionFacts {
        RetentionFacts {
            canceled: false,
            delivered: false,
            delivered_at: None,
            latest_delivery: Some(t(10)),
            ship_date: Some(t(5)),
            last_updated: t(4),
            now: t(6),
        }
    }

    #[test]
    fn refuses_more_than_thirty_days() {
        assert_eq!(RetentionPolicy::new(31), Err(RetentionError::OverLimit(31)));
        assert_eq!(RetentionPolicy::new(0), Err(RetentionError::Zero));
        assert_eq!(RetentionPolicy::new(30).unwrap().days(), 30);
        assert_eq!(RetentionPolicy::default().days(), 30);
    }

    #[test]
    fn anchors_on_promised_delivery_then_ship_date_then_last_update() {
        let p = RetentionPolicy::new(30).unwrap();
        assert_eq!(p.purge_at(&facts()), t(10) + Duration::days(30));
        let no_delivery = RetentionFacts {
            latest_delivery: None,
            ..facts()
        };
        assert_eq!(p.purge_at(&no_delivery), t(5) + Duration::days(30));
        let nothing = RetentionFacts {
            latest_delivery: None,
            ship_date: None,
            ..facts()
        };
        assert_eq!(p.purge_at(&nothing), t(4) + Duration::days(30));
    }

    #[test]
    fn delivered_orders_never_anchor_after_now() {
        let p = RetentionPolicy::new(30).unwrap();
        // Delivered early (before the promised date): the clock starts no later than now.
        let early = RetentionFacts {
            delivered: true,
            now: t(7),
            ..facts()
        };
        assert_eq!(p.purge_at(&early), t(7) + Duration::days(30));
        // Delivered late, seen late: the promised date still bounds it.
        let late = RetentionFacts {
            delivered: true,
            now: t(20),
            ..facts()
        };
        assert_eq!(p.purge_at(&late), t(10) + Duration::days(30));
        // The carrier's delivery time, from tracking, seen days later: its 30 days.
        let tracked = RetentionFacts {
            delivered: true,
            delivered_at: Some(t(6)),
            now: t(9),
            ..facts()
        };
        assert_eq!(p.purge_at(&tracked), t(6) + Duration::days(30));
    }

    #[test]
    fn canceled_orders_purge_at_once() {
        let p = RetentionPolicy::new(30).unwrap();
        let canceled = RetentionFacts {
            canceled: true,
            ..facts()
        };
        assert_eq!(p.purge_at(&canceled), t(6));
    }
}
