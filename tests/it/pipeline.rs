//! The one booking pipeline under the interleavings that used to break it: a confirmation stuck
//! behind a lock while its buyer gives up, a process killed between the charge and its
//! confirmation, made-up tier names, and a process's snapshot after its own changes.

use std::sync::Arc;
use std::time::Duration;

use techkraft_tickets::booking::{Booking, BookingStatus, Refund, Ticket};

use crate::common::{
    Backend, GatedGateway, ServerProcess, TestApp, TierLock, eventually, form, fresh_database,
    spawn_app_with_gateway,
};

fn booking_of(app: &TestApp, reference: Option<&str>) -> Booking {
    let bookings = app.bookings();
    match reference {
        Some(r) => bookings.into_iter().find(|b| b.reference == r).expect("the booking"),
        None => bookings.into_iter().next().expect("a booking"),
    }
}

/// The gateway charges; the confirmation then waits behind a lock for longer than the buyer's
/// patience (10 s), so the buyer is told the payment is being recorded. Whatever order the
/// stuck confirmation, the sweeper and the reconciliation then run in, the booking ends
/// confirmed or refunded, never both, and never refunded twice.
async fn a_paid_booking_whose_confirmation_is_stuck_ends_confirmed_or_refunded_never_both(backend: Backend) {
    let database = fresh_database(backend);
    let gateway = Arc::new(GatedGateway::default());
    let settings = [("HOLD_TTL_SECS", "2"), ("PAYMENT_TIMEOUT_MS", "1000")];
    let app = spawn_app_with_gateway(&database, &settings, gateway.clone()).await;
    let buyer = app.book(&form("vip", "2"));
    let stuck = async {
        eventually("the hold", Duration::from_secs(10), || app.count_with_status(BookingStatus::Held) == 1)
            .await;
        let lock = TierLock::take(&database, &["vip"]);
        gateway.open();
        // Longer than the buyer waits for the confirmation.
        actix_rt::time::sleep(Duration::from_secs(12)).await;
        drop(lock);
    };
    let (answer, ()) = futures_util::future::join(buyer, stuck).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("payment went through"), "{}", answer.body);

    let settled = || {
        let b = booking_of(&app, None);
        matches!(b.status, BookingStatus::Confirmed | BookingStatus::Refunded)
    };
    eventually("the paid booking to be settled", Duration::from_secs(30), settled).await;
    // Give a late duplicate every chance to show.
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    let booking = booking_of(&app, None);
    let refunds = Refund::all(&mut app.conn()).unwrap();
    let paid_back = app.gateway.refunded();
    let tickets = Ticket::for_booking(&mut app.conn(), &booking.id).unwrap();
    match booking.status {
        BookingStatus::Confirmed => {
            assert!(refunds.is_empty() && paid_back.is_empty(), "confirmed and refunded: {refunds:?}");
            assert_eq!(tickets.len(), 2, "its tickets");
        }
        BookingStatus::Refunded => {
            assert_eq!(refunds.len(), 1);
            assert!(paid_back.values().all(|n| *n == 1), "refunded once: {paid_back:?}");
        }
        other => panic!("a paid booking ended {other:?}"),
    }
    assert_eq!(app.gateway.charges.load(std::sync::atomic::Ordering::SeqCst), 1);
    app.assert_conservation();
}

