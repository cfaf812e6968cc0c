//! The booking domain: reserve → pay → confirm (or release), the sweeper for holds that
//! outlive their time, idempotent replays, and the box office. Nothing here knows about HTTP,
//! and nothing here writes SQL: queries live in `crate::db`.
//!
//! - `types`: input values that can only hold what the shop accepts;
//! - `steps`: the database steps, plain functions on a connection with the time passed in;
//! - `shop`: [`Shop`], which strings the steps together around the payment gateway, and is the
//!   one door the HTTP layer uses;
//! - `admin`: the box-office operations and their figures.

pub mod admin;
pub mod availability;
mod batcher;
mod confirmer;
mod email;
mod error;
mod office;
pub mod queue;
mod refunds;
mod replay;
pub mod sessions;
mod shop;
pub mod steps;
mod sweeper;
pub mod tickets;
pub mod types;

pub use crate::db::models::{
    AdminSessionRow, AuditEntry, Booking, BookingStatus, Refund, RefundStatus, Tier,
};
pub use crate::db::outbox::OutboxEmail;
pub use crate::db::tickets::Ticket;
pub use admin::{AdminError, Dashboard, TierFigures};
pub use email::Resend;
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
