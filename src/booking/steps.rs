//! The booking row a reservation writes. The database steps themselves (reserve, confirm,
//! release, sweep) are one pipeline, in `pipeline/`.

use std::time::Duration;

use super::{BookingRequest, Buyer, Reference};
use crate::db::models::{Booking, BookingStatus};

/// The booking row a reservation writes (the price is filled in from the tier).
pub fn held_booking(request: &BookingRequest, now: i64, hold_ttl: Duration) -> Booking {
    let (name, email, user_id) = match &request.buyer {
        Buyer::Web { name, email } => (name.as_str().to_owned(), email.as_str().to_owned(), None),
        Buyer::Api { user_id } => (user_id.clone(), String::new(), Some(user_id.clone())),
    };
    Booking {
        id: crate::settings::time_ordered_id(now),
        reference: Reference::generate().to_string(),
        tier_id: request.tier.as_str().to_owned(),
        quantity: request.quantity.as_i32(),
        unit_price_cents: 0,
        total_cents: 0,
        customer_name: name,
        customer_email: email,
        user_id,
        status: BookingStatus::Held,
        idempotency_key: request.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
        transaction_id: None,
        failure_reason: None,
        hold_expires_at: now + hold_ttl.as_millis() as i64,
        created_at: now,
        updated_at: now,
    }
}
