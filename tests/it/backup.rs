//! Backups of the SQLite database (SPEC §16): one taken while buyers book restores everything
//! committed before it, and scheduled backups are taken once per interval between processes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use techkraft_tickets::booking::{Booking, BookingStatus, Refund, RefundStatus, Ticket};
use techkraft_tickets::db::schema::{refunds, tickets};

use crate::common::{Backend, ServerProcess, TestApp, client, eventually, form, fresh_database, spawn_app};

/// Every booking, ticket and refund in the database.
fn everything(app: &TestApp) -> (Vec<Booking>, Vec<Ticket>, Vec<Refund>) {
    let mut conn = app.conn();
    let bookings = Booking::recent(&mut conn, 1_000_000).expect("bookings");
    let tickets = tickets::table.select(Ticket::as_select()).load(&mut conn).expect("tickets");
    let refunds = refunds::table.select(Refund::as_select()).load(&mut conn).expect("refunds");
    (bookings, tickets, refunds)
}

/// Whether `later` is `earlier` or a status it can move on to.
fn same_or_later(earlier: BookingStatus, later: BookingStatus) -> bool {
    earlier == later || (earlier == BookingStatus::Held && !matches!(later, BookingStatus::Held))
}

#[actix_rt::test]
async fn a_backup_taken_while_bookings_run_restores_every_committed_booking_ticket_and_refund() {
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database, &[("PAYMENT_DELAY_MS", "0-30")]);
    let app = TestApp::attach(&server.address, &database);

    // A reader holding an old snapshot: no checkpoint can move later commits into the main
    // file meanwhile, so they are in the write-ahead log only (a copy of the file alone would
    // miss them).
    let mut reader = SqliteConnection::establish(database.url.trim_start_matches("sqlite://")).expect("open");
    reader.batch_execute("BEGIN; SELECT count(*) FROM bookings;").expect("a read transaction");

    // Refunds (a reset of paid bookings) and a ticket used at the door, before the backup.
    let mut answered: Vec<String> = Vec::new();
    for _ in 0..3 {
        answered.push(app.book_ok("front-row", "2").await);
    }
    let admin = app.sign_in().await;
    let reset = app.admin_post(&admin, "/admin/reset", &[("tier", "front-row"), ("confirm", "yes")]).await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    let admitted = app.book_ok("vip", "2").await;
    answered.push(admitted.clone());
    let door = app.door_sign_in("correct horse battery staple").await.expect("door");
    let code = app.ticket_codes(&admitted).await.remove(0);
    assert_eq!(app.check_in(&door, &code).await.status, 200);

    // Buyers keep booking before, during and after the backup.
    let running = Arc::new(AtomicBool::new(true));
    let buyers: Vec<_> = (0..6)
        .map(|i| {
            let (address, running) = (server.address.clone(), running.clone());
            actix_rt::spawn(async move {
                let mut references = Vec::new();
                while running.load(Ordering::SeqCst) {
                    let tier = ["general", "vip", "front-row"][i % 3];
                    let body = serde_urlencoded::to_string(form(tier, "1")).unwrap();
                    let answer = client()
                        .post(format!("{address}/bookings"))
                        .insert_header(("content-type", "application/x-www-form-urlencoded"))
                        .send_body(body)
                        .await;
                    if let Ok(answer) = answer
                        && answer.status() == 303
                        && let Some(location) = answer.headers().get("location")
                    {
                        references
                            .push(location.to_str().unwrap().trim_start_matches("/bookings/").to_owned());
                    }
                }
                references
            })
        })
        .collect();
    eventually("bookings to be running", Duration::from_secs(10), || app.bookings().len() > 30).await;

    // Everything committed now must be in the backup, which starts after this read.
    let (bookings, tickets, refunds) = everything(&app);
    assert!(!refunds.is_empty() && tickets.iter().any(|t| t.checked_in_at.is_some()));
    let backup = std::env::temp_dir()
        .join(format!("tk-backup-{}.sqlite3", techkraft_tickets::settings::random_token(8)));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_techkraft-tickets"))
        .args(["backup", backup.to_str().unwrap()])
        .env_clear()
        .env("DATABASE_URL", &database.url)
        .output()
        .expect("run backup");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("backup written: "));
    reader.batch_execute("COMMIT;").expect("end the read transaction");
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::SeqCst);
    let mut during = 0;
    for buyer in buyers {
        during += buyer.await.unwrap().len();
    }
    assert!(app.bookings().len() > bookings.len(), "bookings went on during the backup ({during} answered)");
    drop(server);

    // Restore: the copy as the database of a new server (no -wal or -shm beside it).
    let restored = fresh_database(Backend::Sqlite);
    std::fs::copy(&backup, restored.url.trim_start_matches("sqlite://")).expect("restore the copy");
    std::fs::remove_file(&backup).unwrap();
    let server = ServerProcess::start(&restored, &[]);
    let app = TestApp::attach(&server.address, &restored);
    let (after_bookings, after_tickets, after_refunds) = everything(&app);
    let by_id: HashMap<&str, &Booking> = after_bookings.iter().map(|b| (b.id.as_str(), b)).collect();
    for booking in &bookings {
        let found =
            by_id.get(booking.id.as_str()).unwrap_or_else(|| panic!("booking {} lost", booking.reference));
        assert!(same_or_later(booking.status, found.status), "{booking:?} came back as {found:?}");
    }
    let codes: HashMap<&str, &Ticket> = after_tickets.iter().map(|t| (t.code.as_str(), t)).collect();
    for ticket in &tickets {
        let found = codes.get(ticket.code.as_str()).unwrap_or_else(|| panic!("ticket {} lost", ticket.code));
        assert_eq!((&found.booking_id, found.checked_in_at), (&ticket.booking_id, ticket.checked_in_at));
    }
    for refund in &refunds {
        let found = after_refunds.iter().find(|r| r.booking_id == refund.booking_id).expect("refund kept");
        assert_eq!((found.amount_cents, &found.charge_id), (refund.amount_cents, &refund.charge_id));
        assert!(
            refund.status == found.status || refund.status == RefundStatus::Owed,
            "{refund:?} → {found:?}"
        );
    }
    app.assert_conservation();
    // And the restored server shows them: each answered booking with its tickets, each refund.
    for reference in &answered {
        let page = app.get(&format!("/api/bookings/{reference}")).await;
        assert_eq!(page.status, 200, "{reference}: {}", page.body);
    }
    let refunded = bookings.iter().find(|b| b.status == BookingStatus::Refunded).expect("a refunded booking");
    let page = app.get(&format!("/api/bookings/{}", refunded.reference)).await;
    assert!(
        page.body.contains(r#""status":"refunded""#) && page.body.contains(r#""refund":"#),
        "{}",
        page.body
    );
    assert_eq!(app.ticket_codes(&admitted).await[0], code);
    let door = app.door_sign_in("correct horse battery staple").await.expect("door");
    assert_eq!(app.check_in(&door, &code).await.status, 409, "the ticket used before the backup stays used");
}

