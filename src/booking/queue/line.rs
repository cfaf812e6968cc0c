//! The line's rules, as plain functions of the stored line and the time (no I/O), so the
//! rules can be tested without a database or a clock:
//!
//! - [`seal`]: at the opening, the arrivals so far become the shuffled early ones;
//! - [`advance`]: admission moves along the positions at the rate, never past the last
//!   arrival, never beyond `QUEUE_ACTIVE_MAX` admitted fans shopping at once;
//! - [`active`]: how many admitted fans are still shopping.

use std::collections::HashSet;

use crate::db::queue::QueueLine;

/// Microseconds per minute: the rate is per minute, credit is kept in microseconds.
const MINUTE_US: i128 = 60_000_000;

/// Seals the opening once `now` (ms) has reached `opens_at` (ms): the arrivals so far are the
/// early ones, ordered by `seed`; admissions accrue from the announced opening (so a seal a
/// moment late loses no admissions). Returns true if it sealed now.
pub fn seal(line: &mut QueueLine, now: i64, opens_at: i64, seed: i64) -> bool {
    if line.opened_at.is_some() || now < opens_at {
        return false;
    }
    line.opened_at = Some(now);
    line.early = Some(line.joined);
    line.seed = Some(seed);
    line.credit_from_us = opens_at.saturating_mul(1000);
    true
}

/// Lets in as many positions as the rate has earned since `credit_from_us`, at most the fans
/// waiting and the room under `active_max` (given `active` admitted fans still shopping).
/// Returns how many were let in. Nothing moves before the opening or while paused.
///
/// Credit is a token bucket holding ten seconds' worth of admissions (at least one): a
/// stall of the keepers shorter than that loses no admissions, and a quiet hour (an empty
/// line, a full shop) does not let a crowd in at once later.
pub fn advance(line: &mut QueueLine, now: i64, active: i64, active_max: i64) -> i64 {
    if line.opened_at.is_none() || line.paused_at.is_some() {
        return 0;
    }
    let rate = i128::from(line.rate_per_min.max(1));
    let now_us = i128::from(now) * 1000;
    let burst = (rate / 6).max(1);
    let oldest = now_us - (burst * MINUTE_US + rate - 1) / rate;
    let credit_from = i128::from(line.credit_from_us).max(oldest);
    let earned = ((now_us - credit_from).max(0) * rate / MINUTE_US) as i64;
    let waiting = line.joined - line.admitted;
    let room = (active_max - active).max(0);
    let n = earned.min(waiting).min(room).max(0);
    line.admitted += n;
    // What the n admissions cost, rounded up: never more than was earned.
    let spent = (i128::from(n) * MINUTE_US + rate - 1) / rate;
    line.credit_from_us = (credit_from + spent) as i64;
    n
}

/// Admitted fans still shopping: those let in within the last `session_ms` (positions after
/// `admitted_then`, how far admission had gone `session_ms` ago), less those whose admission
/// ended with a booking (`done`, among those positions).
pub fn active(admitted_now: i64, admitted_then: i64, done: i64) -> i64 {
    (admitted_now - admitted_then - done).max(0)
}

/// [`active`] from what a process keeps of the line: every step of admission `(admitted, at)`
/// and every position whose admission ended with a booking. `since` is `now - session`: how
/// far admission had gone then is the furthest step made by then.
pub fn active_from(admitted_now: i64, steps: &[(i64, i64)], done: &HashSet<i64>, since: i64) -> i64 {
    let then = steps.iter().filter(|(_, at)| *at <= since).map(|(admitted, _)| *admitted).max().unwrap_or(0);
    let ended = done.iter().filter(|&&p| p > then && p <= admitted_now).count() as i64;
    active(admitted_now, then, ended)
}

/// Pauses (`true`) or resumes admissions. Resuming starts the credit afresh: a pause does
/// not save up admissions. Returns false if it was already so.
pub fn pause(line: &mut QueueLine, paused: bool, now: i64) -> bool {
    match (paused, line.paused_at) {
        (true, None) => line.paused_at = Some(now),
        (false, Some(_)) => {
            line.paused_at = None;
            line.credit_from_us = now.saturating_mul(1000);
        }
        _ => return false,
    }
    true
}

/// Sets the rate (admissions per minute); credit starts afresh at the new rate.
pub fn set_rate(line: &mut QueueLine, rate_per_min: i64, now: i64) {
    line.rate_per_min = rate_per_min;
    line.credit_from_us = now.saturating_mul(1000);
}

