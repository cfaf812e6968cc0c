//! The history check's invariants (SPEC §14), written once as functions over what the clients
//! saw (the history) and what the database and the gateway's ledger hold at the end. Pure: no
//! I/O, so planted violations can be tested (`tests/it/soak_checker.rs`).

use std::collections::{HashMap, HashSet};

use techkraft_tickets::booking::{Booking, BookingStatus, Refund, RefundStatus, Ticket, Tier};

/// How a booking request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Form,
    Api,
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Book {
        via: Via,
        key: String,
        tier: String,
        quantity: i32,
    },
    SetAvailable {
        tier: String,
        target: i32,
    },
    /// `None`: every tier.
    Reset {
        tier: Option<String>,
    },
    CheckIn {
        code: String,
    },
    Lookup {
        reference: String,
    },
}

/// One request and what its client saw. Times are wall-clock milliseconds (the database's
/// unit, on the same machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub client: usize,
    pub op: Op,
    pub sent_at: i64,
    pub answered_at: i64,
    /// `None`: no answer (the process died, or the connection broke).
    pub status: Option<u16>,
    /// The booking reference an answer named (a `303` to its page, or the API's booking).
    pub reference: Option<String>,
}

/// A line of the simulated gateway's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ledger {
    Charge { key: String, transaction_id: String },
    Refund { key: String, refund_id: String },
}

impl Ledger {
    /// Parses the ledger file's lines (`charge <key> <id> <cents>`, `refund <key> <id> …`).
    pub fn parse(text: &str) -> Vec<Ledger> {
        text.lines()
            .filter_map(|line| {
                let mut f = line.split(' ');
                match (f.next()?, f.next()?, f.next()?) {
                    ("charge", key, id) => {
                        Some(Ledger::Charge { key: key.into(), transaction_id: id.into() })
                    }
                    ("refund", key, id) => Some(Ledger::Refund { key: key.into(), refund_id: id.into() }),
                    _ => None,
                }
            })
            .collect()
    }
}

/// Everything the check looks at.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub tiers: Vec<Tier>,
    pub bookings: Vec<Booking>,
    pub tickets: Vec<Ticket>,
    pub refunds: Vec<Refund>,
    /// Outbox rows: (booking id, kind).
    pub emails: Vec<(String, String)>,
    /// Bookings still waiting for the reconciliation to ask the gateway.
    pub charge_checks: usize,
    pub ledger: Vec<Ledger>,
    pub history: Vec<Event>,
}

/// A broken invariant: which, and the case that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

fn broken(invariant: &'static str, detail: impl Into<String>) -> Result<(), Violation> {
    Err(Violation { invariant, detail: detail.into() })
}

/// Checks every invariant; the first one broken is the answer.
pub fn check(o: &Observed) -> Result<(), Violation> {
    settled(o)?;
    seats_conserved(o)?;
    no_server_errors(o)?;
    one_booking_per_key(o)?;
    acknowledged_bookings_kept(o)?;
    charges_end_in_seats_or_one_refund(o)?;
    tickets_admitted_once_while_valid(o)?;
    one_confirmation_email_per_confirmed_booking(o)?;
    Ok(())
}

/// Nothing is left half done once the run is over: no hold, no charge unasked about, no
/// refund owed.
pub fn settled(o: &Observed) -> Result<(), Violation> {
    if let Some(b) = o.bookings.iter().find(|b| b.status == BookingStatus::Held) {
        return broken("everything settles", format!("{} is still held", b.reference));
    }
    if o.charge_checks > 0 {
        return broken("everything settles", format!("{} charge checks still pending", o.charge_checks));
    }
    if let Some(r) = o.refunds.iter().find(|r| r.status != RefundStatus::Done) {
        return broken("everything settles", format!("the refund of {} is still owed", r.booking_id));
    }
    Ok(())
}

/// `available + held + confirmed + withheld = capacity` and `available >= 0`, per tier.
pub fn seats_conserved(o: &Observed) -> Result<(), Violation> {
    for tier in &o.tiers {
        let occupied: i32 = o
            .bookings
            .iter()
            .filter(|b| b.tier_id == tier.id && b.status.occupies_seats())
            .map(|b| b.quantity)
            .sum();
        if tier.available < 0 || tier.available + occupied + tier.withheld != tier.capacity {
            return broken(
                "seats conserved",
                format!(
                    "{}: available {} + held/confirmed {occupied} + withheld {} != capacity {}",
                    tier.id, tier.available, tier.withheld, tier.capacity
                ),
            );
        }
    }
    Ok(())
}

