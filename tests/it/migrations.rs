//! The two migration trees describe one schema: the same migrations by name, and after
//! migrating, the same tables with the same columns and nullability on both backends.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use crate::common::{Backend, spawn_app};

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
