//! Token bucket per service (`rate_limit: { requests, per }`), shared by
//! every step of a run: a full bucket allows a burst of `requests`, then
//! tokens come back at `requests / per`.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::model::RateLimit;

pub(crate) struct TokenBucket {
    capacity: f64,
    /// Tokens per second.
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub(crate) fn new(limit: &RateLimit) -> TokenBucket {
        let capacity = f64::from(limit.requests.max(1));
        let per = limit.per.as_secs_f64().max(1e-6);
        TokenBucket {
            capacity,
            rate: capacity / per,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Wait for a token. Waiters queue on the mutex, so they are served in
    /// order and none starves.
    pub(crate) async fn acquire(&self) {
        let mut st = self.state.lock().await;
        loop {
            let now = Instant::now();
            let (tokens, last) = *st;
            let tokens =
                (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.capacity);
            if tokens >= 1.0 {
                *st = (tokens - 1.0, now);
                return;
            }
            *st = (tokens, now);
            let wait = Duration::from_secs_f64((1.0 - tokens) / self.rate);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_steady_rate() {
        let b = TokenBucket::new(&RateLimit {
            requests: 5,
            per: Duration::from_secs(1),
        });
        let t0 = tokio::time::Instant::now();
        for _ in 0..5 {
            b.acquire().await;
        }
        assert!(t0.elapsed() < Duration::from_millis(1));
        for _ in 0..5 {
            b.acquire().await;
        }
        // Five more tokens take one second to come back.
        let e = t0.elapsed();
        assert!(
            e >= Duration::from_millis(990) && e <= Duration::from_millis(1100),
            "{e:?}"
        );
    }
}
