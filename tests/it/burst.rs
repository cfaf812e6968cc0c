//! The on-sale burst's mechanisms, each pinned by an outcome (the speed is `bench/run`'s):
//! availability from a snapshot with `304`s, sold-out answered from memory, batches that
//! serve the first comers first, and a batch killed halfway that loses nothing.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use techkraft_tickets::booking::pipeline::{Done, Reserved, Work};
use techkraft_tickets::booking::{Booking, BookingStatus};

use crate::common::{
    Backend, ServerProcess, TestApp, ThrowawayPg, eventually, form, fresh_database, new_hold, spawn_app,
    spawn_app_on,
};

const SNAPSHOT: (&str, &str) = ("AVAILABILITY_MAX_AGE_MS", "60000");

async fn the_fragment_answers_304_until_a_seat_count_changes(backend: Backend) {
    let app = spawn_app(backend, &[SNAPSHOT]).await;
    let first = app.get("/availability").await;
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("an ETag");
    let again = app.get_with("/availability", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let api = app.get("/api/tickets").await;
    assert_eq!(api.header("etag").as_deref(), Some(etag.as_str()), "one validator for one snapshot");
    assert_eq!(app.get_with("/api/tickets", &[("If-None-Match", &etag)]).await.status, 304);

    // A booking made here changes this process's snapshot at once.
    assert_eq!(app.book(&form("vip", "2")).await.status, 303);
    let changed = app.get_with("/availability", &[("If-None-Match", &etag)]).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag));
    let tickets: serde_json::Value = serde_json::from_str(&app.get("/api/tickets").await.body).unwrap();
    assert_eq!(tickets[0]["available"], 98);
}

