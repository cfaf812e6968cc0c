//! The one place that turns how a booking ended into words: for the booking page, the form
//! (page and htmx fragment alike) and the JSON API. The API keeps the original backend's
//! words where it had some (`Not enough tickets available`, `Payment failed: …`); everything
//! else it says comes from here too.

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
        BookingStatus::Refunded => Some(
            "Your payment arrived after the seat hold expired and the seats had been sold. The full amount was refunded."
                .into(),
        ),
        BookingStatus::Voided => Some("This booking was cancelled by the box office.".into()),
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
/// `tier_name` names the tier for a sold-out message. `None` for storage trouble, which is an
/// error page, not a form message.
pub fn for_people(e: &BookingError, tier_name: &str) -> Option<(&'static str, String)> {
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
        BookingError::Refunded { reference } => (
            "",
            format!(
                "Your payment went through after your seat hold expired, and the seats had been sold in the meantime. \
                 The charge was refunded in full (booking {reference})."
            ),
        ),
        BookingError::Unsettled { reference, status } => ("", unsettled(reference, *status)),
        BookingError::PaymentUnrecorded { reference } => ("", unrecorded(reference)),
        BookingError::Storage(_) | BookingError::Pipeline(_) => return None,
    })
}
