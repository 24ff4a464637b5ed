//! The token bucket behind every leaky bucket, with the exact arithmetic of Go's `x/time/rate`.
//!
//! Upstream wraps `rate.Limiter`: `burst = capacity`, one token refilled per `leakspeed`, and the
//! bucket starts full. Reproducing its float64 maths (including the truncation of the wait duration
//! to whole nanoseconds) keeps overflow decisions identical on boundary cases such as events exactly
//! one leak apart.

/// Nanoseconds in one second, as Go's `time.Second`.
const SECOND: i64 = 1_000_000_000;

/// Go's `Duration.Seconds()`: whole seconds plus the fractional part, computed separately so that
/// large durations keep their nanosecond precision exactly as Go does.
pub(crate) fn go_seconds(d: i64) -> f64 {
    let sec = d / SECOND;
    let nsec = d % SECOND;
    sec as f64 + nsec as f64 / 1e9
}

/// Decides whether a pour fits in the bucket.
#[derive(Debug, Clone)]
pub(crate) enum Limiter {
    /// Capacity −1 (counter, conditional, bayesian) or a zero leak speed: every pour fits.
    Unlimited,
    /// A classic token bucket.
    Tokens(TokenBucket),
}

impl Limiter {
    /// Builds the limiter upstream builds for `capacity` and `leakspeed` (nanoseconds).
    pub(crate) fn new(capacity: i64, leakspeed: i64) -> Self {
        // Go's `rate.Every(0)` is an infinite rate, which allows everything regardless of burst.
        if capacity == -1 || leakspeed <= 0 {
            return Self::Unlimited;
        }
        Self::Tokens(TokenBucket {
            limit: 1.0 / go_seconds(leakspeed),
            burst: capacity,
            tokens: 0.0,
            last: None,
        })
    }

    /// Takes one token at instant `t` (nanoseconds since the epoch) if one is available.
    pub(crate) fn allow_at(&mut self, t: i64) -> bool {
        match self {
            Self::Unlimited => true,
            Self::Tokens(bucket) => bucket.allow_at(t),
        }
    }
}

/// Token bucket state: `tokens` as of instant `last`.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    /// Tokens per second.
    limit: f64,
    burst: i64,
    tokens: f64,
    /// `None` until the first successful take: Go's zero `last` makes the elapsed time so large that
    /// the bucket is full, which is what "starts full" means.
    last: Option<i64>,
}

impl TokenBucket {
    /// Tokens available at `t`, without changing the state.
    fn advance(&self, t: i64) -> f64 {
        let Some(last) = self.last else {
            return self.burst as f64;
        };
        // An instant earlier than `last` counts as no elapsed time, never as a negative refill.
        let elapsed = t.saturating_sub(last.min(t));
        let tokens = self.tokens + go_seconds(elapsed) * self.limit;
        tokens.min(self.burst as f64)
    }

    fn allow_at(&mut self, t: i64) -> bool {
        let tokens = self.advance(t) - 1.0;
        // Go computes how long the caller would have to wait and accepts only a zero wait; the wait
        // is truncated to whole nanoseconds, so a deficit smaller than a nanosecond's worth of
        // tokens still passes.
        let wait = if tokens < 0.0 {
            (SECOND as f64 * (-tokens / self.limit)) as i64
        } else {
            0
        };
        let ok = self.burst >= 1 && wait <= 0;
        if ok {
            self.last = Some(t);
            self.tokens = tokens;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const S: i64 = SECOND;

    /// Pours one event at each instant (in seconds) and returns which ones fit.
    fn check(capacity: i64, leakspeed: i64, at: &[f64], expected: &[bool]) {
        let mut limiter = Limiter::new(capacity, leakspeed);
        let got: Vec<bool> = at
            .iter()
            .map(|s| limiter.allow_at((s * 1e9) as i64))
            .collect();
        assert_eq!(
            got, expected,
            "capacity {capacity}, leakspeed {leakspeed}ns, pours at {at:?}"
        );
    }

    #[test]
    fn ssh_bf_overflows_on_the_sixth_event() {
        // The worked example of the spec: capacity 5, leakspeed 10s, pours at 21,21,22,22,23,24 s.
        check(
            5,
            10 * S,
            &[21.0, 21.0, 22.0, 22.0, 23.0, 24.0],
            &[true, true, true, true, true, false],
        );
    }

    #[test]
    fn capacity_plus_one_at_the_same_instant_overflows() {
        check(1, 10 * S, &[0.0, 4.0], &[true, false]);
        check(2, S / 2, &[0.0, 0.0, 0.0], &[true, true, false]);
    }

    #[test]
    fn one_event_per_leak_never_overflows() {
        let at: Vec<f64> = (0..20).map(|i| f64::from(i) * 10.0).collect();
        check(5, 10 * S, &at, &[true; 20]);
    }

    #[test]
    fn refused_pour_does_not_consume() {
        // The refused pour at 5s must not move `last`; at 10s one token is back.
        check(1, 10 * S, &[0.0, 5.0, 10.0], &[true, false, true]);
    }

    #[test]
    fn earlier_instant_counts_as_no_elapsed_time() {
        check(2, 10 * S, &[100.0, 50.0, 50.0], &[true, true, false]);
    }

    #[test]
    fn unlimited_limiters_allow_everything() {
        check(-1, 10 * S, &[0.0, 0.0, 0.0], &[true, true, true]);
        check(3, 0, &[0.0, 0.0, 0.0, 0.0, 0.0], &[true; 5]);
    }

    #[test]
    fn zero_capacity_with_a_leak_never_allows() {
        check(0, S, &[0.0, 10.0], &[false, false]);
    }

    #[test]
    fn go_seconds_matches_go() {
        assert_eq!(go_seconds(1_500_000_000), 1.5);
        assert_eq!(go_seconds(-2_250_000_000), -2.25);
    }

    proptest! {
        /// At one instant a fresh bucket accepts exactly `capacity` pours.
        #[test]
        fn burst_equals_capacity(capacity in 1i64..50, leak_ms in 1i64..100_000, t in 0i64..1_000_000_000_000) {
            let mut limiter = Limiter::new(capacity, leak_ms * 1_000_000);
            let accepted = (0..capacity + 5).filter(|_| limiter.allow_at(t)).count() as i64;
            prop_assert_eq!(accepted, capacity);
        }

        /// Waiting `k` leak periods after draining gives back `min(k, capacity)` tokens.
        #[test]
        fn refill_is_one_token_per_leak(capacity in 1i64..20, leak_s in 1i64..600, k in 0i64..40) {
            let leak = leak_s * S;
            let mut limiter = Limiter::new(capacity, leak);
            for _ in 0..capacity {
                prop_assert!(limiter.allow_at(0));
            }
            let later = k * leak;
            let accepted = (0..capacity + 5).filter(|_| limiter.allow_at(later)).count() as i64;
            prop_assert_eq!(accepted, k.min(capacity));
        }
    }
}
