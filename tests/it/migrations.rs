//! The two migration trees describe one schema: the same migrations by name, and after
//! migrating, the same tables with the same columns and nullability on both backends.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use techkraft_tickets::db::{DbConnection, DbPool};

use crate::common::{Backend, TestDatabase, spawn_app};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

fn migrations(backend: Backend) -> EmbeddedMigrations {
    if backend == Backend::Postgres { PG_MIGRATIONS } else { SQLITE_MIGRATIONS }
}

/// A fresh database with the migrations before `upgrade` (a migration's name) applied, as a
/// database of the version before it would be; [`upgrade`] applies the rest. Keep the database
/// while the pool is in use.
fn migrated_before(backend: Backend, upgrade: &str) -> (TestDatabase, DbPool) {
    let database = crate::common::fresh_database(backend);
    let pool = crate::common::pool_for(&database);
    let mut conn = pool.get().unwrap();
    let before: Vec<_> = conn
        .pending_migrations(migrations(backend))
        .unwrap()
        .into_iter()
        .filter(|m| m.name().to_string().as_str() < upgrade)
        .collect();
    for migration in before {
        conn.run_migration(&*migration).unwrap();
    }
    drop(conn);
    (database, pool)
}

/// Applies the migrations not yet applied.
fn upgrade(conn: &mut DbConnection, backend: Backend) {
    conn.run_pending_migrations(migrations(backend)).unwrap();
}

#[test]
fn both_backends_have_the_same_migrations_by_name() {
    let names = |backend: &str| {
        let mut names: Vec<String> = std::fs::read_dir(format!("migrations/{backend}"))
            .expect("migrations folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let (pg, sqlite) = (names("postgres"), names("sqlite"));
    assert!(!pg.is_empty());
    assert_eq!(pg, sqlite, "migrations/postgres and migrations/sqlite must match by folder name");
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
}

async fn columns(backend: Backend) -> Vec<Column> {
    let app = spawn_app(backend, &[]).await;
    let sql = match backend {
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                    CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS not_null \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '\\_\\_diesel%'"
        }
        Backend::Sqlite => {
            // A primary key column is NOT NULL in PostgreSQL whether or not it says so.
            "SELECT m.name AS table_name, p.name AS column_name, (p.\"notnull\" OR p.pk > 0) AS not_null \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\' AND m.name NOT LIKE 'sqlite%'"
        }
    };
    let mut columns: Vec<Column> = diesel::sql_query(sql).load(&mut app.conn()).expect("columns");
    columns.sort();
    columns
}

#[actix_rt::test]
async fn both_backends_migrate_to_the_same_tables_and_columns() {
    require_postgres!();
    let (pg, sqlite) = (columns(Backend::Postgres).await, columns(Backend::Sqlite).await);
    assert!(pg.iter().any(|c| c.table_name == "bookings" && c.column_name == "status"), "{pg:?}");
    assert_eq!(pg, sqlite);
}

/// The sessions signed in before the upgrade survive it, with their roles.
async fn staff_sessions_keep_every_session_through_the_migration(backend: Backend) {
    let (_database, pool) = migrated_before(backend, "2026-12-02-190001");
    let mut conn = pool.get().unwrap();
    let conn = &mut *conn;
    diesel::sql_query(
        "INSERT INTO admin_sessions (id, csrf, created_at, expires_at, role) VALUES ('a1', 'c1', 1, 9, 'admin'), ('d1', 'c2', 2, 9, 'door')",
    )
    .execute(conn)
    .unwrap();
    upgrade(conn, backend);
    let kept: Vec<(String, String, String)> = techkraft_tickets::db::schema::staff_sessions::table
        .select((
            techkraft_tickets::db::schema::staff_sessions::id,
            techkraft_tickets::db::schema::staff_sessions::role,
            techkraft_tickets::db::schema::staff_sessions::csrf,
        ))
        .order(techkraft_tickets::db::schema::staff_sessions::id)
        .load(conn)
        .unwrap();
    assert_eq!(kept, [("a1".into(), "admin".into(), "c1".into()), ("d1".into(), "door".into(), "c2".into())]);
}

/// Holds made before the upgrade to hold deadlines, and holds the previous version goes on
/// inserting beside the new one during a rolling restart (it knows nothing of deadlines), all
/// get their deadline, so the new version's sweeper expires them.
async fn holds_made_before_and_beside_the_deadlines_migration_are_swept(backend: Backend) {
    use techkraft_tickets::db::hold_deadlines::HoldDeadline;
    let (_database, pool) = migrated_before(backend, "2026-12-07-100001");
    let mut conn = pool.get().unwrap();
    let conn = &mut *conn;
    let hold = |id: &str, status: &str, quantity: i32| {
        format!(
            "INSERT INTO bookings (id, reference, tier_id, quantity, unit_price_cents, total_cents, \
               customer_name, customer_email, status, hold_expires_at, created_at, updated_at) \
             VALUES ('{id}', 'REF-{id}', 'vip', {quantity}, 10000, {total}, 'Ada', 'ada@example.com', \
               '{status}', 1000, 1, 1)",
            total = 10_000 * quantity
        )
    };
    diesel::sql_query(
        "INSERT INTO ticket_tiers (id, name, price_cents, capacity, available, withheld, sort_order) \
         VALUES ('vip', 'VIP', 10000, 100, 94, 0, 0)",
    )
    .execute(conn)
    .unwrap();
    diesel::sql_query(hold("before", "held", 2)).execute(conn).unwrap();
    upgrade(conn, backend);
    diesel::sql_query(hold("beside", "held", 3)).execute(conn).unwrap();
    diesel::sql_query(hold("paid", "confirmed", 1)).execute(conn).unwrap();
    assert_eq!(HoldDeadline::count(conn).unwrap(), 2, "a deadline for each hold, none for the paid booking");

    let (expired, _) = techkraft_tickets::booking::pipeline::sweep(conn, 2_000).unwrap();
    let mut expired: Vec<String> = expired.into_iter().map(|b| b.id).collect();
    expired.sort();
    assert_eq!(expired, ["before", "beside"]);
    assert_eq!(techkraft_tickets::booking::Tier::find(conn, "vip").unwrap().unwrap().available, 99);
    assert_eq!(HoldDeadline::count(conn).unwrap(), 0);
}

both_backends!(
    staff_sessions_keep_every_session_through_the_migration,
    holds_made_before_and_beside_the_deadlines_migration_are_swept,
);
