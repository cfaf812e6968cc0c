//! The email sender, in every process: the sweeper's shape. Claim due emails in one
//! transaction with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), compose and send with
//! no transaction open, record the result in another. A crash after the send and before the
//! record sends the email again when the lease runs out (never loses it); the stable
//! `Message-ID` lets mail clients fold the repeat. Failures retry with exponential backoff up
//! to `EMAIL_MAX_ATTEMPTS`, then the email is `failed` and the dashboard offers "send again".

use std::sync::Arc;
use std::time::Duration;

use super::Shop;
use super::refunds::backoff;
use crate::clock::now_millis;
use crate::db::models::{Booking, BookingStatus, Refund, Tier};
use crate::db::outbox::{KIND_TICKETS, OutboxEmail};
use crate::db::resends::{DAY_MS, TicketResend};
use crate::db::tickets::Ticket;
use crate::db::{DbConnection, DbError, write_transaction};
use crate::mail::{EmailFacts, Mail, compose};
use crate::metrics::EmailOutcome;

/// Emails claimed per round, sent in parallel.
const BATCH: i64 = 10;
/// The longest the sender waits in a row for the booking threads to be idle.
const DEFER_AT_MOST: Duration = Duration::from_secs(3);
/// "Send my tickets again" at most this often per booking.
pub const RESEND_EVERY: Duration = Duration::from_secs(60);
/// "Send my tickets again" at most this many times in 24 hours per booking.
pub const RESENDS_PER_DAY: i32 = 5;

/// What became of one send of a round, recorded with the round's others in one transaction.
enum Outcome {
    Sent(String),
    /// Due again at `retry_at`, or given up when `None`.
    Failed {
        id: String,
        error: String,
        retry_at: Option<i64>,
    },
}

/// What "send my tickets again" did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend {
    Queued,
    /// No confirmed booking with this reference and email address.
    NoSuchBooking,
    /// Asked too recently; try again in this many seconds.
    TooSoon {
        seconds: u64,
    },
    /// Sent again [`RESENDS_PER_DAY`] times within 24 hours; the next may go in this many
    /// seconds.
    DailyLimit {
        seconds: u64,
    },
}

/// What the emails of one round need, read in the claim's transaction with four statements
/// for the whole round (not four per email). An email whose booking is gone is a fault of
/// the round, as a missing row always was.
fn facts_all(c: &mut DbConnection, emails: &[OutboxEmail]) -> Result<Vec<EmailFacts>, DbError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = emails.iter().map(|e| e.booking_id.as_str()).collect();
    let bookings = Booking::by_ids(c, &ids)?;
    let tiers = Tier::all(c)?;
    let tickets = Ticket::for_bookings(c, &ids)?;
    let refunds = Refund::for_bookings(c, &ids)?;
    emails
        .iter()
        .map(|email| {
            let booking = bookings
                .iter()
                .find(|b| b.id == email.booking_id)
                .cloned()
                .ok_or(diesel::result::Error::NotFound)?;
            let tier_name = tiers
                .iter()
                .find(|t| t.id == booking.tier_id)
                .map_or_else(|| booking.tier_id.clone(), |t| t.name.clone());
            let tickets = tickets.iter().filter(|t| t.booking_id == booking.id).cloned().collect();
            let refund_cents = refunds.iter().find(|r| r.booking_id == booking.id).map(|r| r.amount_cents);
            Ok(EmailFacts { booking, tier_name, tickets, refund_cents })
        })
        .collect()
}

