//! Per-tenant rate limits: token buckets so one tenant's flood of webhooks or API calls cannot
//! starve another. A request over the limit gets 429 with `Retry-After` and changes nothing
//! (providers retry webhooks; nothing is stored).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Sustained rate and burst for one kind of traffic.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by tenant.
pub struct TenantLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Rate {
    pub fn validate(&self, what: &str) -> Result<(), String> {
        if self.per_second < 0.0 || self.burst < 0.0 {
            return Err(format!("{what}: per_second and burst must not be negative"));
        }
        if self.per_second > 0.0 && self.burst < 1.0 {
            return Err(format!(
                "{what}: a burst below 1 would refuse every request"
            ));
        }
        Ok(())
    }
}

impl TenantLimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one token for `tenant`; `Err(seconds)` says when to retry.
    pub fn check(&self, tenant: &str) -> Result<(), u64> {
        if self.rate.per_second <= 0.0 {
            return Ok(()); // unlimited
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(tenant.to_string()).or_insert(Bucket {
            tokens: self.rate.burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.rate.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_tenant_is_limited_and_others_are_not() {
        let limiter = TenantLimiter::new(Rate {
            per_second: 10.0,
            burst: 5.0,
        });
        let granted = (0..20).filter(|_| limiter.check("flood").is_ok()).count();
        assert_eq!(granted, 5, "burst only");
        assert!(limiter.check("flood").is_err());
        assert!(limiter.check("quiet").is_ok(), "buckets are per tenant");
        let unlimited = TenantLimiter::new(Rate {
            per_second: 0.0,
            burst: 0.0,
        });
        assert!((0..1000).all(|_| unlimited.check("x").is_ok()));
    }
}