/// A process is killed after the gateway charged two bookings and before it recorded either.
/// After a restart, the sweeper ends both holds and the reconciliation finds both charges at
/// the gateway: the one whose seats are still free is confirmed with its tickets; the one whose
/// tier sold out meanwhile is refunded, once.
async fn a_process_killed_between_charge_and_confirmation_loses_no_money(backend: Backend) {
    let database = fresh_database(backend);
    let ledger =
        std::env::temp_dir().join(format!("tk-ledger-{}", techkraft_tickets::settings::random_token(8)));
    let ledger_path = ledger.display().to_string();
    // The first process: holds of 5 s, payments of a second. The test takes the tiers' locks
    // while both payments run, so neither confirmation can be recorded, and kills the process
    // once the gateway has charged both.
    let first =
        [("PAYMENT_LEDGER", ledger_path.as_str()), ("HOLD_TTL_SECS", "5"), ("PAYMENT_DELAY_MS", "1000")];
    let server = ServerProcess::start(&database, &first);
    let app = TestApp::attach(&server.address, &database);
    let vip = server.book_in_background("vip", "2");
    let front = server.book_in_background("front-row", "3");
    eventually("both holds", Duration::from_secs(10), || app.count_with_status(BookingStatus::Held) == 2)
        .await;
    let mut lock = TierLock::take(&database, &["front-row", "vip"]);
    let charges = || {
        let ledger = std::fs::read_to_string(&ledger).unwrap_or_default();
        ledger.lines().filter(|l| l.starts_with("charge")).count()
    };
    eventually("both charges at the gateway", Duration::from_secs(20), || charges() == 2).await;
    server.signal("KILL");
    drop(server);
    let _ = (vip.await, front.await);
    lock.end_waiters();
    drop(lock);
    assert!(app.bookings().iter().all(|b| b.status == BookingStatus::Held), "nothing was recorded");

    // The restarted process sweeps often; it asks the gateway 4 + 5 s after each booking.
    let env = [
        ("PAYMENT_LEDGER", ledger_path.as_str()),
        ("HOLD_TTL_SECS", "1"),
        ("PAYMENT_TIMEOUT_MS", "4000"),
        ("REFUND_RETRY_BASE_MS", "100"),
    ];
    let restarted = ServerProcess::start(&database, &env);
    let expired = || app.count_with_status(BookingStatus::Expired) == 2;
    eventually("the holds expired", Duration::from_secs(15), expired).await;
    // Meanwhile Front Row's seats are sold to someone else.
    app.set_available("front-row", 0);
    let settled = || {
        app.bookings().iter().all(|b| matches!(b.status, BookingStatus::Confirmed | BookingStatus::Refunded))
            && Refund::all(&mut app.conn()).unwrap().iter().all(|r| r.refund_id.is_some())
    };
    for _ in 0..300 {
        if settled() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled(), "both charges settled: {:#?}\n{}", app.bookings(), restarted.log_text());
    let bookings = app.bookings();
    let vip = bookings.iter().find(|b| b.tier_id == "vip").unwrap();
    let front = bookings.iter().find(|b| b.tier_id == "front-row").unwrap();
    assert_eq!(vip.status, BookingStatus::Confirmed, "seats were free: {vip:?}");
    assert!(vip.transaction_id.is_some());
    assert_eq!(Ticket::for_booking(&mut app.conn(), &vip.id).unwrap().len(), 2);
    assert_eq!(
        front.status,
        BookingStatus::Refunded,
        "sold out meanwhile: {front:?}\n{}",
        restarted.log_text()
    );
    let ledger_text = std::fs::read_to_string(&ledger).unwrap();
    let refunds: Vec<&str> = ledger_text.lines().filter(|l| l.starts_with("refund")).collect();
    assert_eq!(refunds.len(), 1, "one refund, for Front Row: {ledger_text}");
    assert!(refunds[0].contains(&front.id), "{ledger_text}");
    assert_eq!(app.tier("vip").available, 98);
    app.assert_conservation();
    let _ = std::fs::remove_file(&ledger);
}

/// Threads of a process, from /proc.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
}

/// Hundreds of bookings for tiers the database does not have are refused before any queue or
/// thread exists for them.
#[actix_rt::test]
async fn made_up_tier_names_are_refused_without_a_thread_or_queue() {
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database, &[("AVAILABILITY_MAX_AGE_MS", "500")]);
    let app = TestApp::attach(&server.address, &database);
    // Warm up: a real booking starts the VIP desk and the blocking pool's first threads.
    assert_eq!(app.book(&form("vip", "1")).await.status, 303);
    let before = threads(server.child.id());
    for i in 0..300 {
        let tier = format!("made-up-{i}");
        let page = app.book(&form(&tier, "1")).await;
        assert_eq!(page.status, 422, "{}", page.body);
        let api = serde_json::json!({"ticketTypeId": tier, "quantity": 1, "userId": "u"}).to_string();
        let answer = app.post_raw("/api/bookings", "application/json", api, &[]).await;
        assert_eq!(answer.status, 404, "{}", answer.body);
    }
    let after = threads(server.child.id());
    println!("threads: {before} before, {after} after 600 made-up tiers");
    assert!(after <= before + 2, "threads grew from {before} to {after}");
    assert_eq!(app.bookings().len(), 1, "nothing was written for them");
    app.assert_conservation();
}