impl Shop {
    /// Sends the emails that are due, a batch at a time; returns how many were claimed. The
    /// claim is one transaction and the round's outcomes another, whatever the batch's size:
    /// a burst's emails cost the database two commits per ten, not eleven.
    pub async fn send_emails_due_now(&self) -> Result<usize, DbError> {
        let Some(mail) = self.mail.clone() else { return Ok(0) };
        let lease = mail.lease().as_millis() as i64;
        let claimed = self
            .with_conn(move |c| {
                let now = now_millis();
                write_transaction(c, |c| {
                    let emails = OutboxEmail::claim_due(c, now, now + lease, BATCH)?;
                    let facts = facts_all(c, &emails)?;
                    Ok::<_, DbError>(emails.into_iter().zip(facts).collect::<Vec<_>>())
                })
            })
            .await?;
        let count = claimed.len();
        if count == 0 {
            return Ok(0);
        }
        let sends: Vec<_> = claimed
            .into_iter()
            .map(|(email, facts)| {
                let (shop, mail) = (self.clone(), mail.clone());
                actix_web::rt::spawn(async move { shop.send_one(mail, email, facts).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for send in sends {
            match send.await {
                Ok(outcome) => outcomes.push(outcome),
                // The email stays claimed; its lease runs out and it is sent again.
                Err(e) => log::error!("bug: an email task failed: {e}"),
            }
        }
        let now = now_millis();
        self.with_conn(move |c| {
            write_transaction(c, |c| {
                let sent: Vec<String> = outcomes
                    .iter()
                    .filter_map(|o| match o {
                        Outcome::Sent(id) => Some(id.clone()),
                        Outcome::Failed { .. } => None,
                    })
                    .collect();
                if !sent.is_empty() {
                    OutboxEmail::mark_sent(c, &sent, now)?;
                }
                for outcome in &outcomes {
                    if let Outcome::Failed { id, error, retry_at } = outcome {
                        OutboxEmail::mark_failed(c, id, error, *retry_at, now)?;
                    }
                }
                Ok::<_, DbError>(())
            })
        })
        .await?;
        Ok(count)
    }

    /// Composes and delivers one email (no transaction open), with its metric and log line.
    async fn send_one(&self, mail: Arc<Mail>, email: OutboxEmail, facts: EmailFacts) -> Outcome {
        let id = email.id.clone();
        let reference = facts.booking.reference.clone();
        let outcome = {
            let email = email.clone();
            tokio::task::spawn_blocking(move || {
                compose(&mail, &email, &facts).and_then(|message| mail.deliver(&email.id, &message))
            })
            .await
            .unwrap_or_else(|e| Err(format!("the send panicked: {e}")))
        };
        match outcome {
            Ok(()) => {
                self.metrics.record_email(EmailOutcome::Sent);
                log::info!("{reference}: {} email sent to {} ({id})", email.kind, email.recipient);
                Outcome::Sent(id)
            }
            Err(error) => {
                let max = self.mail.as_ref().map_or(1, |m| m.max_attempts);
                let base = self.mail.as_ref().map_or(Duration::from_secs(1), |m| m.retry_base);
                let retry_at = (email.attempts < max)
                    .then(|| now_millis() + backoff(base, email.attempts).as_millis() as i64);
                self.metrics.record_email(if retry_at.is_some() {
                    EmailOutcome::Failed
                } else {
                    EmailOutcome::GivenUp
                });
                match retry_at {
                    Some(_) => log::warn!(
                        "{reference}: sending the {} email failed (attempt {} of {max}): {error}",
                        email.kind,
                        email.attempts
                    ),
                    None => log::error!(
                        "{reference}: the {} email to {} failed {max} times; given up (send it again from /admin): {error}",
                        email.kind,
                        email.recipient
                    ),
                }
                Outcome::Failed { id, error, retry_at }
            }
        }
    }

    /// Runs the sender until the process ends: every second, and at once when this process
    /// queues an email.
    pub async fn run_email_sender(self) {
        let mut deferred_since: Option<std::time::Instant> = None;
        loop {
            // In a burst the booking threads need the CPU more than the mail does: wait while
            // the desks are busy, but never more than DEFER_AT_MOST in a row, so the emails of
            // a burst still leave within a few seconds of it.
            if self.desks.busy() {
                let since = *deferred_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < DEFER_AT_MOST {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
            deferred_since = None;
            match self.send_emails_due_now().await {
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => log::warn!("email sender: {}", crate::db::error::chain(&e)),
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.emails_due.notified()).await;
        }
    }

    /// Where links point (`PUBLIC_BASE_URL`, else the bound address).
    pub fn public_base_url(&self) -> String {
        self.mail.as_ref().map(|m| m.base_url.clone()).unwrap_or_default()
    }

    /// Emails given up on, newest first (for the dashboard).
    pub async fn failed_emails(&self) -> Result<Vec<OutboxEmail>, DbError> {
        self.with_conn(|c| OutboxEmail::failed(c, 50).map_err(DbError::from)).await
    }

    /// Queues a failed email again ("send again"); false if it was not failed.
    pub async fn retry_email(&self, id: String) -> Result<bool, DbError> {
        let queued =
            self.with_conn(move |c| OutboxEmail::retry(c, &id, now_millis()).map_err(DbError::from)).await?;
        self.emails_due.notify_one();
        Ok(queued)
    }

    /// "Send my tickets again": queues the tickets email of the confirmed booking with this
    /// reference and email address, at most once per `RESEND_EVERY` (counting the
    /// confirmation itself) and [`RESENDS_PER_DAY`] times a day, for every process at once:
    /// one conditional update of the booking's `ticket_resends` row decides.
    pub async fn resend_tickets(
        &self,
        reference: super::Reference,
        email: String,
    ) -> Result<Resend, DbError> {
        let result = self
            .with_conn(move |c| {
                let Some(booking) = Booking::by_reference(c, reference.as_str())? else {
                    return Ok(Resend::NoSuchBooking);
                };
                if booking.status != BookingStatus::Confirmed
                    || !booking.customer_email.eq_ignore_ascii_case(email.trim())
                {
                    return Ok(Resend::NoSuchBooking);
                }
                TicketResend::ensure(c, &booking.id)?;
                write_transaction(c, |c| -> Result<Resend, DbError> {
                    let now = now_millis();
                    let every = RESEND_EVERY.as_millis() as i64;
                    if TicketResend::claim(c, &booking.id, now, every, RESENDS_PER_DAY)? {
                        OutboxEmail::queued(&booking.id, KIND_TICKETS, &booking.customer_email, now)
                            .insert(c)?;
                        return Ok(Resend::Queued);
                    }
                    why_not(c, &booking.id, now)
                })
            })
            .await?;
        if result == Resend::Queued {
            self.emails_due.notify_one();
        }
        Ok(result)
    }
}

/// Why a resend was not taken: the window's budget is spent, or the last tickets email is too
/// recent; with the seconds until the next one may go.
fn why_not(c: &mut DbConnection, booking_id: &str, now: i64) -> Result<Resend, DbError> {
    let row = TicketResend::find(c, booking_id)?;
    let seconds = |at: i64| ((at - now).max(1) as u64).div_ceil(1000);
    if let Some(row) = &row
        && row.day_started > now - DAY_MS
        && row.day_count >= RESENDS_PER_DAY
    {
        return Ok(Resend::DailyLimit { seconds: seconds(row.day_started + DAY_MS) });
    }
    let last_email = OutboxEmail::for_booking(c, booking_id)?
        .into_iter()
        .filter(|e| e.kind == KIND_TICKETS)
        .map(|e| e.created_at)
        .max()
        .unwrap_or(0);
    let last = row.map_or(0, |r| r.last_at).max(last_email);
    Ok(Resend::TooSoon { seconds: seconds(last + RESEND_EVERY.as_millis() as i64) })
}
