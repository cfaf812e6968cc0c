//! The messages: the confirmation with one QR code per ticket (PNG: mail clients do not show
//! SVG), and the refund notice. Plain text and HTML alternatives; a stable `Message-ID` (the
//! outbox row's id), so a repeat after a crash folds into the first in mail clients.

use askama::Template;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::Mail;
use crate::db::models::Booking;
use crate::db::outbox::{KIND_REFUND, OutboxEmail};
use crate::db::tickets::Ticket;
use crate::money::usd;

/// What an email tells of, read when it is sent.
#[derive(Debug, Clone)]
pub struct EmailFacts {
    pub booking: Booking,
    pub tier_name: String,
    pub tickets: Vec<Ticket>,
    /// The refund's amount, for a refund notice.
    pub refund_cents: Option<i64>,
}

/// Everything both bodies show.
struct Body<'a> {
    name: &'a str,
    reference: &'a str,
    tier: &'a str,
    quantity: i32,
    total: String,
    refund: String,
    event: &'a str,
    date: String,
    time: String,
    venue: &'a str,
    link: String,
    /// (content id, code) per ticket.
    tickets: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "email/tickets.txt")]
struct TicketsText<'a> {
    b: &'a Body<'a>,
}

#[derive(Template)]
#[template(path = "email/tickets.html")]
struct TicketsHtml<'a> {
    b: &'a Body<'a>,
}

#[derive(Template)]
#[template(path = "email/refund.txt")]
struct RefundText<'a> {
    b: &'a Body<'a>,
}

/// The message for an outbox row.
pub fn compose(mail: &Mail, email: &OutboxEmail, facts: &EmailFacts) -> Result<Message, String> {
    let booking = &facts.booking;
    let body = Body {
        name: &booking.customer_name,
        reference: &booking.reference,
        tier: &facts.tier_name,
        quantity: booking.quantity,
        total: usd(booking.total_cents),
        refund: usd(facts.refund_cents.unwrap_or(booking.total_cents)),
        event: &mail.event.name,
        date: mail.event.date_text(),
        time: format!("{} ({})", mail.event.time_text(), mail.event.offset_text()),
        venue: &mail.event.venue,
        link: format!("{}/bookings/{}", mail.base_url, booking.reference),
        tickets: facts
            .tickets
            .iter()
            .map(|t| (format!("ticket-{}@{}", t.seat, mail.host()), t.code.clone()))
            .collect(),
    };
    let from: Mailbox = mail.from.parse().map_err(|e| format!("EMAIL_FROM: {e}"))?;
    let to: Mailbox = email.recipient.parse().map_err(|e| format!("recipient {:?}: {e}", email.recipient))?;
    let builder = Message::builder()
        .from(from)
        .to(to)
        .message_id(Some(format!("<{}@{}>", email.id, mail.host())))
        .date_now();
    let render = |r: Result<String, askama::Error>| r.map_err(|e| format!("template: {e}"));
    if email.kind == KIND_REFUND {
        return builder
            .subject(format!("Refund for booking {}: {}", body.reference, body.refund))
            .singlepart(SinglePart::plain(render(RefundText { b: &body }.render())?))
            .map_err(|e| e.to_string());
    }
    let text = render(TicketsText { b: &body }.render())?;
    let html = render(TicketsHtml { b: &body }.render())?;
    // HTML as base64, so anyone (and the screenshot test) can read it out of the file plainly.
    let mut related = MultiPart::related().singlepart(
        SinglePart::builder()
            .header(ContentType::TEXT_HTML)
            .header(ContentTransferEncoding::Base64)
            .body(html),
    );
    let png = ContentType::parse("image/png").map_err(|e| e.to_string())?;
    for ((content_id, code), ticket) in body.tickets.iter().zip(&facts.tickets) {
        let image = crate::qr::png(code)?;
        let name = format!("ticket-{}-{}.png", ticket.seat, booking.reference);
        related = related
            .singlepart(Attachment::new_inline_with_name(content_id.clone(), name).body(image, png.clone()));
    }
    builder
        .subject(format!("Your tickets for {}: {}", body.event, body.reference))
        .multipart(MultiPart::alternative().singlepart(SinglePart::plain(text)).multipart(related))
        .map_err(|e| e.to_string())
}
