//! Retry policy: full-jitter exponential backoff, `Retry-After`, and which calls may be retried.
//!
//! Written here rather than taken from a crate: the `backoff` crate is unmaintained
//! (RUSTSEC-2025-0012) and `reqwest-retry` ignores `Retry-After`; keeping the types ours also
//! keeps third-party types out of the public API.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::error::TransportKind;

/// How failed calls are retried.
///
/// On by default: up to 4 attempts, full-jitter exponential backoff starting at 200 ms and capped
/// at 20 s, and a server's `Retry-After` (seconds or HTTP-date) honoured up to 60 s — a longer
/// `Retry-After` is not waited out; the 429 is returned with [`Error::retry_after`](crate::Error::retry_after) set.
///
/// What is retried: `429`, `500`, `502`, `503`, `504`, connect failures, timeouts and broken
/// connections. Listing and reading conversations, downloading audio and upserting a note are
/// idempotent and retried on all of these (a recording whose body breaks part-way is fetched
/// again by [`AudioRequest::save_to`](crate::audio::AudioRequest::save_to)). Adding annotations and
/// debug-chat calls are retried only on a connect failure (the request surely never reached the
/// server) or a `429`, unless [`retry_non_idempotent`](Self::retry_non_idempotent) is set.
///
/// # Retry budget
///
/// Retries also draw on one budget per [`Client`](crate::Client), so a server that fails most
/// requests is not hit with several times the load: the budget holds
/// [`retry_budget`](Self::retry_budget) retries (100 by default), each retry takes one, and
/// every two successful calls put one back. While it is empty, failures are returned at once
/// (still with their status and correlation id); successes refill it. The client's policy
/// sizes the budget; the budget setting of a per-call policy is ignored.
///
/// ```
/// use std::time::Duration;
/// use polyai_data::retry::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(6)
///     .base_delay(Duration::from_millis(100))
///     .max_delay(Duration::from_secs(5));
/// assert_eq!(policy.get_max_attempts(), 6);
/// assert_eq!(RetryPolicy::disabled().get_max_attempts(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    retry_non_idempotent: bool,
    retry_budget: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            retry_non_idempotent: false,
            retry_budget: Some(DEFAULT_RETRY_BUDGET),
        }
    }
}

/// Retries a client's budget holds by default.
const DEFAULT_RETRY_BUDGET: u32 = 100;

impl RetryPolicy {
    /// A policy that never retries (one attempt).
    pub fn disabled() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Total attempts including the first (minimum 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Backoff base: attempt `n` waits a random time in `[0, min(max_delay, base × 2ⁿ⁻¹))`.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Upper bound of the backoff delay.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Longest `Retry-After` that is waited out; a longer one ends the retries.
    pub fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// Also retry non-idempotent calls (annotations, debug chat) on 500/502/503/504, timeouts
    /// and broken connections, accepting that the server may then process them twice.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// Size of the client's [retry budget](Self#retry-budget), in retries; `None` removes the
    /// budget (every call retries up to its attempts whatever the others do).
    ///
    /// ```
    /// use polyai_data::retry::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::default().get_retry_budget(), Some(100));
    /// let unlimited = RetryPolicy::default().retry_budget(None);
    /// assert_eq!(unlimited.get_retry_budget(), None);
    /// ```
    pub fn retry_budget(mut self, retries: Option<u32>) -> Self {
        self.retry_budget = retries;
        self
    }

    /// Total attempts including the first.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Backoff base.
    pub fn get_base_delay(&self) -> Duration {
        self.base_delay
    }

    /// Backoff cap.
    pub fn get_max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Longest honoured `Retry-After`.
    pub fn get_max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Whether non-idempotent calls are retried after they may have reached the server.
    pub fn get_retry_non_idempotent(&self) -> bool {
        self.retry_non_idempotent
    }

    /// Size of the retry budget in retries (`None`: no budget).
    pub fn get_retry_budget(&self) -> Option<u32> {
        self.retry_budget
    }

    /// Whether a failed attempt may be retried under this policy (ignoring attempts left).
    pub(crate) fn may_retry(&self, idempotency: Idempotency, failure: Failure) -> bool {
        let repeatable = idempotency == Idempotency::Idempotent || self.retry_non_idempotent;
        match failure {
            Failure::Status(429) => true,
            Failure::Status(status) => is_retryable_status(status) && repeatable,
            Failure::Transport(TransportKind::Connect) => true,
            Failure::Transport(TransportKind::Timeout | TransportKind::Connection) => repeatable,
            Failure::Transport(_) => false,
        }
    }

    /// Delay before the attempt after `failed_attempt` (1-based), or `None` when the server's
    /// `Retry-After` exceeds [`max_retry_after`](Self::max_retry_after).
    pub(crate) fn delay(
        &self,
        failed_attempt: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if let Some(after) = retry_after {
            return (after <= self.max_retry_after).then_some(after);
        }
        let exp = failed_attempt.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        Some(ceiling.mul_f64(jitter_unit()))
    }
}

/// Whether a call may safely be repeated after it reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    Idempotent,
    NonIdempotent,
}

