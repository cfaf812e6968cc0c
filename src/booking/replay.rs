//! Answers to a repeated idempotency key, and to a request the availability snapshot shows
//! cannot fit.

use std::time::{Duration, Instant};

use super::{BookingError, BookingRequest, Buyer, Shop};
use crate::db::DbError;
use crate::db::models::{Booking, BookingStatus};

/// How long a replay waits for an earlier attempt with the same key to finish paying.
const REPLAY_WAIT: Duration = Duration::from_secs(15);

impl Shop {
    /// A request the snapshot shows cannot fit (`available` seats left): `409` at memory
    /// speed. A repeated key gets its first attempt's answer instead (looked up with the other
    /// refused keys of the moment in one indexed read, no write); if the database cannot answer
    /// that, the snapshot's answer stands.
    pub(super) async fn refuse_from_memory(
        &self,
        request: &BookingRequest,
        available: i32,
    ) -> (Result<Booking, BookingError>, bool) {
        if let Some(key) = &request.idempotency_key
            && let Some(earlier) = self.lookups.find(key.as_str().to_owned()).await
        {
            let result = self.replay(request, earlier).await;
            let replayed = !matches!(result, Err(BookingError::KeyReused));
            return (result, replayed);
        }
        (Err(BookingError::NotEnoughSeats { requested: request.quantity.as_i32(), available }), false)
    }

    async fn reload(&self, booking: &Booking) -> Result<Booking, BookingError> {
        let id = booking.id.clone();
        self.with_conn(move |c| Booking::by_id(c, &id).map_err(DbError::from))
            .await?
            .ok_or_else(|| BookingError::Storage(DbError::Query(diesel::result::Error::NotFound)))
    }

    /// Answers a repeated key with the first attempt's outcome, waiting for it if it is
    /// still paying.
    pub(super) async fn replay(
        &self,
        request: &BookingRequest,
        earlier: Booking,
    ) -> Result<Booking, BookingError> {
        // A key belongs to its buyer and its booking: anyone else, or another tier or quantity,
        // is refused, and learns nothing of the first booking.
        let same_buyer = match &request.buyer {
            Buyer::Api { user_id } => earlier.user_id.as_deref() == Some(user_id.as_str()),
            Buyer::Web { name, email } => {
                earlier.user_id.is_none()
                    && earlier.customer_name == name.as_str()
                    && earlier.customer_email == email.as_str()
            }
        };
        if !same_buyer
            || earlier.tier_id != request.tier.as_str()
            || earlier.quantity != request.quantity.as_i32()
        {
            return Err(BookingError::KeyReused);
        }
        log::info!("{}: replayed for a repeated idempotency key", earlier.reference);
        let deadline = Instant::now() + REPLAY_WAIT;
        let mut booking = earlier;
        while booking.status == BookingStatus::Held && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
            booking = self.reload(&booking).await?;
        }
        match booking.status {
            BookingStatus::Confirmed => Ok(booking),
            BookingStatus::PaymentFailed => Err(BookingError::PaymentDeclined {
                reason: booking.failure_reason.clone().unwrap_or_else(|| "Payment failed".into()),
                reference: booking.reference,
            }),
            BookingStatus::Refunded => Err(BookingError::Refunded { reference: booking.reference }),
            status => Err(BookingError::Unsettled { reference: booking.reference, status }),
        }
    }
}