/// With a snapshot that may be a minute old, the process's own changes still show at once:
/// set-available, a booking, a reset, and the sweeper's expiry.
async fn a_process_sees_its_own_changes_at_once_through_a_long_lived_snapshot(backend: Backend) {
    let database = fresh_database(backend);
    let gateway = Arc::new(GatedGateway::default());
    let settings =
        [("AVAILABILITY_MAX_AGE_MS", "60000"), ("HOLD_TTL_SECS", "1"), ("PAYMENT_TIMEOUT_MS", "30000")];
    let app = spawn_app_with_gateway(&database, &settings, gateway.clone()).await;
    let vip = || async {
        let tickets: serde_json::Value = serde_json::from_str(&app.get("/api/tickets").await.body).unwrap();
        tickets[0]["available"].as_i64().unwrap()
    };
    assert_eq!(vip().await, 100);
    let admin = app.sign_in().await;
    let set = |n: &'static str| {
        app.admin_post(
            &admin,
            "/admin/tiers/available",
            &[("tier", "vip"), ("available", n), ("confirm", "yes")],
        )
    };
    assert_eq!(set("0").await.status, 303);
    assert_eq!(vip().await, 0);
    assert_eq!(set("50").await.status, 303);
    assert_eq!(vip().await, 50);

    // A booking whose payment waits: held, then swept back after its second, then paid late.
    let buyer = app.book(&form("vip", "1"));
    let watch = async {
        eventually("the hold", Duration::from_secs(10), || app.count_with_status(BookingStatus::Held) == 1)
            .await;
        assert_eq!(vip().await, 49, "the hold shows");
        eventually("the expiry", Duration::from_secs(10), || {
            app.count_with_status(BookingStatus::Expired) == 1
        })
        .await;
        assert_eq!(vip().await, 50, "the sweeper's expiry shows");
        gateway.open();
    };
    let (answer, ()) = futures_util::future::join(buyer, watch).await;
    assert_eq!(answer.status, 303, "paid late, seats taken again: {}", answer.body);
    assert_eq!(vip().await, 49);

    let reset = app.admin_post(&admin, "/admin/reset", &[("tier", "vip"), ("confirm", "yes")]).await;
    assert_eq!(reset.status, 303);
    assert_eq!(vip().await, 100, "the reset shows");
    app.assert_conservation();
}

both_backends!(
    a_paid_booking_whose_confirmation_is_stuck_ends_confirmed_or_refunded_never_both,
    a_process_killed_between_charge_and_confirmation_loses_no_money,
    a_process_sees_its_own_changes_at_once_through_a_long_lived_snapshot,
);

/// A payment our end gave up on (the gateway did not answer within `PAYMENT_TIMEOUT_MS`) while
/// the hold was still held: the seats went back and the booking ended `payment_failed`. The
/// gateway had charged after all; the reconciliation finds the charge and settles it: the
/// seats again while they are free (one booking), or a refund once they are gone (another).
async fn a_charge_found_after_our_end_timed_out_ends_in_seats_or_one_refund(backend: Backend) {
    use techkraft_tickets::booking::pipeline::Work;
    use techkraft_tickets::payment::PaymentGateway;
    let app =
        crate::common::spawn_app(backend, &[("PAYMENT_TIMEOUT_MS", "100"), ("HOLD_TTL_SECS", "60")]).await;
    let now = techkraft_tickets::clock::now_millis();
    let (seated, refunded) = (app.hold("vip", 2, now), app.hold("front-row", 3, now));
    for booking in [&seated, &refunded] {
        let timed_out = Work::Release {
            booking: booking.clone(),
            reason: techkraft_tickets::payment::NO_ANSWER.into(),
            checked: false,
        };
        app.serve(&booking.tier_id, &[timed_out], now + 10);
        assert_eq!(app.status_of(booking), BookingStatus::PaymentFailed);
        // The gateway charged it anyway.
        app.gateway.charge(booking.total_cents, &booking.id).await.expect("charged");
    }
    app.set_available("front-row", 0);
    let settled = || [&seated, &refunded].iter().all(|b| app.status_of(b) != BookingStatus::PaymentFailed);
    eventually("the reconciliation settles both charges", Duration::from_secs(20), settled).await;
    assert_eq!(app.status_of(&seated), BookingStatus::Confirmed);
    assert_eq!(Ticket::for_booking(&mut app.conn(), &seated.id).unwrap().len(), 2);
    assert_eq!(app.status_of(&refunded), BookingStatus::Refunded);
    eventually("the refund paid", Duration::from_secs(10), || {
        app.gateway.refunded().get(&refunded.id) == Some(&1)
    })
    .await;
    assert_eq!(app.gateway.refunded().len(), 1, "one refund, for the booking whose seats were gone");
    app.assert_conservation();
}

