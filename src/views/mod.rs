//! What templates see: rows turned into display-ready values (money and counts formatted
//! once, here and in `money`). `admin` has the box office's rows; `outcome` the words for how
//! a booking ended.

pub mod admin;
pub mod outcome;

use crate::booking::{Booking, BookingStatus, IdempotencyKey, Refund, RefundStatus, Tier};
use crate::clock::format_millis;
use crate::money::{count, usd};

/// A tier as the availability board shows it.
#[derive(Debug, Clone)]
pub struct TierView {
    pub id: String,
    pub name: String,
    pub price: String,
    pub capacity: i32,
    pub available: i32,
    pub sold_out: bool,
    /// "Sold out", "Only 7 left" or "1,000 left".
    pub status_text: String,
    /// CSS class for the status: `sold-out`, `low` or `plenty`.
    pub status_class: &'static str,
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
        Self {
            id: tier.id.clone(),
            name: tier.name.clone(),
            price: usd(tier.price_cents),
            capacity: tier.capacity,
            available,
            sold_out: available <= 0,
            status_text,
            status_class,
        }
    }

    pub fn all(tiers: &[Tier]) -> Vec<Self> {
        tiers.iter().map(Self::new).collect()
    }
}

/// One tier's booking form, with what the visitor typed and what happened last.
#[derive(Debug, Clone)]
pub struct FormView {
    pub tier_id: String,
    pub tier_name: String,
    pub price: String,
    pub sold_out: bool,
    pub max_quantity: u32,
    pub quantity: String,
    pub name: String,
    pub email: String,
    pub idempotency_key: String,
    /// The field the error is about (`quantity`, `name`, `email`), or empty.
    pub error_field: String,
    pub error: Option<String>,
    pub success: Option<BookingView>,
    /// Where the form posts: `/bookings`, or `/bookings?page=basic` from the no-JS page.
    pub action: String,
}

impl FormView {
    /// An empty form with a fresh idempotency key.
    pub fn blank(tier: &TierView, max_quantity: u32, action: &str) -> Self {
        Self {
            tier_id: tier.id.clone(),
            tier_name: tier.name.clone(),
            price: tier.price.clone(),
            sold_out: tier.sold_out,
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
