//! Integration tests through real HTTP against both backends, in one test binary (one link,
//! and the harness in `common` is used as a whole, so it needs no `allow(dead_code)`).

#[macro_use]
mod common;

mod abuse;
mod admin;
mod after_reset;
mod api;
mod backup;
mod booking;
mod burst;
mod cli;
mod connections;
mod db_errors;
mod deadlock;
mod deploy;
mod door;
mod drain;
mod edges;
mod email;
mod failover;
mod holds;
mod hostile;
mod layout;
mod metrics;
mod migrations;
mod outage;
mod pgbouncer;
mod pipeline;
mod proxy;
mod queue;
mod queue_admin;
mod queue_cookies;
mod refunds;
mod resend;
mod rolling_restart;
mod rush;
mod security;
mod soak_checker;
mod staff;
mod startup;
mod tickets;