both_backends!(a_charge_found_after_our_end_timed_out_ends_in_seats_or_one_refund);

/// A batch as large as a desk takes: 127 new holds in one batch, then their 127 confirmations
/// with two tickets each in the next, every row written as given (SQLite writes a batch's rows
/// in pieces of 64, 32, 16, 8, 4, 2 and 1, so 127 rows take one of each, 254 tickets most).
async fn a_full_batch_is_written_row_for_row(backend: Backend) {
    use techkraft_tickets::booking::OutboxEmail;
    use techkraft_tickets::booking::pipeline::{self, Done, Reserved, Settlement, Work};

    let app = crate::common::spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let holds: Vec<Booking> = (0..127).map(|_| crate::common::new_hold("general", 2, now)).collect();
    let mut conn = app.conn();
    let key = techkraft_tickets::booking::tickets::signing_key(&mut conn).unwrap();
    let work: Vec<Work> = holds.iter().cloned().map(Work::Reserve).collect();
    let served = pipeline::serve(&mut conn, "general", &work, &key, now).expect("the holds");
    let held: Vec<Booking> = served
        .answers
        .into_iter()
        .map(|answer| match answer {
            Done::Reserved(Reserved::Held(booking)) => booking,
            other => panic!("not held: {other:?}"),
        })
        .collect();
    assert_eq!(app.tier("general").available, 1000 - 254);
    let written = app.bookings();
    assert_eq!(written.len(), 127);
    for hold in &holds {
        let row = written.iter().find(|b| b.id == hold.id).expect("every hold written");
        let expected = Booking { unit_price_cents: 1000, total_cents: 2000, ..hold.clone() };
        assert_eq!(row, &expected, "written as given, its None a NULL");
    }

    let paid: Vec<Work> = held
        .iter()
        .enumerate()
        .map(|(i, booking)| Work::Confirm { booking: booking.clone(), transaction_id: format!("txn_{i}") })
        .collect();
    let served = pipeline::serve(&mut conn, "general", &paid, &key, now + 10).expect("the confirmations");
    assert!(
        served.answers.iter().all(|a| matches!(a, Done::Settled(Settlement::Confirmed))),
        "{:?}",
        served.answers
    );
    for (i, booking) in held.iter().enumerate() {
        let mut seats: Vec<i32> =
            Ticket::for_booking(&mut conn, &booking.id).unwrap().iter().map(|t| t.seat).collect();
        seats.sort_unstable();
        assert_eq!(seats, [1, 2], "{}'s tickets", booking.reference);
        let emails = OutboxEmail::for_booking(&mut conn, &booking.id).unwrap();
        assert_eq!(emails.len(), 1, "{}'s email", booking.reference);
        let row = Booking::by_id(&mut conn, &booking.id).unwrap().unwrap();
        assert_eq!((row.status, row.transaction_id), (BookingStatus::Confirmed, Some(format!("txn_{i}"))));
    }
    drop(conn);
    app.assert_conservation();
}

/// A batch whose rows cannot all be written writes none of them: the 100th of 127 new holds
/// carries a reference another booking has, so the batch fails whole (on SQLite after its
/// first two pieces were written) and its seats stay where they were. The same for rows
/// written outside any transaction.
async fn a_batch_that_cannot_be_written_whole_writes_nothing(backend: Backend) {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    use techkraft_tickets::booking::OutboxEmail;
    use techkraft_tickets::booking::pipeline::{self, Work};
    use techkraft_tickets::db::DbError;

    let app = crate::common::spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let taken = app.hold("general", 1, now);
    let mut holds: Vec<Booking> = (0..127).map(|_| crate::common::new_hold("general", 1, now)).collect();
    holds[99].reference = taken.reference.clone();
    let mut conn = app.conn();
    let key = techkraft_tickets::booking::tickets::signing_key(&mut conn).unwrap();
    let work: Vec<Work> = holds.into_iter().map(Work::Reserve).collect();
    let failed = pipeline::serve(&mut conn, "general", &work, &key, now);
    assert!(
        matches!(
            failed,
            Err(DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)))
        ),
        "a reference taken twice: {failed:?}"
    );
    assert_eq!(app.bookings().len(), 1, "nothing of the batch written");
    assert_eq!(app.tier("general").available, 999, "no seats taken by it");

    let mut emails: Vec<OutboxEmail> =
        (0..127).map(|_| OutboxEmail::queued(&taken.id, "tickets", "ada@example.com", now)).collect();
    emails[99].id = emails[0].id.clone();
    let failed = OutboxEmail::insert_all(&mut conn, emails);
    assert!(
        matches!(failed, Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))),
        "an id twice: {failed:?}"
    );
    assert_eq!(OutboxEmail::for_booking(&mut conn, &taken.id).unwrap(), [], "none of the emails written");
    drop(conn);
    app.assert_conservation();
}

