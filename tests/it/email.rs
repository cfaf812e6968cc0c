//! Email through the outbox, against a real SMTP server (aiosmtpd): the confirmation arrives
//! with one QR code per ticket that decodes to the ticket's code; mail that is down at booking
//! time arrives when it comes back; an email committed but not sent, or in the middle of being
//! sent, when the server is killed is sent after the restart; one that keeps failing is shown on the dashboard and sent again;
//! a round of several emails sends each with its own tickets and records every outcome.

use std::time::Duration;

use diesel::prelude::*;
use techkraft_tickets::booking::OutboxEmail;
use techkraft_tickets::db::schema::email_outbox;

use crate::common::{
    Backend, ServerProcess, SmtpServer, TestApp, decode_qr, eventually, form, free_port, fresh_database,
    png_parts, spawn_app,
};

/// The emails of the booking with `reference`.
fn outbox(app: &TestApp, reference: &str) -> Vec<OutboxEmail> {
    let booking = app.bookings().into_iter().find(|b| b.reference == reference).expect("booking");
    OutboxEmail::for_booking(&mut app.conn(), &booking.id).expect("query")
}

async fn a_confirmation_arrives_with_one_qr_code_per_ticket(backend: Backend) {
    let smtp = SmtpServer::start();
    let app =
        spawn_app(backend, &[("SMTP_URL", &smtp.url()), ("PUBLIC_BASE_URL", "https://tickets.example.com")])
            .await;
    let reference = app.book_ok("vip", "3").await;
    eventually("the email to arrive", Duration::from_secs(20), || !smtp.received().is_empty()).await;
    let message = smtp.received().remove(0);
    assert!(message.contains("To: ada@example.com"), "{message:.600}");
    assert!(
        message.contains(&format!("Subject: Your tickets for TechKraft Live: {reference}")),
        "{message:.600}"
    );
    assert!(message.contains(&format!("https://tickets.example.com/bookings/{reference}")));
    let email = outbox(&app, &reference).remove(0);
    assert!(message.contains(&format!("Message-ID: <{}@tickets.example.com>", email.id)), "{message:.600}");
    let mut decoded: Vec<String> = png_parts(&message).iter().map(|png| decode_qr(png)).collect();
    let mut codes = app.ticket_codes(&reference).await;
    decoded.sort();
    codes.sort();
    assert_eq!(codes.len(), 3);
    assert_eq!(decoded, codes, "one QR image per ticket, each decoding to its code");
    eventually("the email to be marked sent", Duration::from_secs(5), || {
        outbox(&app, &reference)[0].status == "sent"
    })
    .await;
}

async fn mail_that_is_down_at_booking_arrives_when_it_comes_back(backend: Backend) {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app(backend, &[("SMTP_URL", &url), ("EMAIL_RETRY_BASE_MS", "100")]).await;
    let started = std::time::Instant::now();
    let reference = app.book_ok("general", "1").await;
    assert!(started.elapsed() < Duration::from_secs(2), "the booking did not wait for mail");
    eventually("a failed attempt", Duration::from_secs(10), || {
        outbox(&app, &reference).first().is_some_and(|e| e.attempts >= 1 && e.last_error.is_some())
    })
    .await;
    assert_eq!(outbox(&app, &reference)[0].status, "pending", "still to be sent");
    let smtp = SmtpServer::start_on(port);
    eventually("the email to arrive", Duration::from_secs(20), || {
        smtp.received().iter().any(|m| m.contains(&reference))
    })
    .await;
    eventually("marked sent", Duration::from_secs(5), || outbox(&app, &reference)[0].status == "sent").await;
}

