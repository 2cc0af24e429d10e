//! When to retry a request and how long to wait first; the waiting itself is behind [`Sleeper`]
//! so tests check the policy without sleeping.
//!
//! Retried: 429 (rate limited), 5xx, and requests that could not connect or were cut before any
//! text arrived — up to `max_retries` times, waiting `base`, `2·base`, `4·base`… capped at `max`,
//! or the server's `Retry-After` when it says (also capped). Other 4xx are the caller's mistake
//! and fail at once. A stream cut after text arrived is a different fault, retried once by the
//! caller (see `stream.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Exponential backoff with a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub max_retries: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first), or `None` when retries are spent.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry == 0 || retry > self.max_retries {
            return None;
        }
        let doubled = self
            .base
            .saturating_mul(1u32.checked_shl(retry - 1).unwrap_or(u32::MAX));
        Some(retry_after.unwrap_or(doubled).min(self.max))
    }
}

/// True for the HTTP statuses worth retrying.
pub fn retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// A `Retry-After` header given in seconds (the HTTP-date form is ignored).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Waits between retries.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Really waits (on the engine's runtime).
#[derive(Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(wait))
    }
}

/// Records the waits asked for and returns at once (for tests).
#[derive(Debug, Default, Clone)]
pub struct RecordingSleeper {
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    /// The waits asked for so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.waits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(wait);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn doubles_caps_and_gives_up() {
        let backoff = Backoff {
            max_retries: 4,
            base: MS(500),
            max: MS(3000),
        };
        let waits: Vec<_> = (1..=5).map(|r| backoff.delay(r, None)).collect();
        assert_eq!(
            waits,
            vec![
                Some(MS(500)),
                Some(MS(1000)),
                Some(MS(2000)),
                Some(MS(3000)),
                None
            ]
        );
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let backoff = Backoff {
            max_retries: 2,
            base: MS(100),
            max: MS(5000),
        };
        assert_eq!(backoff.delay(1, Some(MS(2000))), Some(MS(2000)));
        assert_eq!(backoff.delay(1, Some(MS(60_000))), Some(MS(5000)));
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }

    #[test]
    fn huge_retry_counts_do_not_overflow() {
        let backoff = Backoff {
            max_retries: u32::MAX,
            base: MS(1),
            max: MS(10),
        };
        assert_eq!(backoff.delay(40, None), Some(MS(10)));
    }

    #[test]
    fn only_rate_limits_and_server_errors_are_retried() {
        assert!(retryable(429) && retryable(500) && retryable(503));
        assert!(!retryable(400) && !retryable(401) && !retryable(404));
    }
}