#[actix_rt::test]
async fn processes_sharing_the_database_take_one_scheduled_backup_per_interval_and_keep_the_newest() {
    let database = fresh_database(Backend::Sqlite);
    let dir =
        std::env::temp_dir().join(format!("tk-backups-{}", techkraft_tickets::settings::random_token(8)));
    let dir_text = dir.display().to_string();
    let envs = [("BACKUP_DIR", dir_text.as_str()), ("BACKUP_INTERVAL_SECS", "2"), ("BACKUP_KEEP", "3")];
    let servers = [ServerProcess::start(&database, &envs), ServerProcess::start(&database, &envs)];
    let written = || -> Vec<String> {
        let mut names: Vec<String> = servers
            .iter()
            .flat_map(|s| {
                let log = s.log_text();
                log.lines()
                    .filter_map(|l| l.split("backup written: ").nth(1))
                    .map(|rest| rest.split(' ').next().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names
    };
    eventually("five scheduled backups", Duration::from_secs(60), || written().len() >= 5).await;
    let names = written();
    let mut distinct = names.clone();
    distinct.dedup();
    assert_eq!(distinct, names, "each backup written by one process");
    let times: Vec<_> = names
        .iter()
        .map(|p| {
            let name = std::path::Path::new(p).file_name().unwrap().to_string_lossy().into_owned();
            techkraft_tickets::backup::taken_at(&name).expect("a backup's name")
        })
        .collect();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::Duration::seconds(2),
            "one backup per interval between both: {names:?}"
        );
    }
    // BACKUP_KEEP: the folder holds the newest three of all written (and the lock file).
    let in_folder = || -> Vec<String> {
        let mut kept: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path().display().to_string())
            .filter(|p| p.ends_with(".sqlite3"))
            .collect();
        kept.sort();
        kept
    };
    eventually("the three newest backups, and no other, in the folder", Duration::from_secs(10), || {
        let kept = in_folder();
        let mut all = written();
        all.extend(kept.iter().cloned());
        all.sort();
        all.dedup();
        kept.len() == 3 && kept[..] == all[all.len() - 3..]
    })
    .await;
    let newest = in_folder();
    let last = newest.last().unwrap();
    let mut copy = SqliteConnection::establish(last).expect("open a backup");
    let tiers: i64 =
        techkraft_tickets::db::schema::ticket_tiers::table.count().get_result(&mut copy).unwrap();
    assert_eq!(tiers, 3);
    // Each process counts the ones it wrote; between them, all of them.
    let mut counted = 0;
    for server in &servers {
        let metrics = TestApp::attach(&server.address, &database).get("/metrics").await.body;
        let line =
            metrics.lines().find(|l| l.starts_with("techkraft_backups_total{outcome=\"written\"}")).unwrap();
        counted += line.rsplit(' ').next().unwrap().parse::<usize>().unwrap();
        assert!(metrics.contains("techkraft_backup_interval_seconds 2\n"), "{metrics}");
    }
    assert!(counted >= names.len(), "{counted} counted, {} logged", names.len());
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SQLite's log is copied into the database file by a task of its own, several times a second,
/// not only by a commit that finds it 10,000 pages long: a booking is in the file itself (read
/// with `immutable=1`, which ignores the log) within a moment of its confirmation.
#[actix_rt::test]
async fn sqlite_s_write_ahead_log_is_checkpointed_in_the_background() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    assert_eq!(app.book(&form("vip", "2")).await.status, 303);
    let url = app.database.as_ref().expect("a database").url.clone();
    let file_only = format!("file:{}?immutable=1", url.trim_start_matches("sqlite://"));
    eventually("the booking in the database file, not only in its log", Duration::from_secs(3), || {
        let mut conn = diesel::SqliteConnection::establish(&file_only).expect("open the file alone");
        // Until a checkpoint, the file may not even hold the tables (the migrations are in the
        // log too): an error counts as "not yet".
        let in_file: QueryResult<i64> = techkraft_tickets::db::schema::bookings::table
            .filter(techkraft_tickets::db::schema::bookings::status.eq("confirmed"))
            .count()
            .get_result(&mut conn);
        in_file == Ok(1)
    })
    .await;
}
