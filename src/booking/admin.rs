//! Box-office operations: the figures the admin page shows, setting a tier's available
//! seats, and resetting tiers. Each change writes an audit entry in the same transaction.

use diesel::QueryResult;

use crate::db::charge_checks::ChargeCheck;
use crate::db::models::{AuditEntry, Booking, BookingStatus, Refund, RefundStatus, Tier};
use crate::db::tiers::Seats;
use crate::db::{DbConnection, DbError, write_transaction};

/// One tier's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierFigures {
    pub tier: Tier,
    /// Seats sold.
    pub confirmed: i64,
    pub held: i64,
    /// Paid bookings (a reset refunds them), and what they paid.
    pub paid_bookings: i64,
    pub revenue_cents: i64,
}

/// Refunds by state: how many, and how much.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefundFigures {
    /// Owed and not yet tried, or waiting for a retry that has not failed yet.
    pub owed: (i64, i64),
    /// Owed, and the gateway has refused at least once.
    pub failing: (i64, i64),
    pub done: (i64, i64),
}

impl RefundFigures {
    fn of(refunds: &[Refund]) -> Self {
        let mut figures = Self::default();
        for r in refunds {
            let slot = match (r.status, &r.last_error) {
                (RefundStatus::Done, _) => &mut figures.done,
                (RefundStatus::Owed, Some(_)) => &mut figures.failing,
                (RefundStatus::Owed, None) => &mut figures.owed,
            };
            slot.0 += 1;
            slot.1 += r.amount_cents;
        }
        figures
    }
}

/// What the admin dashboard shows.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub figures: Vec<TierFigures>,
    /// The figures of all tiers added up.
    pub totals: TierFigures,
    pub refunds: RefundFigures,
    pub recent: Vec<Booking>,
    pub audit: Vec<AuditEntry>,
}

impl Dashboard {
    pub fn tier_name(&self, id: &str) -> String {
        self.figures
            .iter()
            .find(|f| f.tier.id == id)
            .map(|f| f.tier.name.clone())
            .unwrap_or_else(|| id.to_owned())
    }
}

/// Per-tier figures, highest price first.
pub fn figures(conn: &mut DbConnection) -> QueryResult<Vec<TierFigures>> {
    let seats = Booking::seats_by_tier_and_status(conn)?;
    let paid = Booking::paid_by_tier(conn)?;
    let count = |tier: &str, status: BookingStatus| {
        seats.iter().filter(|(t, s, _)| t == tier && *s == status).map(|(_, _, n)| *n).sum::<i64>()
    };
    Ok(Tier::all(conn)?
        .into_iter()
        .map(|tier| {
            let (paid_bookings, revenue_cents) = paid
                .iter()
                .find(|(t, _, _)| *t == tier.id)
                .map(|(_, n, cents)| (*n, *cents))
                .unwrap_or((0, 0));
            TierFigures {
                confirmed: count(&tier.id, BookingStatus::Confirmed),
                held: count(&tier.id, BookingStatus::Held),
                paid_bookings,
                revenue_cents,
                tier,
            }
        })
        .collect())
}

/// The figures of every tier added up, as one row named "All tiers".
pub fn totals(figures: &[TierFigures]) -> TierFigures {
    let sum = |g: &dyn Fn(&TierFigures) -> i64| figures.iter().map(g).sum::<i64>();
    TierFigures {
        tier: Tier {
            id: "total".into(),
            name: "All tiers".into(),
            price_cents: 0,
            capacity: sum(&|f| f.tier.capacity.into()) as i32,
            available: sum(&|f| f.tier.available.into()) as i32,
            withheld: sum(&|f| f.tier.withheld.into()) as i32,
            sort_order: 0,
            version: 0,
        },
        confirmed: sum(&|f| f.confirmed),
        held: sum(&|f| f.held),
        paid_bookings: sum(&|f| f.paid_bookings),
        revenue_cents: sum(&|f| f.revenue_cents),
    }
}

