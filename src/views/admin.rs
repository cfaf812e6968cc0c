//! What the admin templates see: figures, bookings and audit entries turned into display-ready
//! rows (money and counts formatted, bar geometry computed), and the emails the sender gave up on.

use crate::booking::{Dashboard, TierFigures};
use crate::clock::format_millis;
use crate::money::{count, usd};

/// One segment of a tier's bar, in percent of capacity.
#[derive(Debug, Clone)]
pub struct Segment {
    pub class: &'static str,
    pub x: String,
    pub width: String,
}

/// A tier's row of figures, with its bar.
#[derive(Debug, Clone)]
pub struct TierRow {
    pub id: String,
    pub name: String,
    pub capacity: String,
    pub confirmed: String,
    pub held: String,
    pub withheld: String,
    pub available: String,
    pub available_raw: i32,
    pub revenue: String,
    pub segments: Vec<Segment>,
    pub summary: String,
}

impl TierRow {
    pub fn new(f: &TierFigures) -> Self {
        let t = &f.tier;
        let capacity = f64::from(t.capacity.max(1));
        let mut x = 0.0;
        let segments = [
            ("sold", f.confirmed as f64),
            ("held", f.held as f64),
            ("withheld", f64::from(t.withheld)),
            ("available", f64::from(t.available)),
        ]
        .into_iter()
        .map(|(class, n)| {
            let width = 100.0 * n / capacity;
            let segment = Segment { class, x: format!("{x:.2}"), width: format!("{width:.2}") };
            x += width;
            segment
        })
        .collect();
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            capacity: count(t.capacity.into()),
            confirmed: count(f.confirmed),
            held: count(f.held),
            withheld: count(t.withheld.into()),
            available: count(t.available.into()),
            available_raw: t.available,
            revenue: usd(f.revenue_cents),
            segments,
            summary: format!(
                "{}: {} sold, {} held, {} withheld, {} available of {}",
                t.name, f.confirmed, f.held, t.withheld, t.available, t.capacity
            ),
        }
    }
}

/// A recent booking's row.
pub struct RecentRow {
    pub reference: String,
    pub created_at: String,
    pub tier: String,
    pub quantity: i32,
    pub total: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub buyer: String,
}

/// An audit entry's row.
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub tier: String,
    pub before: String,
    pub after: String,
}

/// One line of the refunds panel.
pub struct RefundRow {
    pub state: &'static str,
    pub count: String,
    pub amount: String,
}

/// The dashboard's rows.
pub struct DashboardView {
    pub tiers: Vec<TierRow>,
    pub totals: TierRow,
    pub refunds: Vec<RefundRow>,
    pub recent: Vec<RecentRow>,
    pub audit: Vec<AuditRow>,
}

impl DashboardView {
    pub fn new(d: &Dashboard) -> Self {
        Self {
            tiers: d.figures.iter().map(TierRow::new).collect(),
            totals: TierRow::new(&d.totals),
            refunds: [
                ("Owed", d.refunds.owed),
                ("Failing, retrying", d.refunds.failing),
                ("Paid", d.refunds.done),
            ]
            .into_iter()
            .map(|(state, (n, cents))| RefundRow { state, count: count(n), amount: usd(cents) })
            .collect(),
            recent: d
                .recent
                .iter()
                .map(|b| RecentRow {
                    reference: b.reference.clone(),
                    created_at: format_millis(b.created_at),
                    tier: d.tier_name(&b.tier_id),
                    quantity: b.quantity,
                    total: usd(b.total_cents),
                    status: b.status.as_str(),
                    status_label: b.status.label(),
                    buyer: b.user_id.clone().unwrap_or_else(|| b.customer_email.clone()),
                })
                .collect(),
            audit: d
                .audit
                .iter()
                .map(|a| AuditRow {
                    at: format_millis(a.at),
                    actor: a.actor.clone(),
                    action: a.action.clone(),
                    tier: a.tier_id.as_deref().map(|id| d.tier_name(id)).unwrap_or_else(|| "all".into()),
                    before: a.before.clone(),
                    after: a.after.clone(),
                })
                .collect(),
        }
    }
}

/// An email the sender gave up on, for the dashboard.
#[derive(Debug, Clone)]
pub struct FailedEmailRow {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub attempts: i32,
    pub error: String,
    pub at: String,
}

impl FailedEmailRow {
    pub fn new(email: &crate::booking::OutboxEmail) -> Self {
        Self {
            id: email.id.clone(),
            kind: email.kind.clone(),
            recipient: email.recipient.clone(),
            attempts: email.attempts,
            error: email.last_error.clone().unwrap_or_default(),
            at: format_millis(email.updated_at),
        }
    }
}
