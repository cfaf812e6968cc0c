//! The one place that turns how a booking ended into words: for the booking page, the form
//! (page and htmx fragment alike) and the JSON API. The API keeps the original backend's
//! words where it had some (`Not enough tickets available`, `Payment failed: …`); everything
//! else it says comes from here too.
//!
//! Why a booking was refunded is read from the booking itself: the box office's reset takes a
//! paid booking back without writing a `failure_reason` (it stays NULL), while a payment that
//! arrived after its hold ended and found the seats gone is refunded with the reason written
//! (`booking::pipeline::late_refund_reason`): one for a hold that expired, one for a hold a
//! reset voided while its payment was under way. [`refunded_by_box_office`] is that one test.

use crate::booking::{Booking, BookingError, BookingStatus};

/// A sentence for a booking that did not end confirmed, as its page shows it.
pub fn explanation(booking: &Booking) -> Option<String> {
    match booking.status {
        BookingStatus::Confirmed => None,
        BookingStatus::Held => Some("Your seats are held while the payment completes. Reload this page in a moment.".into()),
        BookingStatus::PaymentFailed => Some(declined(booking.failure_reason.as_deref().unwrap_or("declined"))),
        BookingStatus::Expired => Some(
            "The seat hold expired before payment completed. The seats were released and nothing was charged.".into(),
        ),
        BookingStatus::Refunded => Some(refunded(booking)),
        BookingStatus::Voided => Some("This booking was cancelled by the box office.".into()),
    }
}

/// True when a refunded booking was taken back by the box office (an admin reset, before or
/// while it was paid for), rather than refunded because its payment came after its hold expired.
pub fn refunded_by_box_office(booking: &Booking) -> bool {
    let reset = crate::booking::pipeline::late_refund_reason(BookingStatus::Voided);
    booking.status == BookingStatus::Refunded && booking.failure_reason.as_deref().is_none_or(|r| r == reset)
}

/// Why a refunded booking was refunded, in words.
pub fn refunded(booking: &Booking) -> String {
    if refunded_by_box_office(booking) {
        "This booking was cancelled by the box office, which reset its tier. The full amount was refunded, \
         and its tickets no longer admit anyone."
            .into()
    } else if booking.failure_reason.as_deref()
        == Some(crate::booking::pipeline::late_refund_reason(BookingStatus::PaymentFailed))
    {
        "The payment gateway confirmed your payment only after it had stopped answering us; your seats had been \
         released and sold in the meantime. The full amount was refunded."
            .into()
    } else {
        "Your payment arrived after the seat hold expired and the seats had been sold. The full amount was refunded."
            .into()
    }
}

fn declined(reason: &str) -> String {
    if reason == crate::payment::NO_ANSWER {
        // Our end stopped waiting; the gateway may still have charged. The reconciliation asks
        // it, and a charge found ends in seats (tickets by email) or a full refund.
        return format!(
            "Payment failed: {reason}. Your seats were released. If your card was charged anyway, we will find \
             the charge within minutes and either confirm your booking (tickets by email) or refund it in full."
        );
    }
    format!("Payment failed: {reason}. Don't worry: no seats were taken, nothing was charged.")
}

/// What a replay of an unsettled earlier attempt says.
pub fn unsettled(reference: &str, status: BookingStatus) -> String {
    match status {
        BookingStatus::Held => {
            format!("Booking {reference} is still being processed. Check its page in a moment.")
        }
        BookingStatus::Voided => format!("Booking {reference} was cancelled by the box office."),
        _ => format!(
            "Booking {reference} expired before its payment completed. Nothing was charged; please book again."
        ),
    }
}

/// A payment that went through while the database could not record it.
pub fn unrecorded(reference: &str) -> String {
    format!(
        "Your payment went through, but we could not record booking {reference} just now. Nothing is lost: \
         within a few minutes it is either confirmed (your tickets come by email) or the charge is refunded in full. \
         Please do not pay again."
    )
}

/// The sentence a refused key says.
pub const KEY_REUSED: &str = "This idempotency key was already used for a different booking.";

/// A failed booking for people: the form field it concerns (or empty) and the sentence.
/// `tier_name` names the tier for a sold-out message; `refunded_booking` is the booking of a
/// [`BookingError::Refunded`] (a replay after a reset says so). `None` for storage trouble,
/// which is an error page, not a form message.
pub fn for_people(
    e: &BookingError,
    tier_name: &str,
    refunded_booking: Option<&Booking>,
) -> Option<(&'static str, String)> {
    Some(match e {
        BookingError::UnknownTier => ("tier", "There is no such ticket tier.".to_owned()),
        BookingError::KeyReused => (
            "idempotency_key",
            "This form was already used for a different booking. Reload the page and try again.".to_owned(),
        ),
        BookingError::NotEnoughSeats { requested, available } => {
            let tail = if *available <= 0 {
                " This tier is sold out.".to_owned()
            } else {
                format!(" You asked for {requested}.")
            };
            ("quantity", format!("Only {available} left for {tier_name}.{tail}"))
        }
        BookingError::PaymentDeclined { reason, .. } => ("", declined(reason)),
        BookingError::Refunded { reference } => match refunded_booking {
            Some(booking) if refunded_by_box_office(booking) => (
                "",
                format!(
                    "Booking {reference} was cancelled by the box office, which reset its tier. \
                     The charge was refunded in full."
                ),
            ),
            _ => (
                "",
                format!(
                    "Your payment went through after your seat hold expired, and the seats had been sold in the meantime. \
                     The charge was refunded in full (booking {reference})."
                ),
            ),
        },
        BookingError::Unsettled { reference, status } => ("", unsettled(reference, *status)),
        BookingError::PaymentUnrecorded { reference } => ("", unrecorded(reference)),
        BookingError::Storage(_) | BookingError::Pipeline(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refunded_booking(failure_reason: Option<&str>) -> Booking {
        Booking {
            id: "b".into(),
            reference: "TK-AAAA-BBBB-CC".into(),
            tier_id: "vip".into(),
            quantity: 1,
            unit_price_cents: 100_00,
            total_cents: 100_00,
            customer_name: "Ada".into(),
            customer_email: "ada@example.com".into(),
            user_id: None,
            status: BookingStatus::Refunded,
            idempotency_key: None,
            transaction_id: Some("txn_1".into()),
            failure_reason: failure_reason.map(str::to_owned),
            hold_expires_at: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_refund_names_its_true_reason() {
        let reset = refunded_booking(None);
        assert!(explanation(&reset).unwrap().contains("cancelled by the box office"));
        let late =
            refunded_booking(Some("Seat hold expired before payment completed and the seats were sold"));
        assert!(explanation(&late).unwrap().contains("arrived after the seat hold expired"));
        let error = BookingError::Refunded { reference: "TK-AAAA-BBBB-CC".into() };
        assert!(for_people(&error, "VIP", Some(&reset)).unwrap().1.contains("cancelled by the box office"));
        assert!(for_people(&error, "VIP", Some(&late)).unwrap().1.contains("after your seat hold expired"));
    }
}
