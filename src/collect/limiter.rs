//! A token bucket: at most `rate` requests per second on average, bursts up to `burst`. LookupEvents allows 2
//! requests per second per account and region; a run talks to one account and region, so it holds one bucket.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// How long to wait before the next request may go, taking its token (zero when one is available now).
    pub fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Waits for a token.
    pub async fn acquire(&mut self) {
        let wait = self.take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_per_second_after_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 2.0);
        b.last = t0;
        assert_eq!(b.take(t0), Duration::ZERO);
        assert_eq!(b.take(t0), Duration::ZERO);
        // Third request at the same instant waits half a second, the fourth a whole second.
        assert_eq!(b.take(t0), Duration::from_millis(500));
        assert_eq!(b.take(t0), Duration::from_millis(1000));
        // After 10 s idle the bucket is full again (capped at the burst).
        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.take(later), Duration::ZERO);
        assert_eq!(b.take(later), Duration::ZERO);
        assert_eq!(b.take(later), Duration::from_millis(500));
    }
}