/// Seconds until `ahead` fans and then this one are let in at `rate_per_min`.
pub fn estimated_wait_secs(ahead: i64, rate_per_min: i64) -> i64 {
    let admissions = i128::from(ahead.max(0) + 1);
    ((admissions * 60 + i128::from(rate_per_min.max(1)) - 1) / i128::from(rate_per_min.max(1))) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENS: i64 = 1_000_000;

    fn line(joined: i64, rate: i64) -> QueueLine {
        QueueLine { joined, ..QueueLine::new("line".into(), rate, 0) }
    }

    #[test]
    fn the_opening_is_sealed_once_with_the_arrivals_so_far() {
        let mut l = line(40, 600);
        assert!(!seal(&mut l, OPENS - 1, OPENS, 9), "not before the opening");
        assert!(seal(&mut l, OPENS + 30, OPENS, 9));
        assert_eq!((l.opened_at, l.early, l.seed), (Some(OPENS + 30), Some(40), Some(9)));
        l.joined = 50;
        assert!(!seal(&mut l, OPENS + 60, OPENS, 10), "only once");
        assert_eq!((l.early, l.seed), (Some(40), Some(9)));
    }

    #[test]
    fn admission_follows_the_rate_from_the_opening_exactly() {
        // 600 a minute is one every 100 ms; admissions advance in uneven steps.
        let mut l = line(10_000, 600);
        seal(&mut l, OPENS, OPENS, 1);
        let mut now = OPENS;
        let mut admitted = 0;
        for step in [130, 70, 1, 499, 250, 9_000, 5_000] {
            now += step;
            admitted += advance(&mut l, now, 0, i64::MAX);
            assert_eq!(admitted, (now - OPENS) / 100, "at +{} ms", now - OPENS);
        }
        assert_eq!(l.admitted, admitted);
    }

    #[test]
    fn admission_never_passes_the_last_arrival_nor_the_active_limit() {
        let mut l = line(5, 60_000);
        seal(&mut l, OPENS, OPENS, 1);
        assert_eq!(advance(&mut l, OPENS + 1_000, 0, 100), 5, "only five are waiting");
        l.joined = 500;
        assert_eq!(advance(&mut l, OPENS + 2_000, 98, 100), 2, "room for two more shoppers");
        assert_eq!(advance(&mut l, OPENS + 2_000, 100, 100), 0, "the shop is full");
        assert_eq!(l.admitted, 7);
    }

    #[test]
    fn unused_credit_is_kept_for_ten_seconds_at_most() {
        let mut l = line(0, 6_000); // 100 a second
        seal(&mut l, OPENS, OPENS, 1);
        assert_eq!(advance(&mut l, OPENS + 3_600_000, 0, i64::MAX), 0, "an hour with nobody waiting");
        l.joined = 5_000;
        assert_eq!(advance(&mut l, OPENS + 3_600_000, 0, i64::MAX), 1_000, "ten seconds' worth at once");
        assert_eq!(advance(&mut l, OPENS + 3_600_500, 0, i64::MAX), 50, "then the rate");
        assert_eq!(advance(&mut l, OPENS + 3_630_500, 0, i64::MAX), 1_000, "a stall of 30 s keeps 10 s");
        let mut slow = line(10, 1);
        seal(&mut slow, OPENS, OPENS, 1);
        slow.joined = 0;
        advance(&mut slow, OPENS + 600_000, 0, i64::MAX);
        slow.joined = 10;
        assert_eq!(advance(&mut slow, OPENS + 600_000, 0, i64::MAX), 1, "at least one");
    }

    #[test]
    fn nothing_moves_before_the_opening_or_while_paused() {
        let mut l = line(100, 60_000);
        assert_eq!(advance(&mut l, OPENS + 10_000, 0, i64::MAX), 0);
        seal(&mut l, OPENS, OPENS, 1);
        assert!(pause(&mut l, true, OPENS));
        assert!(!pause(&mut l, true, OPENS), "already paused");
        assert_eq!(advance(&mut l, OPENS + 10_000, 0, i64::MAX), 0);
        assert!(pause(&mut l, false, OPENS + 10_000));
        assert_eq!(advance(&mut l, OPENS + 10_050, 0, i64::MAX), 50, "the pause saved nothing up");
    }

    #[test]
    fn a_new_rate_applies_from_its_change() {
        let mut l = line(10_000, 60);
        seal(&mut l, OPENS, OPENS, 1);
        set_rate(&mut l, 60_000, OPENS + 100);
        assert_eq!(advance(&mut l, OPENS + 1_100, 0, i64::MAX), 1_000);
    }

    #[test]
    fn waits_and_active_fans_are_counted_plainly() {
        assert_eq!(estimated_wait_secs(0, 60), 1);
        assert_eq!(estimated_wait_secs(999, 1000), 60);
        assert_eq!(estimated_wait_secs(1000, 1000), 61);
        assert_eq!(active(500, 200, 50), 250);
        assert_eq!(active(10, 10, 0), 0);
    }

    #[test]
    fn shoppers_are_counted_from_the_steps_and_the_ended_turns_a_process_keeps() {
        // Let in: 1-10 at t=1000, 11-30 at t=2000, 31-40 at t=3000. Turns ended: 5 and 12, 35.
        let steps = [(10, 1_000), (30, 2_000), (40, 3_000)];
        let done: HashSet<i64> = [5, 12, 35].into();
        // Sessions that began by t=2000 are over: 31-40 shop, less 35.
        assert_eq!(active_from(40, &steps, &done, 2_000), 9);
        // Only the first step's are over: 11-40 shop, less 12 and 35.
        assert_eq!(active_from(40, &steps, &done, 1_999), 28);
        // None over yet: all 40, less the three that booked.
        assert_eq!(active_from(40, &steps, &done, 999), 37);
        // Another process's clock: a step stamped earlier than the one before it still
        // counts by how far it let fans in.
        let skewed = [(10, 1_000), (30, 900), (40, 3_000)];
        assert_eq!(active_from(40, &skewed, &done, 950), 9);
        // A turn ended past what this line has admitted (read a moment later) is not counted.
        assert_eq!(active_from(30, &steps, &[5, 12, 35].into(), 999), 28);
    }
}