both_backends!(a_full_batch_is_written_row_for_row, a_batch_that_cannot_be_written_whole_writes_nothing);

/// A desk runs the same few statements for every batch: each is prepared once on its
/// connection and then taken from diesel's cache, not parsed again every time (diesel never
/// caches an `UPDATE` or a `sql_query` by itself, nor a multi-row insert of a `Vec`). Four
/// rounds of a batch of three new holds and a batch of their confirmations, on one
/// connection, counting the statements run and the statements prepared for the cache.
async fn a_batch_s_statements_are_prepared_once_per_connection(backend: Backend) {
    use std::sync::Mutex;

    use diesel::connection::{Connection, InstrumentationEvent};
    use techkraft_tickets::booking::pipeline::{self, Done, Reserved, Work};
    use techkraft_tickets::db::DbConnection;

    let app = crate::common::spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let mut conn = app.conn();
    let key = techkraft_tickets::booking::tickets::signing_key(&mut conn).unwrap();
    // (prepared for the cache, the statement's text)
    let seen: Arc<Mutex<Vec<(bool, String)>>> = Arc::default();
    let record = {
        let seen = seen.clone();
        move |event: InstrumentationEvent<'_>| {
            let entry = match event {
                InstrumentationEvent::StartQuery { query, .. } => (false, query.to_string()),
                InstrumentationEvent::CacheQuery { sql, .. } => (true, sql.to_string()),
                _ => return,
            };
            seen.lock().unwrap().push(entry);
        }
    };
    match &mut *conn {
        DbConnection::Sqlite(c) => c.set_instrumentation(record),
        DbConnection::Pg(c) => c.set_instrumentation(record),
    }
    for round in 0..4 {
        let holds: Vec<Work> =
            (0..3).map(|_| Work::Reserve(crate::common::new_hold("general", 1, now))).collect();
        let served = pipeline::serve(&mut conn, "general", &holds, &key, now).expect("the holds");
        let paid: Vec<Work> = served
            .answers
            .into_iter()
            .map(|answer| match answer {
                Done::Reserved(Reserved::Held(booking)) => {
                    Work::Confirm { booking, transaction_id: format!("txn_{round}") }
                }
                other => panic!("not held: {other:?}"),
            })
            .collect();
        pipeline::serve(&mut conn, "general", &paid, &key, now + 10).expect("the confirmations");
    }
    let seen = seen.lock().unwrap();
    let text = |statement: &str| statement.split(" -- binds:").next().unwrap_or_default().to_string();
    let counts = |statement: &dyn Fn(&str) -> bool| {
        let mut texts: Vec<String> =
            seen.iter().filter(|(_, s)| statement(s)).map(|(_, s)| text(s)).collect();
        texts.sort();
        texts.dedup();
        texts
            .into_iter()
            .map(|t| {
                let runs = seen.iter().filter(|(cached, s)| !cached && text(s) == t).count();
                let prepared = seen.iter().filter(|(cached, s)| *cached && text(s) == t).count();
                (t, runs, prepared)
            })
            .collect::<Vec<_>>()
    };
    let tier = counts(&|s| s.starts_with("UPDATE") && s.contains("ticket_tiers"));
    let confirmations = counts(&|s| s.starts_with("UPDATE bookings SET status = 'confirmed'"));
    for (what, found) in [("the tier's conditional update", tier), ("the confirmations", confirmations)] {
        let [(statement, runs, prepared)] = found.as_slice() else {
            panic!("{what}: one text, found {found:?}")
        };
        assert_eq!((*runs, *prepared), (4, 1), "{what}, run four times, prepared once: {statement}");
    }
    // The holds' idempotency keys looked up.
    let keys = counts(&|s| s.starts_with("SELECT") && s.contains("idempotency_key") && s.contains("WHERE"));
    let [(statement, runs, prepared)] = keys.as_slice() else { panic!("the keys: one text, found {keys:?}") };
    assert_eq!((*runs, *prepared), (4, 1), "the keys, run four times, prepared once: {statement}");
    if backend == Backend::Sqlite {
        // The rows go in pieces (three: one of two and one of one), each piece's statement
        // prepared once.
        for table in ["bookings", "tickets", "email_outbox"] {
            let pieces = counts(&|s| s.starts_with(&format!("INSERT INTO `{table}`")));
            assert_eq!(pieces.len(), 2, "{table}: two pieces, {pieces:?}");
            for (statement, runs, prepared) in pieces {
                assert_eq!((runs, prepared), (4, 1), "{table}, run four times, prepared once: {statement}");
            }
        }
    }
}

