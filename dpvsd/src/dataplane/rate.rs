//! A token bucket for what a worker sends off the fast path: frames to the kernel's
//! exception path, ICMP errors. Time is the caller's milliseconds.

/// Up to `rate` events a second, in bursts of up to `burst`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimiter {
    /// Per second.
    rate: u64,
    /// Thousandths of a token (so that rates below 1000 a second refill every millisecond).
    milli_tokens: u64,
    cap: u64,
    last_ms: u64,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32) -> RateLimiter {
        let cap = u64::from(burst.max(1)) * 1000;
        RateLimiter { rate: u64::from(rate), milli_tokens: cap, cap, last_ms: 0 }
    }

    /// Takes one token at `now_ms`; `false` when there is none.
    #[inline]
    pub fn allow(&mut self, now_ms: u64) -> bool {
        if now_ms > self.last_ms {
            // rate tokens a second is rate thousandths of a token a millisecond
            let add = self.rate.saturating_mul(now_ms - self.last_ms);
            self.milli_tokens = self.milli_tokens.saturating_add(add).min(self.cap);
            self.last_ms = now_ms;
        }
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(l: &mut RateLimiter, from_ms: u64, to_ms: u64, per_ms: u32) -> u32 {
        let mut n = 0;
        for t in from_ms..to_ms {
            for _ in 0..per_ms {
                n += u32::from(l.allow(t));
            }
        }
        n
    }

    #[test]
    fn a_flood_gets_the_rate_after_the_burst() {
        let mut l = RateLimiter::new(10_000, 100);
        // 50 frames a millisecond for a second: the burst, then 10 a millisecond
        let n = allowed(&mut l, 1, 1001, 50);
        assert!((10_000..=10_100).contains(&n), "{n}");
    }

    #[test]
    fn slow_rates_refill_too() {
        let mut l = RateLimiter::new(10, 1);
        assert!(l.allow(0));
        assert!(!l.allow(0));
        assert!(!l.allow(99));
        assert!(l.allow(100), "one token per 100 ms");
        // a long quiet fills the bucket only to its burst
        assert!(l.allow(10_000));
        assert!(!l.allow(10_000));
    }
}
