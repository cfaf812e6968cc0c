//! The rate limiter measured against the hand-written one it replaced (issue 20 item 5): the
//! shop's `techkraft_tickets::rate_limit::RateLimiter` (governor's keyed limiter on its default
//! clock, quanta's, kept bounded by its housekeeping once a second) beside the hand-written
//! sharded token buckets (`hand_written.rs`, a copy of the old src/rate_limit.rs), and the
//! shop's limiter on std's `Instant` (governor's `MonotonicClock`) to show what the clock costs.
//!
//! `cargo bench --bench rate_limit` (release). For each limiter and load, on 1 and 2 threads, five
//! runs: nanoseconds per check (min / median / max: the shared machine's spread shows in the
//! range); then, after the load and the housekeeping that follows it within a second, the heap
//! held (a counting allocator) and the clients tracked; and the longest housekeeping. The loads: one client hammering (nearly every check refused), a crowd
//! of 100,000 addresses each asking again and again, and a flood of 1,000,000 addresses never
//! seen before.

mod hand_written;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use governor::clock::MonotonicClock;
use techkraft_tickets::rate_limit::{RateLimiter, client_key};

/// Counts the bytes the heap holds.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What the limiters answer: `Err(seconds)` is the `Retry-After`.
trait Limit: Send + Sync {
    fn check(&self, key: IpAddr) -> Result<(), u64>;
    fn keys(&self) -> usize;
    /// The shop's once-a-second housekeeping; the hand-written limiter needs none.
    fn housekeeping(&self) {}
}

impl Limit for hand_written::RateLimiter<IpAddr> {
    fn check(&self, key: IpAddr) -> Result<(), u64> {
        hand_written::RateLimiter::check(self, key)
    }
    fn keys(&self) -> usize {
        self.tracked()
    }
}

impl<C: governor::clock::Clock + Send + Sync> Limit for RateLimiter<IpAddr, C>
where
    C::Instant: Send + Sync,
{
    fn check(&self, key: IpAddr) -> Result<(), u64> {
        RateLimiter::check(self, key)
    }
    fn keys(&self) -> usize {
        self.tracked()
    }
    fn housekeeping(&self) {
        RateLimiter::housekeeping(self);
    }
}

fn v4(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

/// Runs `checks` checks of `key(i)` on `threads` threads, with housekeeping every second as
/// the server does; nanoseconds per check, and the longest housekeeping in microseconds.
fn run(limit: &Arc<dyn Limit>, threads: u32, checks: u32, key: fn(u32) -> IpAddr) -> (f64, u64) {
    let done = Arc::new(AtomicBool::new(false));
    let longest = Arc::new(AtomicU64::new(0));
    let keeper = {
        let (limit, done, longest) = (limit.clone(), done.clone(), longest.clone());
        std::thread::spawn(move || {
            let mut next = Instant::now() + Duration::from_secs(1);
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
                if Instant::now() >= next {
                    let started = Instant::now();
                    limit.housekeeping();
                    longest.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    next += Duration::from_secs(1);
                }
            }
        })
    };
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let limit = limit.clone();
            std::thread::spawn(move || {
                let mut refused = 0u64;
                for i in (t..checks).step_by(threads as usize) {
                    refused += u64::from(limit.check(key(i)).is_err());
                }
                std::hint::black_box(refused)
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    keeper.join().expect("keeper");
    (elapsed.as_nanos() as f64 / f64::from(checks), longest.load(Ordering::Relaxed))
}

fn spread(mut runs: Vec<f64>) -> String {
    runs.sort_by(f64::total_cmp);
    format!("{:>4.0} / {:>4.0} / {:>4.0} ns", runs[0], runs[runs.len() / 2], runs[runs.len() - 1])
}

fn main() {
    type Maker = fn(u32) -> Arc<dyn Limit>;
    let makers: [(&str, Maker); 3] = [
        ("hand-written", |n| Arc::new(hand_written::RateLimiter::<IpAddr>::new(n))),
        ("governor", |n| Arc::new(RateLimiter::<IpAddr>::new(n))),
        ("gov., std clk", |n| Arc::new(RateLimiter::<IpAddr, _>::with_clock(n, MonotonicClock))),
    ];
    type Load = (&'static str, u32, fn(u32) -> IpAddr);
    let loads: [Load; 3] = [
        ("one client hammering (60/min)", 2_000_000, |_| v4(7)),
        ("100,000 clients, round robin", 2_000_000, |i| v4(i % 100_000)),
        ("1,000,000 new clients", 1_000_000, v4),
    ];
    println!("ns per check: min / median / max of 5 runs; after the last run and one housekeeping:");
    println!("heap held, clients tracked, and the longest housekeeping (the shop's, once a second)");
    for (load, checks, key) in loads {
        println!("\n{load}, {checks} checks");
        for threads in [1, 2] {
            for (name, make) in makers {
                let mut runs = Vec::new();
                let mut after = (0, 0, 0);
                for _ in 0..5 {
                    let before = HELD.load(Ordering::Relaxed);
                    let limit = make(60);
                    let (ns, longest) = run(&limit, threads, checks, key);
                    runs.push(ns);
                    // The next second's housekeeping, as the server's thread would do it.
                    let started = Instant::now();
                    limit.housekeeping();
                    let longest = longest.max(started.elapsed().as_micros() as u64);
                    after = (HELD.load(Ordering::Relaxed).saturating_sub(before), limit.keys(), longest);
                }
                println!(
                    "  {name:<13} {threads} thread(s): {}   heap {:>5.1} MB, {:>7} clients, housekeeping {:>5.1} ms",
                    spread(runs),
                    after.0 as f64 / 1e6,
                    after.1,
                    after.2 as f64 / 1e3,
                );
            }
        }
    }
    let started = Instant::now();
    let mut sum = 0u64;
    for i in 0..1_000_000u32 {
        let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, i as u16, 0, 0, 0, 1));
        sum += u64::from(matches!(client_key(ip), IpAddr::V6(_)));
    }
    std::hint::black_box(sum);
    println!(
        "\nclient_key (IPv6 → /64, the same for both): {:.1} ns",
        started.elapsed().as_nanos() as f64 / 1e6
    );
}
