//! Integration tests through real HTTP against both backends, in one test binary (one link,
//! and the harness in `common` is used as a whole, so it needs no `allow(dead_code)`).

#[macro_use]
mod common;

mod abuse;
mod admin;
mod api;
mod booking;
mod burst;
mod connections;
mod db_errors;
mod deadlock;
mod door;
mod drain;
mod email;
mod failover;
mod holds;
mod hostile;
mod migrations;
mod outage;
mod pgbouncer;
mod queue;
mod queue_admin;
mod queue_cookies;
mod refunds;
mod rolling_restart;
mod rush;
mod security;
mod startup;
mod tickets;
