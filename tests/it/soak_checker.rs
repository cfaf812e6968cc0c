//! The history checker of `./scripts/soak` (tests/soak/checker.rs) rejects what it must: each
//! test plants one violation in a history that otherwise holds, and expects that invariant.

#[path = "../soak/checker.rs"]
mod checker;

use checker::{Event, Ledger, Observed, Op, Via, check};
use techkraft_tickets::booking::{Booking, BookingStatus, Refund, RefundStatus, Ticket, Tier};

const T0: i64 = 1_800_000_000_000;

fn booking(reference: &str, status: BookingStatus, quantity: i32, txn: Option<&str>) -> Booking {
    Booking {
        id: format!("id-{reference}"),
        reference: reference.into(),
        tier_id: "vip".into(),
        quantity,
        unit_price_cents: 10_000,
        total_cents: 10_000 * i64::from(quantity),
        customer_name: "Ada".into(),
        customer_email: "ada@example.com".into(),
        user_id: None,
        status,
        idempotency_key: Some(format!("key-{reference}")),
        transaction_id: txn.map(str::to_owned),
        failure_reason: None,
        hold_expires_at: T0 + 60_000,
        created_at: T0,
        updated_at: T0 + 100,
    }
}

fn ticket(b: &Booking, seat: i32) -> Ticket {
    Ticket {
        code: format!("TIX-{}-{seat}", b.reference),
        booking_id: b.id.clone(),
        seat,
        checked_in_at: None,
        created_at: T0 + 50,
    }
}

fn event(op: Op, status: u16, reference: Option<&str>, at: i64) -> Event {
    Event {
        client: 0,
        op,
        sent_at: at,
        answered_at: at + 10,
        status: Some(status),
        reference: reference.map(str::to_owned),
    }
}

fn book(reference: &str) -> Op {
    Op::Book { via: Via::Form, key: format!("key-{reference}"), tier: "vip".into(), quantity: 2 }
}

/// A small run where every invariant holds: one booking confirmed (two tickets, one of them
/// admitted), one confirmed then refunded by a reset, 4 of 100 VIP seats sold or refunded.
fn consistent() -> Observed {
    let kept = booking("TK-KEPT", BookingStatus::Confirmed, 2, Some("txn_1"));
    let mut reset = booking("TK-RESET", BookingStatus::Refunded, 2, Some("txn_2"));
    reset.updated_at = T0 + 5_000;
    let mut tickets = vec![ticket(&kept, 1), ticket(&kept, 2), ticket(&reset, 1), ticket(&reset, 2)];
    tickets[0].checked_in_at = Some(T0 + 1_000);
    let tier = Tier {
        id: "vip".into(),
        name: "VIP".into(),
        price_cents: 10_000,
        capacity: 100,
        available: 98,
        withheld: 0,
        sort_order: 0,
        version: 7,
    };
    let refund = Refund {
        booking_id: reset.id.clone(),
        charge_id: "txn_2".into(),
        amount_cents: 20_000,
        status: RefundStatus::Done,
        attempts: 1,
        next_attempt_at: T0,
        last_error: None,
        refund_id: Some("rfd_2".into()),
        created_at: T0 + 5_000,
        updated_at: T0 + 5_100,
    };
    Observed {
        tiers: vec![tier],
        emails: vec![
            (kept.id.clone(), "tickets".into()),
            (reset.id.clone(), "tickets".into()),
            (reset.id.clone(), "refund".into()),
        ],
        ledger: vec![
            Ledger::Charge { key: kept.id.clone(), transaction_id: "txn_1".into() },
            Ledger::Charge { key: reset.id.clone(), transaction_id: "txn_2".into() },
            Ledger::Refund { key: reset.id.clone(), refund_id: "rfd_2".into() },
        ],
        history: vec![
            event(book("TK-KEPT"), 303, Some("TK-KEPT"), T0),
            event(
                Op::Book { via: Via::Api, key: "key-TK-RESET".into(), tier: "vip".into(), quantity: 2 },
                201,
                Some("TK-RESET"),
                T0,
            ),
            event(Op::Lookup { reference: "TK-KEPT".into() }, 200, None, T0 + 500),
            event(Op::SetAvailable { tier: "vip".into(), target: 2 }, 422, None, T0 + 600),
            event(Op::CheckIn { code: tickets[0].code.clone() }, 200, None, T0 + 1_000),
            event(Op::Reset { tier: None }, 303, None, T0 + 4_990),
        ],
        bookings: vec![kept, reset],
        tickets,
        refunds: vec![refund],
        charge_checks: 0,
    }
}

