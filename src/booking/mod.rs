//! The booking domain: reserve → pay → confirm (or release), the sweeper for holds that
//! outlive their time, idempotent replays, and the box office. Nothing here knows about HTTP,
//! and nothing here writes SQL: queries live in `crate::db`.
//!
//! - `types`: input values that can only hold what the shop accepts;
//! - `pipeline`: the database side of booking (a tier's batch of reservations, confirmations
//!   and releases in one transaction; late settlement; the sweep), plain functions on a
//!   connection with the time passed in; `desk`: the per-tier threads that run the batches;
//! - `reconcile`: asks the gateway about bookings that ended without a charge on record;
//! - `shop`: [`Shop`], which strings the steps together around the payment gateway, and is the
//!   one door the HTTP layer uses;
//! - `admin`: the box-office operations and their figures.

pub mod admin;
pub mod availability;
mod checkout;
pub mod desk;
mod email;
mod error;
mod lookups;
mod office;
pub mod pipeline;
pub mod queue;
mod reconcile;
mod refunds;
mod replay;
pub mod sessions;
mod shop;
pub mod steps;
mod sweeper;
pub mod tickets;
pub mod types;
mod work;

pub use crate::db::models::{
    AuditEntry, Booking, BookingStatus, Refund, RefundStatus, StaffRole, StaffSession, Tier,
};
pub use crate::db::outbox::OutboxEmail;
pub use crate::db::tickets::Ticket;
pub use admin::{AdminError, Dashboard, TierFigures};
pub use email::{RESENDS_PER_DAY, Resend};
pub use error::BookingError;
pub use shop::{PoolState, Shop};
pub use types::{CustomerName, Email, IdempotencyKey, InvalidInput, Quantity, Reference, TierId};

/// Who is buying: a person at the web form or a client of the JSON API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buyer {
    Web { name: CustomerName, email: Email },
    Api { user_id: String },
}

/// A valid booking request.
#[derive(Debug, Clone)]
pub struct BookingRequest {
    pub tier: TierId,
    pub quantity: Quantity,
    pub buyer: Buyer,
    pub idempotency_key: Option<IdempotencyKey>,
}
