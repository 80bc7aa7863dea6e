//! The time a Lambda invocation has left.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Lambda deadline (ms since the epoch) as an `Instant`. cargo-lambda's Runtime API
/// emulator sends the time left instead (e.g. `600000`); a value that cannot be a date this
/// century is read that way rather than as a deadline long past.
pub fn deadline_instant(deadline_ms: u64) -> Option<Instant> {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    if deadline_ms == 0 {
        return None;
    }
    if deadline_ms < YEAR_2001_MS {
        return Some(Instant::now() + Duration::from_millis(deadline_ms));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_epoch_deadlines_and_the_emulators_time_left() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = |d: Option<Instant>| d.unwrap().saturating_duration_since(Instant::now());
        let epoch = left(deadline_instant(now_ms + 60_000));
        assert!(epoch > Duration::from_secs(55) && epoch <= Duration::from_secs(60));
        let relative = left(deadline_instant(600_000));
        assert!(relative > Duration::from_secs(595));
        assert_eq!(left(deadline_instant(now_ms - 1_000)), Duration::ZERO);
        assert!(deadline_instant(0).is_none());
    }
}