both_backends!(a_batch_s_statements_are_prepared_once_per_connection);

/// SQLite: under writes that never pause, a checkpoint still starts the write-ahead log again
/// from its beginning once it is past `WAL_RESTART_PAGES` (it holds this process's writers
/// back for the moment that takes). A checkpoint beside the writers alone never does (what it
/// copies, they add to meanwhile), and the log grew to `wal_autocheckpoint`'s 10,000 pages,
/// past which every commit of a desk checkpointed it itself. A thread writes batches of 64
/// new holds back to back; no other checkpoint runs.
#[actix_rt::test]
async fn sqlite_s_log_starts_again_under_writes_that_never_pause() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use diesel::RunQueryDsl;
    use techkraft_tickets::booking::pipeline::{self, Work};
    use techkraft_tickets::db::{DbConnection, WAL_RESTART_PAGES, checkpoint_passive, checkpoint_wal};

    // The log's length now; copies what it can, waiting for nobody, as the writers go on.
    fn log_pages(conn: &mut DbConnection) -> i32 {
        let DbConnection::Sqlite(sqlite) = conn else { unreachable!() };
        checkpoint_passive(sqlite).unwrap()
    }

    let database = fresh_database(Backend::Sqlite);
    let settings = crate::common::test_settings(&database, &[]);
    let pool = techkraft_tickets::db::build_pool(&settings).unwrap();
    techkraft_tickets::db::prepare_database(&pool, &settings).unwrap();
    techkraft_tickets::shared_secrets::establish(&pool, &settings).unwrap();
    diesel::sql_query("UPDATE ticket_tiers SET capacity = 100000000, available = 100000000, withheld = 0 WHERE id = 'general'")
        .execute(&mut *pool.get().unwrap())
        .unwrap();
    let (stop, batches) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let writer = {
        let (pool, stop, batches) = (pool.clone(), stop.clone(), batches.clone());
        std::thread::spawn(move || {
            let mut conn = pool.get().expect("a connection");
            let key = techkraft_tickets::booking::tickets::signing_key(&mut conn).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let now = techkraft_tickets::clock::now_millis();
                let work: Vec<Work> =
                    (0..64).map(|_| Work::Reserve(crate::common::new_hold("general", 1, now))).collect();
                pipeline::serve(&mut conn, "general", &work, &key, now).expect("a batch");
                batches.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut conn = pool.get().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut before = log_pages(&mut conn);
    while before <= WAL_RESTART_PAGES {
        assert!(!writer.is_finished(), "the writer stopped");
        assert!(std::time::Instant::now() < deadline, "the log never reached {WAL_RESTART_PAGES} pages");
        std::thread::sleep(Duration::from_millis(20));
        before = log_pages(&mut conn);
    }
    checkpoint_wal(&mut conn).unwrap();
    // Once a batch has been written after it, the log has started again.
    let written = batches.load(Ordering::Relaxed);
    while batches.load(Ordering::Relaxed) < written + 2 {
        assert!(!writer.is_finished(), "the writer stopped");
        std::thread::sleep(Duration::from_millis(1));
    }
    let after = log_pages(&mut conn);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(after < before, "the log went on from {before} pages to {after}");
}