impl Idempotency {
    /// The operations that may be repeated: reads, the audio download, and the note upsert
    /// (it replaces the note). Anything else (adding annotations, debug chat) is not.
    pub(crate) fn of(operation: &str) -> Idempotency {
        match operation {
            "list_conversations"
            | "get_conversation"
            | "get_conversation_audio"
            | "upsert_note" => Idempotency::Idempotent,
            _ => Idempotency::NonIdempotent,
        }
    }
}

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Status(u16),
    Transport(TransportKind),
}

/// Statuses worth retrying: 429, 500, 502, 503, 504.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// What a retry takes from a [`RetryBudget`], in units.
const RETRY_COST: u64 = 2;
/// What a successful call puts back, in units.
const SUCCESS_REFUND: u64 = 1;

/// The retries left to one client: a token bucket that retries drain and successes refill.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    /// Units left; `u64::MAX` when there is no budget.
    units: AtomicU64,
    capacity: u64,
}

impl RetryBudget {
    /// A full budget of `retries` retries, or none at all.
    pub(crate) fn new(retries: Option<u32>) -> Self {
        let capacity = retries.map_or(u64::MAX, |r| u64::from(r) * RETRY_COST);
        RetryBudget {
            units: AtomicU64::new(capacity),
            capacity,
        }
    }

    /// Takes one retry; `false` when the budget is empty.
    pub(crate) fn try_spend(&self) -> bool {
        if self.capacity == u64::MAX {
            return true;
        }
        self.units
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |units| {
                units.checked_sub(RETRY_COST)
            })
            .is_ok()
    }

    /// Puts back what one successful call earns.
    pub(crate) fn refund(&self) {
        if self.capacity == u64::MAX {
            return;
        }
        let _ = self
            .units
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |units| {
                (units < self.capacity).then(|| (units + SUCCESS_REFUND).min(self.capacity))
            });
    }
}

/// Parses `Retry-After` as delay-seconds or an HTTP-date (relative to `now`).
///
/// Never panics on what a server sends: a number too large for a [`Duration`] saturates to
/// [`Duration::MAX`] (longer than any [`RetryPolicy::max_retry_after`], so it ends the
/// retries); negative, non-finite and unparsable values are ignored (`None`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    if let Ok(secs) = value.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A uniform number in `[0, 1)`: SplitMix64 over a per-process random seed.
fn jitter_unit() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut z = seed.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A future returned by a [`Sleeper`].
///
/// ```
/// let instant: polyai_data::retry::SleepFuture = Box::pin(async {});
/// # drop(instant);
/// ```
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The function that waits between retries. The default is `tokio::time::sleep`; tests can
/// install one that returns at once and records the delays (see
/// [`ClientBuilder::sleeper`](crate::ClientBuilder::sleeper)).
///
/// ```
/// use std::sync::Arc;
/// let log_only: polyai_data::retry::Sleeper = Arc::new(|delay| {
///     eprintln!("would wait {delay:?}");
///     Box::pin(async {})
/// });
/// # drop(log_only);
/// ```
pub type Sleeper = Arc<dyn Fn(Duration) -> SleepFuture + Send + Sync>;