async fn an_email_committed_but_not_sent_when_the_server_is_killed_is_sent_after_restart(backend: Backend) {
    let database = fresh_database(backend);
    let dead = format!("smtp://127.0.0.1:{}", free_port());
    // Its first send fails at once and the next is 5 s away: killed in between, the email is
    // committed and unsent, and no sender holds it. (A kill during a send leaves it leased
    // for a minute instead; it is then sent when the lease runs out.)
    let first = ServerProcess::start(&database, &[("SMTP_URL", &dead), ("EMAIL_RETRY_BASE_MS", "5000")]);
    let app = TestApp::attach(&first.address, &database);
    let reference = app.book_ok("vip", "2").await;
    eventually("the email to be committed and tried", Duration::from_secs(10), || {
        outbox(&app, &reference).first().is_some_and(|e| e.last_error.is_some())
    })
    .await;
    first.signal("KILL");
    drop(first);
    assert_eq!(outbox(&app, &reference)[0].status, "pending");
    let smtp = SmtpServer::start();
    let _second = ServerProcess::start(&database, &[("SMTP_URL", &smtp.url())]);
    eventually("the email to arrive after the restart", Duration::from_secs(20), || {
        smtp.received().iter().any(|m| m.contains(&reference))
    })
    .await;
    assert_eq!(png_parts(&smtp.received()[0]).len(), 2);
}

/// A server that accepts SMTP connections and never answers: a send to it hangs until the
/// send timeout. Dropped, it stops accepting.
struct BlackHole {
    port: u16,
    _held: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

fn black_hole() -> BlackHole {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            sink.lock().expect("held").push(stream);
        }
    });
    BlackHole { port, _held: held }
}

async fn an_email_being_sent_when_the_server_is_killed_is_sent_after_restart(backend: Backend) {
    let database = fresh_database(backend);
    let hole = black_hole();
    let hanging = format!("smtp://127.0.0.1:{}", hole.port);
    let first = ServerProcess::start(&database, &[("SMTP_URL", &hanging), ("EMAIL_SEND_TIMEOUT_SECS", "3")]);
    let app = TestApp::attach(&first.address, &database);
    let reference = app.book_ok("vip", "1").await;
    // Claimed (an attempt counted, no result yet): the sender is in the middle of the send.
    eventually("the send to start", Duration::from_secs(10), || {
        outbox(&app, &reference).first().is_some_and(|e| e.attempts == 1 && e.last_error.is_none())
    })
    .await;
    first.signal("KILL");
    drop(first);
    let email = outbox(&app, &reference).remove(0);
    assert_eq!((email.status.as_str(), email.sent_at), ("pending", None), "neither sent nor lost");
    let smtp = SmtpServer::start();
    let _second = ServerProcess::start(&database, &[("SMTP_URL", &smtp.url())]);
    // Sent once the dead sender's lease (twice the send timeout plus 5 s) has run out.
    eventually("the email to arrive after the lease", Duration::from_secs(30), || {
        smtp.received().iter().any(|m| m.contains(&reference))
    })
    .await;
}

async fn an_email_that_keeps_failing_is_shown_and_can_be_sent_again(backend: Backend) {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app =
        spawn_app(backend, &[("SMTP_URL", &url), ("EMAIL_RETRY_BASE_MS", "10"), ("EMAIL_MAX_ATTEMPTS", "3")])
            .await;
    let reference = app.book_ok("vip", "1").await;
    eventually("the email to be given up", Duration::from_secs(10), || {
        outbox(&app, &reference).first().is_some_and(|e| e.status == "failed")
    })
    .await;
    assert_eq!(outbox(&app, &reference)[0].attempts, 3);
    let admin = app.sign_in().await;
    let dashboard = app.get_with("/admin", &[("Cookie", &admin.cookie)]).await;
    assert!(dashboard.body.contains("ada@example.com") && dashboard.body.contains("Send again"));
    let smtp = SmtpServer::start_on(port);
    let id = outbox(&app, &reference)[0].id.clone();
    let again = app.admin_post(&admin, "/admin/emails/retry", &[("id", &id)]).await;
    assert_eq!(again.status, 303);
    eventually("the email to arrive", Duration::from_secs(20), || {
        smtp.received().iter().any(|m| m.contains(&reference))
    })
    .await;
    eventually("marked sent", Duration::from_secs(5), || outbox(&app, &reference)[0].status == "sent").await;
}