/// Everything the dashboard shows, read in one go.
pub fn dashboard(conn: &mut DbConnection) -> QueryResult<Dashboard> {
    let figures = figures(conn)?;
    Ok(Dashboard {
        totals: totals(&figures),
        figures,
        refunds: RefundFigures::of(&Refund::all(conn)?),
        recent: Booking::recent(conn, 20)?,
        audit: AuditEntry::recent(conn, 50)?,
    })
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
    #[error("storage")]
    Storage(#[from] DbError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Storage(DbError::Query(e))
    }
}

fn describe(available: i32, withheld: i32) -> String {
    format!("available={available} withheld={withheld}")
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
/// conditional update under the tier's row lock, so bookings racing it can never drive a count
/// below zero. Answers the audit entry and the tier's seats after.
pub fn set_available(
    conn: &mut DbConnection,
    tier_id: &str,
    target: i32,
    actor: &str,
    now: i64,
) -> Result<(AuditEntry, Seats), AdminError> {
    write_transaction(conn, |c| {
        let before = Tier::lock(c, tier_id)?.ok_or(AdminError::UnknownTier)?;
        if !(0..=before.capacity).contains(&target) {
            return Err(AdminError::OutOfRange { capacity: before.capacity });
        }
        let Some(after) = Tier::set_available(c, tier_id, target)? else {
            return Err(AdminError::NotEnoughFree {
                tier: before.name.clone(),
                requested: target,
                free: before.available + before.withheld,
            });
        };
        let (was, is) =
            (describe(before.available, before.withheld), describe(after.available, after.withheld));
        Ok((audit(c, actor, "set available seats", Some(tier_id), was, is, now)?, after))
    })
}

/// Resets one tier (or all when `tier_id` is `None`): its paid (confirmed) bookings become
/// `refunded` with the refund owed recorded, its held ones `voided`; `withheld = 0`,
/// `available = capacity`. One audit entry per tier; answers them and each tier's seats after.
pub fn reset(
    conn: &mut DbConnection,
    tier_id: Option<&str>,
    actor: &str,
    now: i64,
) -> Result<(Vec<AuditEntry>, Vec<Seats>), AdminError> {
    write_transaction(conn, |c| {
        let mut ids: Vec<String> = match tier_id {
            Some(id) => vec![Tier::find(c, id)?.ok_or(AdminError::UnknownTier)?.id],
            None => Tier::all(c)?.into_iter().map(|t| t.id).collect(),
        };
        // Lock order: tiers in id order, each before its bookings (as the sweeper does).
        ids.sort();
        let mut entries = Vec::new();
        let mut seats = Vec::new();
        for id in ids {
            let before = Tier::lock(c, &id)?.ok_or(AdminError::UnknownTier)?;
            // Paid bookings are refunded: the refund owed is written here, with the change.
            let crate::db::bookings::TakenBack { refunded: paid, voided } =
                Booking::take_back_active(c, &id, now)?;
            // A voided hold's payment may be under way: the reconciliation asks the gateway.
            ChargeCheck::owed(c, &voided)?;
            let voided = voided.len();
            let mut refunded = 0;
            let mut refunded_cents = 0;
            for paid in &paid {
                let Some(charge) = paid.transaction_id.as_deref() else { continue };
                Refund::owed(&paid.id, charge, paid.total_cents, now).insert(c)?;
                super::tickets::queue_refund_notice(c, paid, now)?;
                refunded += 1;
                refunded_cents += paid.total_cents;
            }
            let after = Tier::restore_capacity(c, &id)?;
            entries.push(audit(
                c,
                actor,
                "reset tier",
                Some(&id),
                describe(before.available, before.withheld),
                format!(
                    "{}; {refunded} paid booking(s) refunded ({}), {voided} other booking(s) voided",
                    describe(after.available, after.withheld),
                    crate::money::usd(refunded_cents)
                ),
                now,
            )?);
            seats.push(after);
        }
        Ok((entries, seats))
    })
}