fn violated(o: &Observed) -> &'static str {
    check(o).expect_err("a planted violation is found").invariant
}

#[test]
fn a_history_where_everything_holds_passes() {
    assert_eq!(check(&consistent()), Ok(()));
}

#[test]
fn an_oversell_is_found() {
    let mut o = consistent();
    o.tiers[0].available = 99; // one seat more than the bookings left
    assert_eq!(violated(&o), "seats conserved");
    o.tiers[0].available = -1;
    assert_eq!(violated(&o), "seats conserved");
}

#[test]
fn a_double_refund_is_found() {
    let mut o = consistent();
    let key = o.bookings[1].id.clone();
    o.ledger.push(Ledger::Refund { key, refund_id: "rfd_3".into() });
    assert_eq!(violated(&o), "charges end in seats or one refund");
}

#[test]
fn a_ticket_admitted_twice_is_found() {
    let mut o = consistent();
    let code = o.tickets[0].code.clone();
    o.history.push(event(Op::CheckIn { code }, 200, None, T0 + 2_000));
    assert_eq!(violated(&o), "tickets admitted once while valid");
}

#[test]
fn a_ticket_admitted_after_the_reset_that_refunded_it_is_found() {
    let mut o = consistent();
    let code = o.tickets[2].code.clone();
    o.history.push(event(Op::CheckIn { code }, 200, None, T0 + 6_000));
    assert_eq!(violated(&o), "tickets admitted once while valid");
}

#[test]
fn a_lost_acknowledged_booking_is_found() {
    let mut o = consistent();
    o.bookings[0].status = BookingStatus::Expired;
    o.tiers[0].available = 100; // its seats went back: conservation still holds
    o.ledger.retain(|l| !matches!(l, Ledger::Charge { transaction_id, .. } if transaction_id == "txn_1"));
    assert_eq!(violated(&o), "acknowledged bookings kept");
    let mut o = consistent();
    o.history.push(event(book("TK-GHOST"), 201, Some("TK-GHOST"), T0));
    assert_eq!(violated(&o), "acknowledged bookings kept");
}

#[test]
fn a_charge_without_seats_or_refund_is_found() {
    let mut o = consistent();
    let mut late = booking("TK-LATE", BookingStatus::Expired, 1, None);
    late.idempotency_key = None;
    o.ledger.push(Ledger::Charge { key: late.id.clone(), transaction_id: "txn_9".into() });
    o.bookings.push(late);
    assert_eq!(violated(&o), "charges end in seats or one refund");
}

#[test]
fn a_booking_both_confirmed_and_refunded_is_found() {
    let mut o = consistent();
    let key = o.bookings[0].id.clone();
    o.ledger.push(Ledger::Refund { key, refund_id: "rfd_4".into() });
    assert_eq!(violated(&o), "charges end in seats or one refund");
}

#[test]
fn a_second_confirmation_email_is_found() {
    let mut o = consistent();
    let id = o.bookings[0].id.clone();
    o.emails.push((id, "tickets".into()));
    assert_eq!(violated(&o), "one confirmation email per confirmed booking");
}

#[test]
fn two_bookings_for_one_key_and_a_500_are_found() {
    let mut o = consistent();
    o.history.push(event(book("TK-KEPT"), 303, Some("TK-OTHER"), T0 + 20));
    assert_eq!(violated(&o), "one booking per key");
    let mut o = consistent();
    o.history.push(event(book("TK-X"), 500, None, T0));
    assert_eq!(violated(&o), "no 500");
}

#[test]
fn unsettled_work_at_the_end_is_found() {
    let mut o = consistent();
    o.charge_checks = 1;
    assert_eq!(violated(&o), "everything settles");
}

#[test]
fn the_ledger_file_parses() {
    let lines = Ledger::parse("charge b1 txn_1 200\nrefund b1 rfd_1 txn_1 200\ngarbage\n");
    assert_eq!(
        lines,
        vec![
            Ledger::Charge { key: "b1".into(), transaction_id: "txn_1".into() },
            Ledger::Refund { key: "b1".into(), refund_id: "rfd_1".into() },
        ]
    );
}