/// A 500 is a bug (a 503 is an honest "try again" during a fault).
pub fn no_server_errors(o: &Observed) -> Result<(), Violation> {
    match o.history.iter().find(|e| e.status == Some(500)) {
        Some(e) => broken("no 500", format!("{:?} answered 500", e.op)),
        None => Ok(()),
    }
}

/// Every answer to one idempotency key names the same booking.
pub fn one_booking_per_key(o: &Observed) -> Result<(), Violation> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for e in &o.history {
        let (Op::Book { key, .. }, Some(reference)) = (&e.op, &e.reference) else { continue };
        match seen.insert(key, reference) {
            Some(other) if other != reference => {
                return broken("one booking per key", format!("key {key} answered {other} and {reference}"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every booking a client was told is confirmed (`303` to its page, `201`) is confirmed with
/// one ticket per seat, or was refunded once when a reset took it.
pub fn acknowledged_bookings_kept(o: &Observed) -> Result<(), Violation> {
    let bookings: HashMap<&str, &Booking> = o.bookings.iter().map(|b| (b.reference.as_str(), b)).collect();
    for e in &o.history {
        let Op::Book { .. } = e.op else { continue };
        if !matches!(e.status, Some(303 | 201)) {
            continue;
        }
        let Some(reference) = &e.reference else { continue };
        let Some(b) = bookings.get(reference.as_str()) else {
            return broken(
                "acknowledged bookings kept",
                format!("{reference} was acknowledged but is not on record"),
            );
        };
        match b.status {
            BookingStatus::Confirmed => {
                let tickets = o.tickets.iter().filter(|t| t.booking_id == b.id).count();
                if tickets != b.quantity as usize {
                    return broken(
                        "acknowledged bookings kept",
                        format!("{reference} is confirmed with {tickets} tickets for {} seats", b.quantity),
                    );
                }
            }
            BookingStatus::Refunded => {
                let refunds = o.refunds.iter().filter(|r| r.booking_id == b.id).count();
                if refunds != 1 {
                    return broken(
                        "acknowledged bookings kept",
                        format!("{reference} was refunded with {refunds} refund records"),
                    );
                }
            }
            other => {
                return broken(
                    "acknowledged bookings kept",
                    format!("{reference} was acknowledged but ended {other:?}"),
                );
            }
        }
    }
    Ok(())
}

/// Every charge at the gateway ended in seats (its booking confirmed with that charge) or in
/// exactly one refund (its booking refunded); no refund without a charge, none twice; never
/// both confirmed and refunded.
pub fn charges_end_in_seats_or_one_refund(o: &Observed) -> Result<(), Violation> {
    let by_id: HashMap<&str, &Booking> = o.bookings.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut refunds: HashMap<&str, usize> = HashMap::new();
    let mut charges: HashMap<&str, &str> = HashMap::new();
    for line in &o.ledger {
        match line {
            Ledger::Charge { key, transaction_id } => {
                if charges.insert(key, transaction_id).is_some() {
                    return broken("charges end in seats or one refund", format!("{key} was charged twice"));
                }
            }
            Ledger::Refund { key, .. } => *refunds.entry(key).or_default() += 1,
        }
    }
    for (key, n) in &refunds {
        if *n > 1 {
            return broken("charges end in seats or one refund", format!("{key} was refunded {n} times"));
        }
        if !charges.contains_key(key) {
            return broken(
                "charges end in seats or one refund",
                format!("{key} was refunded without a charge"),
            );
        }
    }
    for (key, transaction_id) in &charges {
        let Some(b) = by_id.get(key) else {
            return broken(
                "charges end in seats or one refund",
                format!("charge {transaction_id} has no booking"),
            );
        };
        let refunded = refunds.get(key).copied().unwrap_or(0);
        let on_record = b.transaction_id.as_deref() == Some(*transaction_id);
        match b.status {
            BookingStatus::Confirmed if on_record && refunded == 0 => {}
            BookingStatus::Refunded if on_record && refunded == 1 => {}
            status => {
                return broken(
                    "charges end in seats or one refund",
                    format!(
                        "{} charged {transaction_id} ended {status:?} with {refunded} refund(s) (charge on record: {on_record})",
                        b.reference
                    ),
                );
            }
        }
    }
    for b in &o.bookings {
        let paid_back = refunds.contains_key(b.id.as_str()) || o.refunds.iter().any(|r| r.booking_id == b.id);
        if b.status == BookingStatus::Confirmed && paid_back {
            return broken(
                "charges end in seats or one refund",
                format!("{} is confirmed and refunded", b.reference),
            );
        }
    }
    Ok(())
}

/// Each ticket is admitted at most once, only if its booking was confirmed, and never after a
/// reset that took its booking back had been answered.
pub fn tickets_admitted_once_while_valid(o: &Observed) -> Result<(), Violation> {
    let mut admitted: HashSet<&str> = HashSet::new();
    let booking_of: HashMap<&str, &str> =
        o.tickets.iter().map(|t| (t.code.as_str(), t.booking_id.as_str())).collect();
    let by_id: HashMap<&str, &Booking> = o.bookings.iter().map(|b| (b.id.as_str(), b)).collect();
    for e in o.history.iter().filter(|e| e.status == Some(200)) {
        let Op::CheckIn { code } = &e.op else { continue };
        if !admitted.insert(code) {
            return broken("tickets admitted once while valid", format!("{code} was admitted twice"));
        }
        let Some(b) = booking_of.get(code.as_str()).and_then(|id| by_id.get(id)) else {
            return broken("tickets admitted once while valid", format!("{code} admitted but not on record"));
        };
        match b.status {
            BookingStatus::Confirmed => {}
            BookingStatus::Refunded => {
                // The reset that took it back: one of its tier sent before and answered after
                // the refund was written. Admitting it after that answer is too late.
                let took_back = o
                    .history
                    .iter()
                    .filter(|r| match &r.op {
                        Op::Reset { tier } => tier.as_deref().is_none_or(|t| t == b.tier_id),
                        _ => false,
                    })
                    .filter(|r| {
                        r.status.is_some() && r.sent_at <= b.updated_at && b.updated_at <= r.answered_at
                    })
                    .map(|r| r.answered_at)
                    .min();
                if took_back.is_some_and(|answered| answered < e.sent_at) {
                    return broken(
                        "tickets admitted once while valid",
                        format!("{code} of {} was admitted after the reset that refunded it", b.reference),
                    );
                }
            }
            other => {
                return broken(
                    "tickets admitted once while valid",
                    format!("{code} of {} was admitted while {other:?}", b.reference),
                );
            }
        }
    }
    for t in o.tickets.iter().filter(|t| t.checked_in_at.is_some()) {
        if !admitted.contains(t.code.as_str())
            && !o.history.iter().any(|e| e.op == Op::CheckIn { code: t.code.clone() })
        {
            return broken(
                "tickets admitted once while valid",
                format!("{} is checked in but nobody asked", t.code),
            );
        }
    }
    Ok(())
}

/// Every booking that was ever confirmed (it has tickets) queued exactly one confirmation
/// email if it has an address; no other booking queued one.
pub fn one_confirmation_email_per_confirmed_booking(o: &Observed) -> Result<(), Violation> {
    let confirmed: HashSet<&str> = o.tickets.iter().map(|t| t.booking_id.as_str()).collect();
    let mut emails: HashMap<&str, usize> = HashMap::new();
    for (booking, kind) in &o.emails {
        if kind == "tickets" {
            *emails.entry(booking).or_default() += 1;
        }
    }
    for b in &o.bookings {
        let wanted = usize::from(confirmed.contains(b.id.as_str()) && !b.customer_email.is_empty());
        let queued = emails.get(b.id.as_str()).copied().unwrap_or(0);
        if queued != wanted {
            return broken(
                "one confirmation email per confirmed booking",
                format!("{} ({:?}) queued {queued} confirmation emails", b.reference, b.status),
            );
        }
    }
    Ok(())
}
