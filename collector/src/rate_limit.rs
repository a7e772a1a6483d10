//! Ingest rate limits: per client IP and per site key (GCRA, `governor`).
//!
//! The IP limit stops one client from flooding; the site-key limit bounds what
//! one tenant's traffic (or a leaked public key) can cost the others. Over a
//! limit the answer is 429 with `Retry-After`, which the recorder honours.
//! Only known site keys get a bucket, so made-up keys cannot grow the table.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Settings;
use crate::error::ApiError;

/// One keyed limit; `None` when switched off (a rate of 0).
struct Limit<K: Hash + Eq + Clone>(Option<DefaultKeyedRateLimiter<K>>);

impl<K: Hash + Eq + Clone> Limit<K> {
    fn new(per_second: u32, burst: u32) -> Self {
        Limit(NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        }))
    }

    fn check(&self, key: &K, scope: &'static str) -> Result<(), ApiError> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests {
                scope,
                // Whole seconds, rounded up: Retry-After has no fractions.
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }

    fn forget_idle(&self) {
        if let Some(l) = &self.0 {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// The bucket of a client address: an IPv4 address itself, an IPv6 address
/// its /64. A host is given a whole /64 and may send from any address in it,
/// so a bucket per IPv6 address would let one client rotate past its limit
/// (and grow the table by one bucket a request).
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        // NAT64 (RFC 6052's well-known prefix): the IPv4 client it carries.
        IpAddr::V6(v6) if u128::from(v6) >> 32 == NAT64_PREFIX => {
            IpAddr::V4((u128::from(v6) as u32).into())
        }
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !0u128 << 64)),
        v4 => v4,
    }
}

/// `64:ff9b::/96`, shifted down past its 32 bits of IPv4 address.
const NAT64_PREFIX: u128 = 0x0064_ff9b_0000_0000_0000_0000;

/// The collector's ingest limits.
pub struct RateLimits {
    ip: Limit<IpAddr>,
    site_key: Limit<String>,
}

impl RateLimits {
    pub fn new(settings: &Settings) -> Self {
        RateLimits {
            ip: Limit::new(
                settings.ingest_per_ip_per_second,
                settings.ingest_per_ip_burst,
            ),
            site_key: Limit::new(
                settings.ingest_per_site_key_per_second,
                settings.ingest_per_site_key_burst,
            ),
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.ip.check(&bucket(ip), "client address")
    }

    /// Call only with a known site key.
    pub fn check_site_key(&self, key: &str) -> Result<(), ApiError> {
        // Allocates only for the lookup key; fine at ingest rates.
        self.site_key.check(&key.to_owned(), "site key")
    }

    /// Drops the state of keys whose buckets are full again, so the table
    /// holds only recently active clients. Called periodically.
    pub fn forget_idle(&self) {
        self.ip.forget_idle();
        self.site_key.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_next_request_is_told_when_to_retry() {
        let limits = RateLimits {
            ip: Limit::new(1, 3),
            site_key: Limit::new(0, 0),
        };
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            limits.check_ip(ip).unwrap();
        }
        match limits.check_ip(ip) {
            Err(ApiError::TooManyRequests {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected 429, got {other:?}"),
        }
        // Another client is not affected; a rate of 0 means no limit.
        limits.check_ip("10.0.0.2".parse().unwrap()).unwrap();
        for _ in 0..1000 {
            limits.check_site_key("pk").unwrap();
        }
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_slash_64() {
        let limits = RateLimits {
            ip: Limit::new(1, 3),
            site_key: Limit::new(0, 0),
        };
        // One host rotating through the addresses of its /64.
        for i in 0..3 {
            limits
                .check_ip(format!("2001:db8:1:2::{i:x}").parse().unwrap())
                .unwrap();
        }
        assert!(limits
            .check_ip("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap())
            .is_err());
        // The next /64 is another client.
        limits.check_ip("2001:db8:1:3::1".parse().unwrap()).unwrap();
        assert_eq!(
            bucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        // IPv4 clients reaching an IPv6-only collector through NAT64 are
        // each their own client, not one /64.
        assert_eq!(
            bucket("64:ff9b::c633:6407".parse().unwrap()),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }
}
