//! What templates see: rows turned into display-ready values (money and counts formatted
//! once, here and in `money`). `admin` has the box office's rows; `outcome` the words for how
//! a booking ended.

pub mod admin;
pub mod calendar;
pub mod outcome;
pub mod queue;
pub mod tickets;

use crate::booking::{Booking, BookingStatus, IdempotencyKey, Refund, RefundStatus, Tier};
use crate::clock::format_millis;
use crate::money::{count, usd};

/// A tier as its card on the concert page shows it.
#[derive(Debug, Clone)]
pub struct TierView {
    pub id: String,
    pub name: String,
    pub price: String,
    pub price_cents: i64,
    pub capacity: i32,
    /// The capacity with thousands separators (`1,000`).
    pub capacity_text: String,
    pub available: i32,
    pub sold_out: bool,
    /// "Sold out", "Only 7 left" or "1,000 left".
    pub status_text: String,
    /// CSS class for the status: `sold-out`, `low` or `plenty`.
    pub status_class: &'static str,
    /// How full the "seats left" bar is, 0 to 100.
    pub bar_percent: u32,
    /// One line on what the tier means.
    pub about: &'static str,
}

impl TierView {
    pub fn new(tier: &Tier) -> Self {
        let available = tier.available;
        // "Low" means the last tenth of the tier, and never more than a handful for tiny tiers.
        let low = available <= (tier.capacity / 10).max(5);
        let (status_text, status_class) = if available <= 0 {
            ("Sold out".to_owned(), "sold-out")
        } else if low {
            (format!("Only {} left", count(available.into())), "low")
        } else {
            (format!("{} left", count(available.into())), "plenty")
        };
        let bar_percent = if tier.capacity <= 0 || available <= 0 {
            0
        } else {
            // At least a sliver while any seat is left, so "1 left" never looks empty.
            ((i64::from(available) * 100 / i64::from(tier.capacity)).clamp(1, 100)) as u32
        };
        Self {
            id: tier.id.clone(),
            name: tier.name.clone(),
            price: usd(tier.price_cents),
            price_cents: tier.price_cents,
            capacity: tier.capacity,
            capacity_text: count(tier.capacity.into()),
            available,
            sold_out: available <= 0,
            status_text,
            status_class,
            bar_percent,
            about: about(&tier.id),
        }
    }

    pub fn all(tiers: &[Tier]) -> Vec<Self> {
        tiers.iter().map(Self::new).collect()
    }
}

/// What each seeded tier means, in one line (SPEC §1 names the three tiers).
fn about(tier_id: &str) -> &'static str {
    match tier_id {
        "vip" => "The closest seats to the stage, for the hundred fans who want to be nearest.",
        "front-row" => "The rows right behind VIP: a clear, close view of the whole stage.",
        "general" => "Entry to the main hall: the most tickets at the lowest price.",
        _ => "",
    }
}

/// The booking form: the chosen tier (if any), what the visitor typed and what happened last.
#[derive(Debug, Clone)]
pub struct FormView {
    /// The chosen tier's id; empty when none is chosen (or the chosen one sold out).
    pub tier_id: String,
    pub tier_name: String,
    pub price_cents: i64,
    pub max_quantity: u32,
    pub quantity: String,
    pub name: String,
    pub email: String,
    pub idempotency_key: String,
    /// The field the error is about (`tier`, `quantity`, `name`, `email`), or empty.
    pub error_field: String,
    pub error: Option<String>,
    pub success: Option<BookingView>,
    /// Where the form posts: `/bookings`, or `/bookings?page=basic` from the no-JS page.
    pub action: String,
}

impl FormView {
    /// An empty form with a fresh idempotency key, `tier` chosen unless it is sold out.
    pub fn blank(tier: Option<&TierView>, max_quantity: u32, action: &str) -> Self {
        let tier = tier.filter(|t| !t.sold_out);
        Self {
            tier_id: tier.map(|t| t.id.clone()).unwrap_or_default(),
            tier_name: tier.map(|t| t.name.clone()).unwrap_or_default(),
            price_cents: tier.map_or(0, |t| t.price_cents),
            max_quantity,
            quantity: "1".into(),
            name: String::new(),
            email: String::new(),
            idempotency_key: IdempotencyKey::generate().as_str().to_owned(),
            error_field: String::new(),
            error: None,
            success: None,
            action: action.into(),
        }
    }

    pub fn is_invalid(&self, field: &str) -> bool {
        self.error_field == field
    }

    /// True when `tier` is the chosen one (its radio is checked).
    pub fn is_chosen(&self, tier: &TierView) -> bool {
        !self.tier_id.is_empty() && self.tier_id == tier.id
    }