/// Four emails in one round of the sender, two of them to addresses the mail server refuses:
/// each that arrives carries its own booking's reference and tickets, the refused ones are
/// recorded as failed with the server's answer, and the round's outcomes are written together.
async fn one_round_sends_each_email_with_its_own_tickets_and_records_every_outcome(backend: Backend) {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    // Mail is down at first, and a failed send is retried only after a minute: the emails
    // wait, sent once and failed, until the test makes them all due at once.
    let app = spawn_app(
        backend,
        &[("SMTP_URL", &url), ("EMAIL_RETRY_BASE_MS", "60000"), ("EMAIL_MAX_ATTEMPTS", "2")],
    )
    .await;
    let mut booked = Vec::new();
    for (tier, quantity, email) in [
        ("vip", "1", "ada@example.com"),
        ("front-row", "3", "bounce.grace@example.com"),
        ("general", "2", "alan@example.com"),
        ("vip", "2", "bounce.edsger@example.com"),
    ] {
        let mut fields = form(tier, quantity);
        fields.retain(|(name, _)| *name != "email");
        fields.push(("email", email.to_owned()));
        let answer = app.book(&fields).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        booked.push((answer.reference().expect("a reference"), quantity.parse::<usize>().unwrap(), email));
    }
    // (An attempt is counted when the email is claimed; the error, when the attempt ended.)
    eventually("every email to be tried once", Duration::from_secs(10), || {
        booked.iter().all(|(reference, _, _)| {
            outbox(&app, reference).first().is_some_and(|e| e.attempts == 1 && e.last_error.is_some())
        })
    })
    .await;
    let smtp = SmtpServer::refusing_bounces_on(port);
    let due =
        diesel::update(email_outbox::table).set(email_outbox::next_attempt_at.eq(0)).execute(&mut app.conn());
    assert_eq!(due.expect("make them due"), 4);

    // Sent, or given up after the second attempt: no longer pending either way.
    eventually("every outcome to be recorded", Duration::from_secs(20), || {
        booked.iter().all(|(reference, _, _)| outbox(&app, reference)[0].status != "pending")
    })
    .await;
    eventually("the deliverable emails to arrive", Duration::from_secs(5), || smtp.received().len() >= 2)
        .await;
    let received = smtp.received();
    assert_eq!(received.len(), 2, "only the two deliverable emails arrive");
    let mut recorded_at = Vec::new();
    for (reference, quantity, email) in &booked {
        let row = outbox(&app, reference).remove(0);
        assert_eq!(row.attempts, 2, "{email}");
        recorded_at.push(row.updated_at);
        if email.starts_with("bounce") {
            assert_eq!(row.status, "failed", "{email}: given up after its second attempt");
            assert!(row.last_error.as_deref().is_some_and(|e| e.contains("550")), "{:?}", row.last_error);
            assert_eq!(row.sent_at, None);
            assert!(!received.iter().any(|m| m.contains(reference.as_str())), "{email} was refused");
            continue;
        }
        assert_eq!(row.status, "sent", "{email}");
        assert_eq!(row.last_error, None, "the first attempt's error is cleared");
        let message = received.iter().find(|m| m.contains(reference.as_str())).expect("its email");
        assert!(message.contains(&format!("To: {email}")), "{message:.600}");
        let mut decoded: Vec<String> = png_parts(message).iter().map(|png| decode_qr(png)).collect();
        let mut codes = app.ticket_codes(reference).await;
        decoded.sort();
        codes.sort();
        assert_eq!(codes.len(), *quantity);
        assert_eq!(decoded, codes, "{email}: its own booking's tickets, one QR code each");
    }
    recorded_at.dedup();
    assert_eq!(recorded_at.len(), 1, "one round, its outcomes written together: {recorded_at:?}");
}

both_backends!(
    one_round_sends_each_email_with_its_own_tickets_and_records_every_outcome,
    a_confirmation_arrives_with_one_qr_code_per_ticket,
    mail_that_is_down_at_booking_arrives_when_it_comes_back,
    an_email_committed_but_not_sent_when_the_server_is_killed_is_sent_after_restart,
    an_email_being_sent_when_the_server_is_killed_is_sent_after_restart,
    an_email_that_keeps_failing_is_shown_and_can_be_sent_again,
);
