//! When to send a batch again: response classification and the backoff schedule.
//!
//! Pure: the caller passes the status, the `Retry-After` header and a random
//! number, so the schedule is tested natively.

#[allow(unused_imports)]
use crate::prelude::*;

/// First retry delay. A collector restart or a flaky network usually heals within
/// a second or two.
pub const BASE_DELAY_MS: u32 = 1_000;

/// Longest wait between two attempts: a page left open through a collector outage
/// still delivers within a minute of the collector coming back.
pub const MAX_DELAY_MS: u32 = 60_000;

/// Longest `Retry-After` honoured. A misconfigured proxy asking for a day would
/// otherwise park the tab's trail until the page closes.
pub const MAX_RETRY_AFTER_MS: u32 = 5 * 60_000;
// Whole seconds, as `parse_retry_after` caps the seconds, not the milliseconds.
const _: () = assert!(MAX_RETRY_AFTER_MS.is_multiple_of(1000));

/// What to do with a batch after the collector (or the network) answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored (2xx): forget the batch.
    Ack,
    /// Try again later; the collector may have said when (milliseconds).
    Retry { after_ms: Option<u32> },
    /// The collector will never accept this batch (4xx other than 408/429):
    /// report it and drop it rather than loop.
    Reject,
}

/// Classifies an HTTP status (`None`: the request failed at the network level).
pub fn classify(status: Option<u16>, retry_after: Option<&str>) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Ack,
        Some(408) | Some(429) => Outcome::Retry {
            after_ms: retry_after.and_then(parse_retry_after),
        },
        Some(400..=499) => Outcome::Reject,
        Some(503) => Outcome::Retry {
            after_ms: retry_after.and_then(parse_retry_after),
        },
        // 5xx, odd statuses and network errors are all transient from here.
        _ => Outcome::Retry { after_ms: None },
    }
}

/// Parses a `Retry-After` given in seconds (the HTTP-date form is rare for
/// 429/503 and is treated as absent), capped at [`MAX_RETRY_AFTER_MS`].
pub fn parse_retry_after(value: &str) -> Option<u32> {
    let secs = crate::num::parse_u64(value.trim_ascii())?;
    // Capped before multiplying (the cap is whole seconds): a saturating
    // `u64` multiply links a 128-bit multiplication routine.
    Some(secs.min(u64::from(MAX_RETRY_AFTER_MS / 1000)) as u32 * 1000)
}

/// Exponential backoff with jitter, one per transport.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// Delay before the next attempt. `random` is in `[0, 1)`: half the window is
    /// fixed and half random ("equal jitter"), so tabs that failed together do not
    /// retry together, and no retry comes sooner than half the schedule.
    pub fn next_delay(&mut self, retry_after_ms: Option<u32>, random: f64) -> u32 {
        let exp = BASE_DELAY_MS
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(MAX_DELAY_MS);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = (f64::from(exp) / 2.0 * random.clamp(0.0, 1.0)) as u32;
        let backoff = exp / 2 + jitter;
        match retry_after_ms {
            // The server said when, which is the soonest; the schedule still
            // backs off beyond it, or every tab of a site over its rate limit
            // (`Retry-After: 1`) would retry each second and keep it over.
            Some(after) => after.saturating_add(jitter.min(1_000)).max(backoff),
            None => backoff,
        }
    }

    /// Back to the first delay after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_ack_and_client_errors_are_rejected() {
        assert_eq!(classify(Some(200), None), Outcome::Ack);
        assert_eq!(classify(Some(400), None), Outcome::Reject);
        assert_eq!(classify(Some(413), None), Outcome::Reject);
        assert_eq!(classify(Some(401), None), Outcome::Reject);
    }

    #[test]
    fn timeouts_throttling_server_and_network_errors_are_retried() {
        for s in [Some(408), Some(500), Some(502), Some(504), None] {
            assert_eq!(
                classify(s, None),
                Outcome::Retry { after_ms: None },
                "{s:?}"
            );
        }
        assert_eq!(
            classify(Some(429), Some("3")),
            Outcome::Retry {
                after_ms: Some(3000)
            }
        );
        assert_eq!(
            classify(Some(503), Some(" 7 ")),
            Outcome::Retry {
                after_ms: Some(7000)
            }
        );
    }

    #[test]
    fn retry_after_is_capped_and_dates_are_ignored() {
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stays_within_the_jitter_window() {
        let mut b = Backoff::default();
        let lows: Vec<u32> = (0..10).map(|_| b.next_delay(None, 0.0)).collect();
        assert_eq!(&lows[..4], &[500, 1000, 2000, 4000]);
        assert_eq!(*lows.last().unwrap(), MAX_DELAY_MS / 2);
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(None, 0.999_999), 999);
        for _ in 0..40 {
            assert!(b.next_delay(None, 0.999_999) <= MAX_DELAY_MS);
        }
        b.reset();
        assert_eq!(b.next_delay(None, 0.0), 500);
    }

    #[test]
    fn backoff_honours_retry_after() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(Some(5_000), 0.0), 5_000);
        assert!(b.next_delay(Some(5_000), 0.99) <= 6_000);
    }

    #[test]
    fn a_short_retry_after_still_backs_off_when_it_repeats() {
        let mut b = Backoff::default();
        let delays: Vec<u32> = (0..8).map(|_| b.next_delay(Some(1_000), 0.0)).collect();
        assert_eq!(&delays[..4], &[1_000, 1_000, 2_000, 4_000]);
        assert_eq!(delays[7], MAX_DELAY_MS / 2);
    }
}
