//! When and how long to wait before sending a request again, as ARM defines transient
//! faults: 429 with the wait it asks for (`Retry-After` in seconds or as an HTTP date,
//! `retry-after-ms`, `x-ms-retry-after-ms`), 408 and 5xx answers and failed connections
//! with exponential backoff and jitter; always bounded in attempts and in wait.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// How many times and how long to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries, since a
    /// throttled subscription is better reported than waited on for hours.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop: the failure is not transient, the attempts are used up, or the server asks
    /// for a longer wait than the policy allows.
    GiveUp,
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 for the first retry): `base * 2^retry`,
    /// capped at `max_delay`, with "equal jitter" (between half and all of it) so that
    /// many clients throttled together do not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_delay);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// What to do after attempt number `retry` (0-based) answered `status` with
    /// `headers`, `now` being the time of the answer.
    pub fn after_status(
        &self,
        retry: u32,
        status: StatusCode,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Verdict {
        if !is_transient(status) || retry >= self.max_retries {
            return Verdict::GiveUp;
        }
        match retry_after(headers, now) {
            Some(wait) if wait > self.max_retry_after => Verdict::GiveUp,
            // The server knows best; a little jitter still spreads a fleet's clients.
            Some(wait) => Verdict::RetryAfter(wait + Duration::from_millis(fastrand::u64(0..100))),
            None => Verdict::RetryAfter(self.backoff(retry)),
        }
    }

    /// What to do after attempt number `retry` failed to get any answer (refused, reset,
    /// timed out).
    pub fn after_connection_failure(&self, retry: u32) -> Verdict {
        if retry >= self.max_retries {
            Verdict::GiveUp
        } else {
            Verdict::RetryAfter(self.backoff(retry))
        }
    }
}

/// True for the answers ARM documents as worth retrying.
pub fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The wait a response asks for: `retry-after-ms` or `x-ms-retry-after-ms` (milliseconds),
/// else `Retry-After` (delta seconds, or an HTTP date relative to `now`).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = header(headers, name).and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = header(headers, "retry-after")?;
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_in_every_form_arm_uses() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                &headers(&[("x-ms-retry-after-ms", "250"), ("retry-after", "7")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
    }

    #[test]
    fn throttling_waits_as_asked_and_everything_is_bounded() {
        let policy = RetryPolicy::default();
        let now = SystemTime::now();
        let asked = headers(&[("retry-after", "3")]);
        match policy.after_status(0, StatusCode::TOO_MANY_REQUESTS, &asked, now) {
            Verdict::RetryAfter(d) => {
                assert!(
                    d >= Duration::from_secs(3) && d < Duration::from_millis(3100),
                    "{d:?}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            policy.after_status(
                policy.max_retries,
                StatusCode::TOO_MANY_REQUESTS,
                &asked,
                now
            ),
            Verdict::GiveUp
        );
        let hours = headers(&[("retry-after", "7200")]);
        assert_eq!(
            policy.after_status(0, StatusCode::TOO_MANY_REQUESTS, &hours, now),
            Verdict::GiveUp
        );
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::NOT_FOUND,
            StatusCode::CONFLICT,
        ] {
            assert_eq!(
                policy.after_status(0, status, &HeaderMap::new(), now),
                Verdict::GiveUp,
                "{status}"
            );
        }
        assert!(matches!(
            policy.after_status(0, StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), now),
            Verdict::RetryAfter(_)
        ));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = policy.backoff(0);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let third = policy.backoff(2);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            let late = policy.backoff(12);
            assert!(late >= Duration::from_secs(5) && late <= Duration::from_secs(10));
        }
    }
}
