//! Box-office operations: the figures the admin page shows, setting a tier's available
//! seats, and resetting tiers. Each change writes an audit entry in the same transaction.

use diesel::prelude::*;

use crate::db::models::{AuditEntry, BookingStatus, Tier};
use crate::db::schema::{bookings, ticket_tiers};
use crate::db::{DbConnection, DbError, write_transaction};

/// One tier's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierFigures {
    pub tier: Tier,
    pub confirmed: i64,
    pub held: i64,
    pub revenue_cents: i64,
}

/// Per-tier figures, highest price first.
pub fn figures(conn: &mut DbConnection) -> QueryResult<Vec<TierFigures>> {
    let seats = crate::db::models::Booking::seats_by_tier_and_status(conn)?;
    let count = |tier: &str, status: BookingStatus| {
        seats.iter().filter(|(t, s, _)| t == tier && s == status.as_str()).map(|(_, _, n)| *n).sum::<i64>()
    };
    Ok(Tier::all(conn)?
        .into_iter()
        .map(|tier| {
            let confirmed = count(&tier.id, BookingStatus::Confirmed);
            TierFigures {
                confirmed,
                held: count(&tier.id, BookingStatus::Held),
                revenue_cents: confirmed * tier.price_cents,
                tier,
            }
        })
        .collect())
}

/// Why an admin action was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("There is no such ticket tier.")]
    UnknownTier,
    #[error("Available seats must be a whole number.")]
    NotANumber,
    #[error("Available seats must be between 0 and the tier's capacity ({capacity}).")]
    OutOfRange { capacity: i32 },
    #[error(
        "Only {free} seats of {tier} are free (available plus withheld); the rest are held or sold, so it cannot offer {requested}."
    )]
    NotEnoughFree { tier: String, requested: i32, free: i32 },
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Storage(DbError::Query(e))
    }
}

/// Takes the tier's row lock (PostgreSQL; SQLite's write transaction already excludes other
/// writers) so the figures read next stay true until commit.
fn lock_tier(conn: &mut DbConnection, tier_id: &str) -> QueryResult<Option<Tier>> {
    diesel::update(ticket_tiers::table.find(tier_id))
        .set(ticket_tiers::available.eq(ticket_tiers::available))
        .execute(conn)?;
    Tier::find(conn, tier_id)
}

fn describe(tier: &Tier) -> String {
    format!("available={} withheld={}", tier.available, tier.withheld)
}

fn audit(
    conn: &mut DbConnection,
    actor: &str,
    action: &str,
    tier_id: Option<&str>,
    before: String,
    after: String,
    now: i64,
) -> QueryResult<AuditEntry> {
    let entry = AuditEntry {
        id: crate::settings::random_token(24),
        at: now,
        actor: actor.to_owned(),
        action: action.to_owned(),
        tier_id: tier_id.map(str::to_owned),
        before,
        after,
    };
    entry.insert(conn)?;
    Ok(entry)
}

/// Sets a tier's available seats to `target`; the difference moves to or from `withheld`,
/// so `available + held + confirmed + withheld = capacity` keeps holding. The change is one
/// conditional update, so bookings racing it can never drive a count below zero.
pub fn set_available(
    conn: &mut DbConnection,
    tier_id: &str,
    target: i32,
    actor: &str,
    now: i64,
) -> Result<AuditEntry, AdminError> {
    write_transaction(conn, |c| {
        let before = lock_tier(c, tier_id)?.ok_or(AdminError::UnknownTier)?;
        if !(0..=before.capacity).contains(&target) {
            return Err(AdminError::OutOfRange { capacity: before.capacity });
        }
        use ticket_tiers::{available, withheld};
        let changed = diesel::update(
            ticket_tiers::table.filter(ticket_tiers::id.eq(tier_id).and((available + withheld).ge(target))),
        )
        .set((available.eq(target), withheld.eq(withheld + available - target)))
        .execute(c)?;
        if changed == 0 {
            return Err(AdminError::NotEnoughFree {
                tier: before.name.clone(),
                requested: target,
                free: before.available + before.withheld,
            });
        }
        let after = Tier::find(c, tier_id)?.ok_or(AdminError::UnknownTier)?;
        Ok(audit(c, actor, "set available seats", Some(tier_id), describe(&before), describe(&after), now)?)
    })
}

/// Resets one tier (or all when `tier_id` is `None`): its held and confirmed bookings become
/// `voided`, `withheld = 0`, `available = capacity`. One audit entry per tier.
pub fn reset(
    conn: &mut DbConnection,
    tier_id: Option<&str>,
    actor: &str,
    now: i64,
) -> Result<Vec<AuditEntry>, AdminError> {
    write_transaction(conn, |c| {
        let ids: Vec<String> = match tier_id {
            Some(id) => vec![Tier::find(c, id)?.ok_or(AdminError::UnknownTier)?.id],
            None => Tier::all(c)?.into_iter().map(|t| t.id).collect(),
        };
        let mut entries = Vec::new();
        for id in ids {
            let before = lock_tier(c, &id)?.ok_or(AdminError::UnknownTier)?;
            let voided = diesel::update(bookings::table.filter(bookings::tier_id.eq(&id)).filter(
                bookings::status.eq_any([BookingStatus::Held.as_str(), BookingStatus::Confirmed.as_str()]),
            ))
            .set((bookings::status.eq(BookingStatus::Voided.as_str()), bookings::updated_at.eq(now)))
            .execute(c)?;
            diesel::update(ticket_tiers::table.find(&id))
                .set((ticket_tiers::available.eq(ticket_tiers::capacity), ticket_tiers::withheld.eq(0)))
                .execute(c)?;
            let after = Tier::find(c, &id)?.ok_or(AdminError::UnknownTier)?;
            entries.push(audit(
                c,
                actor,
                "reset tier",
                Some(&id),
                describe(&before),
                format!("{}; {voided} booking(s) voided", describe(&after)),
                now,
            )?);
        }
        Ok(entries)
    })
}
