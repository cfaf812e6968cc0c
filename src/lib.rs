//! TechKraft Concert Tickets: a concert ticket shop that never oversells.
//!
//! `startup` builds the server; `booking` is the domain (reserve → pay → confirm); `db` the
//! storage on SQLite or PostgreSQL; `routes` the HTTP handlers; `views` and `templates/` what
//! people see.

// Money literals are written dollars_cents (100_00 is $100.00).
#![allow(clippy::inconsistent_digit_grouping)]

pub mod assets;
pub mod backup;
pub mod booking;
pub mod cli;
pub mod client_addr;
pub mod clock;
pub mod connections;
pub mod db;
pub mod drain;
pub mod error;
pub mod event;
pub mod listener;
pub mod log_once;
pub mod mail;
pub mod metrics;
pub mod money;
pub mod payment;
pub mod qr;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod settings;
pub mod shared_secrets;
pub mod startup;
pub mod views;