    /// The order so far, when a tier is chosen and the quantity is one the form accepts:
    /// (quantity, total).
    fn order(&self) -> Option<(u32, String)> {
        let quantity: u32 = self.quantity.trim().parse().ok()?;
        if self.tier_id.is_empty() || !(1..=self.max_quantity).contains(&quantity) {
            return None;
        }
        Some((quantity, usd(self.price_cents * i64::from(quantity))))
    }

    /// The button: "Book 2 × VIP · $200.00", or "Book tickets" before a tier is chosen.
    /// `static/app.js` keeps it up to date as the choice changes.
    pub fn button_text(&self) -> String {
        match self.order() {
            Some((quantity, total)) => format!("Book {quantity} × {} · {total}", self.tier_name),
            None => "Book tickets".into(),
        }
    }

    /// The line above the button: the total and how it adds up.
    pub fn total_text(&self) -> String {
        match self.order() {
            Some((quantity, total)) => {
                format!("Total {total}: {quantity} × {} at {}", self.tier_name, usd(self.price_cents))
            }
            None => "Choose a tier to see the total.".into(),
        }
    }
}

/// A booking as the confirmation page and the in-place result show it.
#[derive(Debug, Clone)]
pub struct BookingView {
    pub reference: String,
    pub tier_name: String,
    pub quantity: i32,
    pub unit_price: String,
    pub total: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub confirmed: bool,
    pub transaction_id: String,
    pub customer_name: String,
    pub created_at: String,
    /// A sentence for bookings that did not end confirmed.
    pub explanation: Option<String>,
    /// Where the money went back, for a refunded booking.
    pub refund: Option<String>,
}

impl BookingView {
    pub fn new(booking: &Booking, tier_name: &str) -> Self {
        let status = booking.status;
        Self {
            reference: booking.reference.clone(),
            tier_name: tier_name.to_owned(),
            quantity: booking.quantity,
            unit_price: usd(booking.unit_price_cents),
            total: usd(booking.total_cents),
            status: status.as_str(),
            status_label: status.label(),
            confirmed: status == BookingStatus::Confirmed,
            transaction_id: booking.transaction_id.clone().unwrap_or_else(|| "none".into()),
            customer_name: booking.customer_name.clone(),
            created_at: format_millis(booking.created_at),
            explanation: outcome::explanation(booking),
            refund: None,
        }
    }

    /// The view with the booking's refund, if any.
    pub fn with_refund(mut self, refund: Option<&Refund>) -> Self {
        self.refund = refund.map(|r| match (r.status, &r.refund_id) {
            (RefundStatus::Done, Some(id)) => format!("{} refunded ({id})", usd(r.amount_cents)),
            _ => format!("{} to be refunded: on its way to your card", usd(r.amount_cents)),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(id: &str, price_cents: i64, capacity: i32, available: i32) -> TierView {
        TierView::new(&Tier {
            id: id.into(),
            name: id.to_uppercase(),
            price_cents,
            capacity,
            available,
            withheld: 0,
            sort_order: 0,
            version: 0,
        })
    }

    #[test]
    fn the_bar_shows_what_is_left_and_never_looks_empty_while_a_seat_is() {
        assert_eq!(tier("vip", 100_00, 100, 100).bar_percent, 100);
        assert_eq!(tier("vip", 100_00, 100, 37).bar_percent, 37);
        assert_eq!(tier("general", 10_00, 1000, 1).bar_percent, 1);
        assert_eq!(tier("vip", 100_00, 100, 0).bar_percent, 0);
        assert_eq!(tier("general", 10_00, 1000, 1000).capacity_text, "1,000");
    }

    #[test]
    fn the_button_names_the_order_and_its_total() {
        let vip = tier("vip", 100_00, 100, 50);
        let mut form = FormView::blank(Some(&vip), 10, "/bookings");
        assert_eq!(form.button_text(), "Book 1 × VIP · $100.00");
        form.quantity = "2".into();
        assert_eq!(form.button_text(), "Book 2 × VIP · $200.00");
        assert_eq!(form.total_text(), "Total $200.00: 2 × VIP at $100.00");
        form.quantity = "11".into();
        assert_eq!(form.button_text(), "Book tickets", "no total for a quantity the form refuses");
        assert_eq!(FormView::blank(None, 10, "/bookings").button_text(), "Book tickets");
    }

    #[test]
    fn a_sold_out_tier_is_never_the_chosen_one() {
        let gone = tier("vip", 100_00, 100, 0);
        let form = FormView::blank(Some(&gone), 10, "/bookings");
        assert!(!form.is_chosen(&gone));
        assert_eq!(form.tier_id, "");
    }
}
