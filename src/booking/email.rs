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
use crate::db::tickets::Ticket;
use crate::db::{DbConnection, DbError, write_transaction};
use crate::mail::{EmailFacts, Mail, compose};
use crate::metrics::EmailOutcome;

/// Emails claimed per round, sent in parallel.
const BATCH: i64 = 10;
/// "Send my tickets again" at most this often per booking.
pub const RESEND_EVERY: Duration = Duration::from_secs(60);

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
}

fn facts(c: &mut DbConnection, email: &OutboxEmail) -> Result<EmailFacts, DbError> {
    let booking = Booking::by_id(c, &email.booking_id)?.ok_or(diesel::result::Error::NotFound)?;
    let tier_name = Tier::find(c, &booking.tier_id)?.map_or_else(|| booking.tier_id.clone(), |t| t.name);
    let tickets = Ticket::for_booking(c, &booking.id)?;
    let refund_cents = Refund::for_booking(c, &booking.id)?.map(|r| r.amount_cents);
    Ok(EmailFacts { booking, tier_name, tickets, refund_cents })
}

impl Shop {
    /// Sends the emails that are due, a batch at a time; returns how many were claimed.
    pub async fn send_emails_due_now(&self) -> Result<usize, DbError> {
        let Some(mail) = self.mail.clone() else { return Ok(0) };
        let lease = mail.lease().as_millis() as i64;
        let claimed = self
            .with_conn(move |c| {
                let now = now_millis();
                write_transaction(c, |c| {
                    let emails = OutboxEmail::claim_due(c, now, now + lease, BATCH)?;
                    emails
                        .into_iter()
                        .map(|email| Ok((facts(c, &email)?, email)))
                        .collect::<Result<Vec<_>, DbError>>()
                })
            })
            .await?;
        let count = claimed.len();
        let sends: Vec<_> = claimed
            .into_iter()
            .map(|(facts, email)| {
                let (shop, mail) = (self.clone(), mail.clone());
                actix_web::rt::spawn(async move { shop.send_one(mail, email, facts).await })
            })
            .collect();
        for send in sends {
            match send.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::warn!("email sender: {}", crate::db::error::chain(&e)),
                Err(e) => log::error!("bug: an email task failed: {e}"),
            }
        }
        Ok(count)
    }

    async fn send_one(&self, mail: Arc<Mail>, email: OutboxEmail, facts: EmailFacts) -> Result<(), DbError> {
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
        let now = now_millis();
        match outcome {
            Ok(()) => {
                self.metrics.record_email(EmailOutcome::Sent);
                log::info!("{reference}: {} email sent to {} ({id})", email.kind, email.recipient);
                self.with_conn(move |c| OutboxEmail::mark_sent(c, &id, now).map_err(DbError::from)).await
            }
            Err(error) => {
                let max = self.mail.as_ref().map_or(1, |m| m.max_attempts);
                let base = self.mail.as_ref().map_or(Duration::from_secs(1), |m| m.retry_base);
                let retry_at =
                    (email.attempts < max).then(|| now + backoff(base, email.attempts).as_millis() as i64);
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
                self.with_conn(move |c| {
                    OutboxEmail::mark_failed(c, &id, &error, retry_at, now).map_err(DbError::from)
                })
                .await
            }
        }
    }

    /// Runs the sender until the process ends: every second, and at once when this process
    /// queues an email.
    pub async fn run_email_sender(self) {
        loop {
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
    /// reference and email address, at most once per [`RESEND_EVERY`].
    pub async fn resend_tickets(
        &self,
        reference: super::Reference,
        email: String,
    ) -> Result<Resend, DbError> {
        let result = self
            .with_conn(move |c| {
                write_transaction(c, |c| -> Result<Resend, DbError> {
                    let now = now_millis();
                    let Some(booking) = Booking::by_reference(c, reference.as_str())? else {
                        return Ok(Resend::NoSuchBooking);
                    };
                    if booking.status != BookingStatus::Confirmed
                        || !booking.customer_email.eq_ignore_ascii_case(email.trim())
                    {
                        return Ok(Resend::NoSuchBooking);
                    }
                    let last = OutboxEmail::for_booking(c, &booking.id)?
                        .into_iter()
                        .find(|e| e.kind == KIND_TICKETS)
                        .map_or(0, |e| e.created_at);
                    let wait = last + RESEND_EVERY.as_millis() as i64 - now;
                    if wait > 0 {
                        return Ok(Resend::TooSoon { seconds: (wait as u64).div_ceil(1000) });
                    }
                    OutboxEmail::queued(&booking.id, KIND_TICKETS, &booking.customer_email, now).insert(c)?;
                    Ok(Resend::Queued)
                })
            })
            .await?;
        if result == Resend::Queued {
            self.emails_due.notify_one();
        }
        Ok(result)
    }
}
