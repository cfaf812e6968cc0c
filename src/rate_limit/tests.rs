//! The rate limits' unit tests, on governor's fake clock.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use governor::clock::FakeRelativeClock;

use super::*;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fn limiter<K: Hash + Eq + Clone>(per_minute: u32) -> (RateLimiter<K, FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    (RateLimiter::with_clock(per_minute, clock.clone()), clock)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_client_gets_its_burst_then_waits() {
    let (limiter, clock) = limiter(3);
    for _ in 0..3 {
        assert_eq!(limiter.check(A), Ok(()));
    }
    assert_eq!(limiter.check(A), Err(20), "one request per 20 s at 3/min");
    assert_eq!(limiter.check(B), Ok(()), "other clients are not affected");
    clock.advance(secs(20));
    assert_eq!(limiter.check(A), Ok(()));
    clock.advance(secs(1));
    assert_eq!(limiter.check(A), Err(19), "Retry-After counts down");
}

#[test]
fn a_limited_client_stays_limited_through_housekeeping() {
    // 2 a minute: one request back every 30 s.
    let (limiter, clock) = limiter(2);
    assert!(limiter.check(A).is_ok() && limiter.check(A).is_ok());
    clock.advance(secs(10));
    assert!(limiter.check(A).is_err());
    clock.advance(secs(40));
    assert!(limiter.check(A).is_ok(), "1.67 requests' worth at 50 s, one spent");
    clock.advance(secs(10));
    assert_eq!(limiter.housekeeping(), 1, "still in use: kept");
    // At 61 s 1.03 requests' worth: one passes and the next does not. A forgotten client would
    // start full and pass both.
    clock.advance(secs(1));
    assert!(limiter.check(A).is_ok());
    assert!(limiter.check(A).is_err());
}

#[test]
fn clients_whose_budget_has_refilled_are_forgotten() {
    let (limiter, clock) = limiter(60);
    for i in 0..1000u32 {
        assert!(limiter.check(IpAddr::V4(Ipv4Addr::from(i))).is_ok());
    }
    assert_eq!(limiter.housekeeping(), 1000, "all spent one second's worth just now");
    clock.advance(secs(2));
    assert_eq!(limiter.housekeeping(), 0, "full again after a second (at 60/min): forgotten");
}

#[test]
fn a_crowd_of_clients_keeps_memory_bounded() {
    // A million addresses in ten seconds, housekeeping once a second as the server's thread does.
    let (limiter, clock) = limiter(60);
    for second in 0..10u32 {
        for i in 0..100_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(second * 100_000 + i));
            assert!(limiter.check(ip).is_ok());
        }
        assert!(limiter.tracked() <= MAX_KEYS + 100_000, "{}", limiter.tracked());
        clock.advance(Duration::from_millis(100));
        assert!(limiter.housekeeping() <= MAX_KEYS, "{}", limiter.tracked());
    }
}

#[test]
fn a_flood_of_new_addresses_does_not_wash_out_a_limited_client() {
    let (limited, _clock) = limiter(10);
    while limited.check(A).is_ok() {}
    // Three hundred thousand new addresses at once, each asking once: far past MAX_KEYS.
    for i in 0..300_000u32 {
        assert!(limited.check(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i))).is_ok());
    }
    assert!(limited.housekeeping() <= MAX_KEYS);
    assert!(limited.check(A).is_err(), "the client spending its budget was kept");
    // Past the cap with everyone limited, all are forgotten rather than memory growing.
    let (limiter, _clock) = limiter(1);
    for i in 0..(MAX_KEYS as u32 + 10) {
        let ip = IpAddr::V4(Ipv4Addr::from(i));
        assert!(limiter.check(ip).is_ok() && limiter.check(ip).is_err());
    }
    assert_eq!(limiter.housekeeping(), 0);
}

#[test]
fn zero_turns_the_limit_off() {
    let (limiter, _clock) = limiter(0);
    for _ in 0..10_000 {
        assert_eq!(limiter.check(A), Ok(()));
    }
    assert_eq!((limiter.tracked(), limiter.housekeeping()), (0, 0));
}

#[test]
fn an_ipv6_client_is_keyed_by_its_64_and_ipv4_by_its_address() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(client_key(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
    assert_eq!(client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), ip("2001:db8:1:2::"));
    assert_ne!(client_key(ip("2001:db8:1:3::1")), client_key(ip("2001:db8:1:2::1")));
    assert_eq!(client_key(ip("203.0.113.7")), ip("203.0.113.7"));
    assert_ne!(client_key(ip("203.0.113.7")), client_key(ip("203.0.113.8")));
    assert_eq!(client_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"), "v4-mapped is the v4 client");
    assert_eq!(client_key(ip("::1")), ip("::"));
}

#[test]
fn one_64_shares_one_budget() {
    let (limiter, _clock) = limiter(5);
    let answers: Vec<bool> = (1..=10u16)
        .map(|i| {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, i));
            limiter.check(client_key(ip)).is_ok()
        })
        .collect();
    assert_eq!(answers.iter().filter(|ok| **ok).count(), 5, "{answers:?}");
}

#[test]
fn door_sessions_have_budgets_of_their_own() {
    let (limiter, _clock) = limiter::<String>(2);
    assert!(limiter.check("a".into()).is_ok() && limiter.check("a".into()).is_ok());
    assert!(limiter.check("a".into()).is_err());
    assert!(limiter.check("b".into()).is_ok());
}
