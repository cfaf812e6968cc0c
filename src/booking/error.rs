//! Why a booking did not end confirmed.

use crate::db::DbError;
use crate::db::models::BookingStatus;

/// Why a booking did not end confirmed. Storage trouble keeps its cause.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("unknown ticket tier")]
    UnknownTier,
    #[error("not enough seats: {requested} requested, {available} left")]
    NotEnoughSeats { requested: i32, available: i32 },
    #[error("payment declined: {reason}")]
    PaymentDeclined { reason: String, reference: String },
    /// Charged after the hold had expired and the seats were gone: the charge was refunded.
    #[error("hold expired before payment completed; charge refunded")]
    Refunded { reference: String },
    /// A replay found an earlier attempt that ended without seats for another reason
    /// (expired hold, admin reset) or has not finished yet.
    #[error("the earlier attempt with this idempotency key ended {status:?}")]
    Unsettled { reference: String, status: BookingStatus },
    #[error("this idempotency key was already used for a different booking")]
    KeyReused,
    /// Paid, but the database could not record it within the patience. Nothing is lost: the
    /// booking is on record, and the reconciliation settles the charge (seats, or a refund)
    /// once the database answers.
    #[error("paid, but the confirmation is not recorded yet")]
    PaymentUnrecorded { reference: String },
    #[error("storage")]
    Storage(#[from] DbError),
    #[error("booking pipeline")]
    Pipeline(#[from] super::desk::PipelineError),
}

impl From<diesel::result::Error> for BookingError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Storage(DbError::Query(e))
    }
}
