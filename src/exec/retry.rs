//! Delay between attempts: fixed, linear or exponential, capped, with full
//! jitter, lengthened by a server's `Retry-After`.

use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::expr::Expr;
use crate::model::{DelayStrategy, RetrySpec};
use crate::steps::{Attempt, ErrorKind};

/// The delay before the attempt after `failed_attempt` (1-based), before jitter.
pub(crate) fn base_delay(spec: &RetrySpec, failed_attempt: u32) -> Duration {
    let n = failed_attempt.max(1);
    let base = spec.base_delay.as_secs_f64();
    let secs = match spec.strategy {
        DelayStrategy::Fixed => base,
        DelayStrategy::Linear => base * n as f64,
        DelayStrategy::Exponential => base * spec.factor.powi((n - 1).min(1000) as i32),
    };
    let cap = spec.max_delay.map(|d| d.as_secs_f64()).unwrap_or(f64::MAX);
    // Saturate rather than overflow on silly factors.
    let secs = secs.min(cap).min(365.0 * 86400.0);
    Duration::from_secs_f64(if secs.is_finite() { secs.max(0.0) } else { 0.0 })
}

/// The delay to actually wait: with full jitter, uniform in [0, base].
pub(crate) fn delay(spec: &RetrySpec, failed_attempt: u32, rng: &mut fastrand::Rng) -> Duration {
    let d = base_delay(spec, failed_attempt);
    if spec.jitter {
        d.mul_f64(rng.f64())
    } else {
        d
    }
}

/// How long `Retry-After` may make us wait when `max_delay` is not set.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

/// The retry of `http`/`call` steps when neither the step, its workflow's
/// `defaults` nor orchestration.yaml set one.
pub(crate) fn http_default() -> RetrySpec {
    RetrySpec::http_default()
}

/// The computed delay, or longer when the server said `Retry-After`, but
/// never beyond `max_delay` (or [`RETRY_AFTER_CAP`]).
pub(crate) fn with_retry_after(
    spec: &RetrySpec,
    delay: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    match retry_after {
        Some(ra) => ra.max(delay).min(spec.max_delay.unwrap_or(RETRY_AFTER_CAP)),
        None => delay,
    }
}

/// Whether failed attempt number `attempt` (of its route) is tried again.
/// A `retry.condition` decides when set: `condition` evaluates it with
/// `error` (`kind`, `exit_code`, `status`, `message`, `attempt`). Without
/// one, HTTP failures go by their class (connect errors, timeouts, 408, 429,
/// 5xx) and other failures are retried unless the definition is wrong.
pub(crate) fn should_retry(
    spec: &RetrySpec,
    a: &Attempt,
    attempt: u32,
    condition: impl FnOnce(&Expr, &Json) -> bool,
) -> bool {
    let Some(cond) = &spec.condition else {
        return match a.error_kind() {
            Some(ErrorKind::Connect | ErrorKind::HttpStatus | ErrorKind::Redirect) => a.retryable,
            Some(k) => k != ErrorKind::Expression,
            None => false,
        };
    };
    let error = json!({
        "kind": a.error_kind().map(ErrorKind::as_str),
        "exit_code": a.exit_code,
        "status": a.http_status,
        "message": a.message(),
        "attempt": attempt,
    });
    condition(cond, &error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(strategy: DelayStrategy) -> RetrySpec {
        RetrySpec {
            max_attempts: 5,
            strategy,
            base_delay: Duration::from_millis(200),
            max_delay: Some(Duration::from_secs(1)),
            factor: 2.0,
            jitter: false,
            condition: None,
        }
    }

    #[test]
    fn strategies() {
        let ms = |s: &RetrySpec, n| base_delay(s, n).as_millis();
        let f = spec(DelayStrategy::Fixed);
        assert_eq!((ms(&f, 1), ms(&f, 3)), (200, 200));
        let l = spec(DelayStrategy::Linear);
        assert_eq!((ms(&l, 1), ms(&l, 2), ms(&l, 3)), (200, 400, 600));
        let e = spec(DelayStrategy::Exponential);
        assert_eq!((ms(&e, 1), ms(&e, 2), ms(&e, 3)), (200, 400, 800));
        // Capped by max_delay.
        assert_eq!(ms(&e, 4), 1000);
        assert_eq!(ms(&e, 60), 1000);
    }

    #[test]
    fn huge_factor_saturates() {
        let mut s = spec(DelayStrategy::Exponential);
        s.max_delay = None;
        s.factor = 1e300;
        assert!(base_delay(&s, 50) <= Duration::from_secs(365 * 86400));
    }

    #[test]
    fn full_jitter_stays_in_bounds() {
        let mut s = spec(DelayStrategy::Exponential);
        s.jitter = true;
        let mut rng = fastrand::Rng::with_seed(7);
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..2000 {
            let d = delay(&s, 3, &mut rng);
            assert!(d <= Duration::from_millis(800));
            seen_low |= d < Duration::from_millis(200);
            seen_high |= d > Duration::from_millis(600);
        }
        // Full jitter covers the whole range, not just a band around the base.
        assert!(seen_low && seen_high);
    }

    #[test]
    fn retry_after_lengthens_up_to_max_delay() {
        let s = spec(DelayStrategy::Fixed);
        let ms = Duration::from_millis;
        // Longer than the computed delay: waited, up to max_delay (1 s).
        assert_eq!(with_retry_after(&s, ms(200), Some(ms(700))), ms(700));
        assert_eq!(with_retry_after(&s, ms(200), Some(ms(5000))), ms(1000));
        // Shorter: the computed delay stands.
        assert_eq!(with_retry_after(&s, ms(200), Some(ms(50))), ms(200));
        assert_eq!(with_retry_after(&s, ms(200), None), ms(200));
        // Without max_delay the cap is 30 s.
        let mut open = s.clone();
        open.max_delay = None;
        let hour = Duration::from_secs(3600);
        assert_eq!(
            with_retry_after(&open, ms(200), Some(hour)),
            RETRY_AFTER_CAP
        );
    }

    #[test]
    fn without_a_condition_http_failures_go_by_their_class() {
        let s = RetrySpec::default();
        let again = |kind, retryable| {
            let a = Attempt {
                retryable,
                ..Attempt::failed(kind, "x")
            };
            should_retry(&s, &a, 1, |_, _| unreachable!("no condition"))
        };
        assert!(again(ErrorKind::HttpStatus, true));
        assert!(!again(ErrorKind::HttpStatus, false));
        assert!(again(ErrorKind::Connect, true));
        assert!(!again(ErrorKind::Connect, false));
        // A redirect loop answers the same the next time.
        assert!(!again(ErrorKind::Redirect, false));
        // Other failures are retried unless the definition is wrong.
        assert!(again(ErrorKind::Exit, false));
        assert!(again(ErrorKind::Timeout, false));
        assert!(!again(ErrorKind::Expression, true));
        assert!(!should_retry(&s, &Attempt::ok(), 1, |_, _| true));
    }
}