pub(crate) fn tokio_sleeper() -> Sleeper {
    Arc::new(|delay| Box::pin(tokio::time::sleep(delay)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let policy = RetryPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(1));
        for attempt in 1..=10u32 {
            let ceiling =
                Duration::from_millis(100 * (1u64 << (attempt - 1))).min(Duration::from_secs(1));
            for _ in 0..50 {
                let d = policy.delay(attempt, None).unwrap_or(Duration::MAX);
                assert!(d < ceiling, "attempt {attempt}: {d:?} >= {ceiling:?}");
            }
        }
        // The jitter actually varies.
        let samples: std::collections::HashSet<_> =
            (0..20).filter_map(|_| policy.delay(5, None)).collect();
        assert!(samples.len() > 10);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default().max_retry_after(Duration::from_secs(10));
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(policy.delay(1, Some(Duration::from_secs(11))), None);
    }

    #[test]
    fn parses_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn hostile_retry_after_values_never_panic() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for huge in [
            "99999999999999999999",
            "1e308",
            "18446744073709551616",
            "1e20",
        ] {
            assert_eq!(parse_retry_after(huge, now), Some(Duration::MAX), "{huge}");
        }
        for ignored in ["-1", "-0.5", "NaN", "inf", "-inf", "", "1e", "\u{0}", "+-1"] {
            assert_eq!(parse_retry_after(ignored, now), None, "{ignored:?}");
        }
        assert_eq!(parse_retry_after("-0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).map(|d| d > Duration::ZERO),
            Some(true)
        );
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Whatever a server sends, parsing and the delay built from it return normally.
        #[test]
        fn any_retry_after_is_parsed_without_panic(
            value in proptest::prop_oneof![
                proptest::arbitrary::any::<String>(),
                "[0-9]{0,40}",
                "[-+]?[0-9]{0,20}[.]?[0-9]{0,5}([eE][-+]?[0-9]{1,4})?",
                "(Mon|Fri), [0-9]{1,2} (Jan|Dec) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
            ],
            now_secs in 0u64..=253_402_300_799,
        ) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now_secs);
            let parsed = parse_retry_after(&value, now);
            let _ = RetryPolicy::default().delay(1, parsed);
        }

        #[test]
        fn whole_seconds_are_exact(secs: u64) {
            proptest::prop_assert_eq!(
                parse_retry_after(&secs.to_string(), SystemTime::UNIX_EPOCH),
                Some(Duration::from_secs(secs))
            );
        }
    }

    #[test]
    fn non_idempotent_calls_only_retry_when_safe() {
        use Failure::*;
        use Idempotency::*;
        let p = RetryPolicy::default();
        for f in [
            Status(429),
            Status(500),
            Status(502),
            Status(503),
            Status(504),
            Transport(TransportKind::Connect),
            Transport(TransportKind::Timeout),
            Transport(TransportKind::Connection),
        ] {
            assert!(p.may_retry(Idempotent, f), "{f:?}");
        }
        assert!(!p.may_retry(Idempotent, Status(404)));
        assert!(!p.may_retry(Idempotent, Status(501)));
        assert!(!p.may_retry(NonIdempotent, Status(500)));
        assert!(p.may_retry(NonIdempotent, Status(429)));
        assert!(p.may_retry(NonIdempotent, Transport(TransportKind::Connect)));
        assert!(!p.may_retry(NonIdempotent, Status(503)));
        assert!(!p.may_retry(NonIdempotent, Transport(TransportKind::Timeout)));
        let opt_in = p.retry_non_idempotent(true);
        assert!(opt_in.may_retry(NonIdempotent, Status(503)));
        assert!(opt_in.may_retry(NonIdempotent, Transport(TransportKind::Timeout)));
    }

    #[test]
    fn budget_drains_on_retries_and_refills_on_successes() {
        let budget = RetryBudget::new(Some(3));
        assert!(budget.try_spend() && budget.try_spend() && budget.try_spend());
        assert!(!budget.try_spend(), "three retries, then none");
        budget.refund();
        assert!(!budget.try_spend(), "one success earns half a retry");
        budget.refund();
        assert!(budget.try_spend(), "two successes earn one");
        for _ in 0..100 {
            budget.refund();
        }
        let spent = (0..10).take_while(|_| budget.try_spend()).count();
        assert_eq!(spent, 3, "refills stop at the capacity");
        let unlimited = RetryBudget::new(None);
        assert!((0..10_000).all(|_| unlimited.try_spend()));
    }
}