async fn a_batch_that_does_not_fit_serves_the_first_comers_first(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let reserve = |tier: &str, quantities: &[i32]| -> Vec<Reserved> {
        let work: Vec<Work> = quantities.iter().map(|q| Work::Reserve(new_hold(tier, *q, now))).collect();
        app.serve(tier, &work, now)
            .into_iter()
            .map(|done| match done {
                Done::Reserved(reserved) => reserved,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    app.set_available("vip", 5);
    let answers = reserve("vip", &[3, 2, 4, 1]);
    let held: Vec<bool> = answers.iter().map(|a| matches!(a, Reserved::Held(_))).collect();
    assert_eq!(held, [true, true, false, false], "3 and 2 arrived first and take the 5 seats: {answers:?}");
    assert!(matches!(answers[2], Reserved::NotEnough { available: 0 }));
    assert_eq!(app.tier("vip").available, 0);

    // A later, smaller request may take what an earlier, larger one could not use.
    app.set_available("front-row", 6);
    let answers = reserve("front-row", &[4, 3, 2]);
    let held: Vec<bool> = answers.iter().map(|a| matches!(a, Reserved::Held(_))).collect();
    assert_eq!(held, [true, false, true]);
    assert_eq!(app.tier("front-row").available, 0);

    // All fit: one update, every hold held, priced from the tier.
    let answers = reserve("general", &[2; 10]);
    assert!(answers.iter().all(|a| matches!(a, Reserved::Held(b) if b.total_cents == 20_00)), "{answers:?}");
    assert_eq!(app.tier("general").available, 980);
    app.assert_conservation();
}

async fn one_batch_reserves_confirms_and_releases_and_a_repeat_is_settled_once(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let (paid, declined) = (app.hold("vip", 2, now), app.hold("vip", 3, now));
    let fresh = new_hold("vip", 1, now);
    let work = [
        Work::Confirm { booking: paid.clone(), transaction_id: "txn_1_aaaaaaaaa".into() },
        Work::Reserve(fresh.clone()),
        Work::Release { booking: declined.clone(), reason: "Card declined".into(), checked: true },
        // The same confirmation queued twice (a retry while the first one waited).
        Work::Confirm { booking: paid.clone(), transaction_id: "txn_1_aaaaaaaaa".into() },
    ];
    let answers = app.serve("vip", &work, now + 10);
    assert!(matches!(answers[0], Done::Settled(techkraft_tickets::booking::pipeline::Settlement::Confirmed)));
    assert!(matches!(answers[1], Done::Reserved(Reserved::Held(_))));
    assert!(matches!(answers[2], Done::Released(true)));
    assert!(matches!(answers[3], Done::Settled(techkraft_tickets::booking::pipeline::Settlement::Confirmed)));
    assert_eq!(app.status_of(&paid), BookingStatus::Confirmed);
    assert_eq!(app.status_of(&declined), BookingStatus::PaymentFailed);
    assert_eq!(app.tier("vip").available, 97, "2 sold, 1 held, 3 back");
    let tickets = techkraft_tickets::booking::Ticket::for_booking(&mut app.conn(), &paid.id).unwrap();
    assert_eq!(tickets.len(), 2, "one ticket per seat, issued once");
    app.assert_conservation();
}

/// The confirmations of one batch write every booking's tickets and email together (one
/// statement on PostgreSQL, two on SQLite): each booking gets exactly its own tickets, one per
/// seat and signed, and one pending email to its own address; an API booking (no address) none.
async fn one_batch_issues_each_booking_its_own_tickets_and_email(backend: Backend) {
    use techkraft_tickets::booking::tickets::{CodeCheck, check_code, signing_key};
    use techkraft_tickets::booking::{OutboxEmail, Ticket};
    let app = spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let mut holds = [new_hold("general", 1, now), new_hold("general", 3, now), new_hold("general", 2, now)];
    holds[1].customer_email = "grace@example.com".into();
    holds[2].customer_email = String::new();
    let reserve: Vec<Work> = holds.iter().cloned().map(Work::Reserve).collect();
    let held: Vec<_> = app
        .serve("general", &reserve, now)
        .into_iter()
        .map(|done| match done {
            Done::Reserved(Reserved::Held(booking)) => booking,
            other => panic!("{other:?}"),
        })
        .collect();
    let confirm: Vec<Work> = held
        .iter()
        .enumerate()
        .map(|(i, b)| Work::Confirm { booking: b.clone(), transaction_id: format!("txn_1_aaaaaaaa{i}") })
        .collect();
    let at = now + 10;
    app.serve("general", &confirm, at);

    let mut conn = app.conn();
    let key = signing_key(&mut conn).unwrap();
    let mut codes = std::collections::HashSet::new();
    for booking in &held {
        assert_eq!(app.status_of(booking), BookingStatus::Confirmed);
        let tickets = Ticket::for_booking(&mut conn, &booking.id).unwrap();
        let seats: Vec<i32> = tickets.iter().map(|t| t.seat).collect();
        assert_eq!(seats, (1..=booking.quantity).collect::<Vec<_>>(), "{booking:?}");
        for ticket in &tickets {
            assert!(matches!(check_code(&key, &ticket.code), CodeCheck::Genuine(_)), "{ticket:?}");
            assert_eq!((ticket.checked_in_at, ticket.created_at), (None, at), "{ticket:?}");
            assert!(codes.insert(ticket.code.clone()), "a code issued twice: {ticket:?}");
        }
        let emails = OutboxEmail::for_booking(&mut conn, &booking.id).unwrap();
        if booking.customer_email.is_empty() {
            assert!(emails.is_empty(), "{emails:?}");
            continue;
        }
        let [email] = emails.as_slice() else { panic!("one email per booking: {emails:?}") };
        assert_eq!(
            (
                email.kind.as_str(),
                email.recipient.as_str(),
                email.status.as_str(),
                email.attempts,
                email.next_attempt_at
            ),
            ("tickets", booking.customer_email.as_str(), "pending", 0, at),
            "{email:?}"
        );
        assert_eq!(
            (&email.last_error, email.sent_at, email.created_at, email.updated_at),
            (&None, None, at, at)
        );
    }
    assert_eq!(codes.len(), 6);
    app.assert_conservation();
}

/// The common batch (new holds that fit, paid holds still held) is PostgreSQL's one quick
/// statement; a paid booking whose hold ended in the meantime is left to the careful path,
/// which settles it late: seats again while there are any, else the refund owed. The rest of
/// the batch is answered as ever.
async fn a_batch_with_a_paid_hold_that_ended_settles_it_late_and_serves_the_rest(backend: Backend) {
    use techkraft_tickets::booking::pipeline::Settlement;
    use techkraft_tickets::booking::{Refund, Ticket};
    let app = spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let confirm = |b: &techkraft_tickets::booking::Booking, txn: &str| Work::Confirm {
        booking: b.clone(),
        transaction_id: txn.into(),
    };

    // All still held and all fit: the quick statement alone on PostgreSQL (none on SQLite).
    let on_time = app.hold("vip", 1, now);
    let common = [confirm(&on_time, "txn_1_aaaaaaaa1"), Work::Reserve(new_hold("vip", 1, now))];
    assert_eq!(app.served_quickly("vip", &common, now + 10), backend == Backend::Postgres);
    assert_eq!(app.tier("vip").available, 99, "the look changed nothing");

    // One paid hold expired (seats back), and seats are free: taken again, confirmed.
    let late = app.hold("vip", 2, now - 120_000);
    assert_eq!(app.sweep(now).len(), 1);
    assert_eq!(app.tier("vip").available, 99);
    let fresh = new_hold("vip", 3, now);
    // (On time's confirmation queued twice, as a retry while the first one waited.)
    let work = [
        confirm(&late, "txn_1_aaaaaaaa2"),
        Work::Reserve(fresh.clone()),
        confirm(&on_time, "txn_1_aaaaaaaa1"),
        confirm(&on_time, "txn_1_aaaaaaaa1"),
    ];
    assert!(!app.served_quickly("vip", &work, now + 10), "an ended hold is the careful path's");
    let answers = app.serve("vip", &work, now + 10);
    assert!(matches!(answers[0], Done::Settled(Settlement::Confirmed)), "{answers:?}");
    assert!(
        matches!(&answers[1], Done::Reserved(Reserved::Held(b)) if b.id == fresh.id && b.total_cents == 30_000)
    );
    assert!(matches!(answers[2], Done::Settled(Settlement::Confirmed)), "{answers:?}");
    assert!(matches!(answers[3], Done::Settled(Settlement::Confirmed)), "{answers:?}");
    assert_eq!(app.status_of(&late), BookingStatus::Confirmed);
    assert_eq!(app.status_of(&on_time), BookingStatus::Confirmed);
    assert_eq!(app.tier("vip").available, 100 - 2 - 3 - 1);
    let tickets =
        |b: &techkraft_tickets::booking::Booking| Ticket::for_booking(&mut app.conn(), &b.id).unwrap().len();
    assert_eq!((tickets(&late), tickets(&on_time)), (2, 1), "one ticket per seat, each issued once");

    // Another expired, and no seats left: refunded (the refund owed on record), no tickets.
    let unlucky = app.hold("front-row", 2, now - 120_000);
    let lucky = app.hold("front-row", 1, now);
    assert_eq!(app.sweep(now).len(), 1);
    app.set_available("front-row", 0);
    let work = [confirm(&lucky, "txn_1_aaaaaaaa3"), confirm(&unlucky, "txn_1_aaaaaaaa4")];
    let answers = app.serve("front-row", &work, now + 10);
    assert!(matches!(answers[0], Done::Settled(Settlement::Confirmed)), "{answers:?}");
    assert!(matches!(answers[1], Done::Settled(Settlement::Refunded)), "{answers:?}");
    assert_eq!(app.status_of(&unlucky), BookingStatus::Refunded);
    assert_eq!(tickets(&unlucky), 0);
    let refund = Refund::for_booking(&mut app.conn(), &unlucky.id).unwrap().expect("the refund owed");
    assert_eq!((refund.charge_id.as_str(), refund.amount_cents), ("txn_1_aaaaaaaa4", 10_000));
    app.assert_conservation();
}

/// A key already on a booking takes nothing, in a batch with other work: on PostgreSQL the
/// quick statement meets the unique key, changes nothing, and the careful path answers the
/// replay with the first booking and serves the rest.
async fn a_replayed_key_in_a_batch_takes_nothing_and_the_rest_is_served(backend: Backend) {
    use techkraft_tickets::booking::pipeline::Settlement;
    let app = spawn_app(backend, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let first = app.hold("general", 4, now);
    let paid = app.hold("general", 1, now);
    let mut replay = new_hold("general", 4, now);
    replay.idempotency_key = first.idempotency_key.clone();
    let fresh = new_hold("general", 2, now);
    let work = [
        Work::Reserve(replay.clone()),
        Work::Reserve(fresh.clone()),
        Work::Confirm { booking: paid.clone(), transaction_id: "txn_1_aaaaaaaa5".into() },
    ];
    assert!(!app.served_quickly("general", &work, now + 10));
    let answers = app.serve("general", &work, now + 10);
    assert!(matches!(&answers[0], Done::Reserved(Reserved::KeyExists(b)) if b.id == first.id), "{answers:?}");
    assert!(matches!(&answers[1], Done::Reserved(Reserved::Held(b)) if b.id == fresh.id), "{answers:?}");
    assert!(matches!(answers[2], Done::Settled(Settlement::Confirmed)), "{answers:?}");
    assert_eq!(app.tier("general").available, 1000 - 4 - 1 - 2, "the replay took no seat");
    assert_eq!(app.bookings().len(), 3, "and wrote no booking");
    app.assert_conservation();
}

both_backends!(
    a_batch_with_a_paid_hold_that_ended_settles_it_late_and_serves_the_rest,
    a_replayed_key_in_a_batch_takes_nothing_and_the_rest_is_served,
    one_batch_issues_each_booking_its_own_tickets_and_email,
    the_fragment_answers_304_until_a_seat_count_changes,
    a_batch_that_does_not_fit_serves_the_first_comers_first,
    one_batch_reserves_confirms_and_releases_and_a_repeat_is_settled_once
);

#[actix_rt::test]
async fn a_sold_out_tier_is_refused_from_memory_with_the_database_stopped() {
    require_postgres!();
    let pg = ThrowawayPg::start();
    let app = spawn_app_on(&pg.url(), &[SNAPSHOT]).await;
    app.set_available("vip", 0);
    let tickets: serde_json::Value = serde_json::from_str(&app.get("/api/tickets").await.body).unwrap();
    assert_eq!(tickets[0]["available"], 0, "the snapshot sees the sell-out: {tickets}");
    pg.down();
    let api = r#"{"ticketTypeId": "vip", "quantity": 1, "userId": "late-fan"}"#;
    let started = Instant::now();
    let answer = app.post_raw("/api/bookings", "application/json", api, &[]).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    let page = app.book(&form("vip", "1")).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("sold out"), "{}", page.body);
    assert!(started.elapsed() < Duration::from_secs(2), "no waiting for a database that is not there");
    pg.up();
}

#[actix_rt::test]
async fn killing_a_server_in_the_middle_of_its_batches_loses_no_seat() {
    require_postgres!();
    let database = fresh_database(Backend::Postgres);
    // Payments never finish before the kill; holds expire a second after.
    let env = [("PAYMENT_DELAY_MS", "30000"), ("HOLD_TTL_SECS", "1")];
    let mut server = ServerProcess::start(&database, &env);
    let app = TestApp::attach(&server.address, &database);
    let buyers = join_all((0..300).map(|_| server.book_in_background("general", "3")));
    let held = || app.count_with_status(BookingStatus::Held);
    eventually("reservations under way", Duration::from_secs(20), || held() >= 30).await;
    server.signal("KILL");
    let _ = server.child.wait();
    drop(buyers);
    let (during, available) = (held(), app.tier("general").available);
    println!("killed with {during} holds; {available} seats left");
    app.assert_conservation();
    let _next = ServerProcess::start(&database, &env);
    eventually("every hold swept", Duration::from_secs(20), || held() == 0).await;
    assert_eq!(app.tier("general").available, 1000, "every seat back");
    app.assert_conservation();
}

/// This connection's counts for `bookings` from `view`: `pg_stat_user_tables` once this
/// backend's figures are reported (PostgreSQL does that at most once a second unless asked),
/// `pg_stat_xact_user_tables` for what this backend has not reported yet.
fn bookings_counts(conn: &mut techkraft_tickets::db::DbConnection, view: &str) -> TableCounts {
    use diesel::RunQueryDsl;
    let techkraft_tickets::db::DbConnection::Pg(pg) = conn else { panic!("PostgreSQL only") };
    if view == "pg_stat_user_tables" {
        diesel::sql_query("SELECT pg_stat_force_next_flush()").execute(pg).expect("report the counts");
    }
    diesel::sql_query(format!(
        "SELECT n_tup_upd, n_tup_hot_upd, seq_scan FROM {view} WHERE relname = 'bookings'"
    ))
    .get_result(pg)
    .expect("the table's counts")
}

#[derive(Debug, diesel::QueryableByName)]
struct TableCounts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n_tup_upd: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n_tup_hot_upd: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq_scan: i64,
}

/// Confirms `holds` in one quick statement on `conn`, as a desk would.
fn confirm_quickly(conn: &mut techkraft_tickets::db::DbConnection, holds: &[Booking], now: i64) {
    use techkraft_tickets::booking::pipeline::{self, Settlement};
    let key = techkraft_tickets::booking::tickets::signing_key(conn).expect("ticket key");
    let work: Vec<Work> = holds
        .iter()
        .enumerate()
        .map(|(i, b)| Work::Confirm { booking: b.clone(), transaction_id: format!("txn_1_{i:0>9}") })
        .collect();
    let quick = pipeline::serve_quick(conn, &holds[0].tier_id, &work, &key, now)
        .expect("the quick statement")
        .expect("served quickly");
    assert!(
        quick.answers.iter().all(|a| matches!(a, Some(Done::Settled(Settlement::Confirmed)))),
        "{:?}",
        quick.answers
    );
}

/// Adds `n` expired bookings of Front Row to the table (PostgreSQL), as a sale leaves them.
fn grow_bookings(conn: &mut techkraft_tickets::db::DbConnection, n: i32) {
    use diesel::RunQueryDsl;
    let techkraft_tickets::db::DbConnection::Pg(pg) = conn else { unreachable!() };
    diesel::sql_query(
        "INSERT INTO bookings (id, reference, tier_id, quantity, unit_price_cents, total_cents,
           customer_name, customer_email, status, hold_expires_at, created_at, updated_at)
         SELECT 'grown-' || g, 'GROWN-' || g, 'front-row', 1, 5000, 5000, 'Ada', 'ada@example.com',
           'expired', 0, 0, 0 FROM generate_series(1, $1) AS g",
    )
    .bind::<diesel::sql_types::Integer, _>(n)
    .execute(pg)
    .unwrap();
}

/// PostgreSQL: a confirmation changes no column that an index of `bookings` names, so each
/// row is updated in place on its page (a heap-only tuple) and no index gets a new entry.
#[actix_rt::test]
async fn confirmations_update_their_bookings_in_place() {
    require_postgres!();
    let app = spawn_app(Backend::Postgres, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let holds: Vec<Booking> = (0..10).map(|_| app.hold("general", 1, now)).collect();
    let mut conn = app.conn();
    let before = bookings_counts(&mut conn, "pg_stat_user_tables");
    confirm_quickly(&mut conn, &holds, now + 10);
    let after = bookings_counts(&mut conn, "pg_stat_user_tables");
    assert_eq!(
        (after.n_tup_upd - before.n_tup_upd, after.n_tup_hot_upd - before.n_tup_hot_upd),
        (10, 10),
        "ten confirmations, each in place: {before:?} then {after:?}"
    );
    app.assert_conservation();
}

/// PostgreSQL: the quick statement is prepared once per connection, maybe while `bookings`
/// is new, and its plan is kept while the table grows: the confirmations must still find their
/// rows by key, not by reading the table. (Without the desk's planning settings,
/// `db::plan_by_key`, the plan made here reads the table.)
#[actix_rt::test]
async fn confirmations_find_their_bookings_by_key_after_the_table_grew() {
    use diesel::{Connection, RunQueryDsl};
    require_postgres!();
    let app = spawn_app(Backend::Postgres, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let mut conn = app.conn();
    {
        let techkraft_tickets::db::DbConnection::Pg(pg) = &mut *conn else { unreachable!() };
        // No ANALYZE meanwhile (it would make the plan again, from the grown table).
        diesel::sql_query("ALTER TABLE bookings SET (autovacuum_enabled = off)").execute(pg).unwrap();
    }
    // As a desk plans on the connection it holds.
    techkraft_tickets::db::plan_by_key(&mut conn).unwrap();
    // Batches on this one connection while the table is new: the desk's connection plans
    // generically, so the plan made now is kept.
    for _ in 0..8 {
        let hold = app.hold("general", 1, now);
        confirm_quickly(&mut conn, &[hold], now + 10);
    }
    grow_bookings(&mut conn, 20_000);
    let held = app.hold("general", 1, now);
    // The counts not yet reported include this transaction's, before and after.
    let (before, after) = conn
        .transaction::<_, diesel::result::Error, _>(|c| {
            let before = bookings_counts(c, "pg_stat_xact_user_tables");
            confirm_quickly(c, std::slice::from_ref(&held), now + 10);
            Ok((before, bookings_counts(c, "pg_stat_xact_user_tables")))
        })
        .unwrap();
    assert_eq!(after.n_tup_upd - before.n_tup_upd, 1, "one confirmation: {before:?} then {after:?}");
    assert_eq!(
        after.seq_scan, before.seq_scan,
        "the confirmation read the whole table: {before:?} then {after:?}"
    );
    assert_eq!(app.status_of(&held), BookingStatus::Confirmed);
}

/// PostgreSQL: on a grown table whose statistics are known, the quick statement is planned
/// once per connection, not again for every batch. PostgreSQL makes a custom plan for each of a
/// prepared statement's first five runs, then keeps making one per run whenever its generic
/// plan looks dearer than their average, as it does here once `bookings` has been analysed with
/// many rows: planning then cost the desk's statement about half its time (measured: 3,000
/// against 4,600 bookings/s at 8 connections). The desk's connection plans generically
/// (`db::plan_by_key`); the plan finds its rows by key whatever the table's size (the test
/// above).
#[actix_rt::test]
async fn the_quick_statement_is_planned_once_on_a_grown_table() {
    use diesel::RunQueryDsl;
    require_postgres!();
    let app = spawn_app(Backend::Postgres, &[]).await;
    let now = techkraft_tickets::clock::now_millis();
    let mut conn = app.conn();
    grow_bookings(&mut conn, 20_000);
    {
        let techkraft_tickets::db::DbConnection::Pg(pg) = &mut *conn else { unreachable!() };
        diesel::sql_query("ANALYZE").execute(pg).unwrap();
    }
    // As a desk plans on the connection it holds.
    techkraft_tickets::db::plan_by_key(&mut conn).unwrap();
    let batches = 12;
    for _ in 0..batches {
        let hold = app.hold("general", 1, now);
        confirm_quickly(&mut conn, &[hold], now + 10);
    }
    let techkraft_tickets::db::DbConnection::Pg(pg) = &mut *conn else { unreachable!() };
    let plans: Vec<Plans> = diesel::sql_query(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements
          WHERE statement LIKE 'WITH unflushed AS%'",
    )
    .load(pg)
    .unwrap();
    let [plans] = plans.as_slice() else { panic!("one quick statement prepared: {plans:?}") };
    assert_eq!(plans.generic_plans + plans.custom_plans, batches, "{plans:?}");
    assert!(plans.custom_plans <= 5, "the statement was planned again for each batch: {plans:?}");
}

#[derive(Debug, diesel::QueryableByName)]
struct Plans {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    custom_plans: i64,
}

/// PostgreSQL: a desk gives its connection back to the pool as it took it (its planning
/// settings reset), once its tier has been idle for a while.
#[actix_rt::test]
async fn a_desk_gives_its_connection_back_as_it_took_it() {
    use std::sync::Arc;
    use techkraft_tickets::booking::desk::{Desks, Listeners};
    require_postgres!();
    let database = fresh_database(Backend::Postgres);
    let settings = crate::common::test_settings(&database, &[("DB_POOL_SIZE", "2")]);
    let pool = techkraft_tickets::db::build_pool(&settings).unwrap();
    techkraft_tickets::db::prepare_database(&pool, &settings).unwrap();
    techkraft_tickets::shared_secrets::establish(&pool, &settings).unwrap();
    let listeners = Listeners {
        availability: Arc::new(techkraft_tickets::booking::availability::Availability::new(
            Duration::from_millis(500),
        )),
        refunds_due: Arc::default(),
        emails_due: Arc::default(),
    };
    let desks = Desks::new(pool.clone(), listeners);
    let now = techkraft_tickets::clock::now_millis();
    for _ in 0..3 {
        let answer = desks.submit(Work::Reserve(new_hold("vip", 1, now))).await;
        assert!(matches!(answer, Ok(Done::Reserved(Reserved::Held(_)))), "{answer:?}");
    }
    // The desk keeps its connection 200 ms after its last batch.
    actix_rt::time::sleep(Duration::from_millis(700)).await;
    let mut both = [pool.get().unwrap(), pool.get().unwrap()];
    for conn in &mut both {
        let techkraft_tickets::db::DbConnection::Pg(pg) = &mut **conn else { unreachable!() };
        let changed: Vec<Setting> = diesel::RunQueryDsl::load(
            diesel::sql_query(
                "SELECT name FROM pg_settings
                  WHERE name IN ('enable_seqscan', 'jit', 'plan_cache_mode') AND setting <> reset_val",
            ),
            pg,
        )
        .unwrap();
        let names: Vec<&str> = changed.iter().map(|s| s.name.as_str()).collect();
        assert!(names.is_empty(), "a connection came back with {names:?} changed");
    }
}

#[derive(Debug, diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}
