//! Where a database's schema stands against this binary's migrations, read without changing
//! anything (Diesel's own harness would create its bookkeeping table first): for
//! `check-config`.

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use crate::db::{DbConnection, DbError};

/// This binary's migrations against the database's record of applied ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub applied: usize,
    /// This binary's migrations not yet applied (the next start or `migrate` applies them).
    pub pending: Vec<String>,
    /// Applied migrations this binary does not know: a newer version migrated the database.
    pub unknown: Vec<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Compares the applied migrations with this binary's.
pub fn migration_state(conn: &mut DbConnection) -> Result<MigrationState, DbError> {
    fn versions<DB: diesel::backend::Backend>(
        source: &impl MigrationSource<DB>,
    ) -> Result<Vec<String>, DbError> {
        let list = source.migrations().map_err(DbError::Migration)?;
        Ok(list.iter().map(|m| m.name().version().to_string()).collect())
    }
    let (ours, exists) = match conn {
        DbConnection::Pg(_) => (
            versions::<diesel::pg::Pg>(&POSTGRES_MIGRATIONS)?,
            "SELECT count(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '__diesel_schema_migrations'",
        ),
        DbConnection::Sqlite(_) => (
            versions::<diesel::sqlite::Sqlite>(&SQLITE_MIGRATIONS)?,
            "SELECT count(*) AS n FROM sqlite_master \
             WHERE type = 'table' AND name = '__diesel_schema_migrations'",
        ),
    };
    let recorded = diesel::sql_query(exists).get_result::<Count>(conn)?.n > 0;
    let applied: Vec<String> = if recorded {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)?
            .into_iter()
            .map(|v| v.version)
            .collect()
    } else {
        Vec::new()
    };
    Ok(MigrationState {
        applied: applied.len(),
        pending: ours.iter().filter(|v| !applied.contains(v)).cloned().collect(),
        unknown: applied.iter().filter(|v| !ours.contains(v)).cloned().collect(),
    })
}
