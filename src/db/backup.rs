//! The SQL of a backup: SQLite's `VACUUM INTO` copies the database as one read transaction sees
//! it (a consistent snapshot; in WAL mode the servers keep reading and writing meanwhile), then
//! the copy is made a single self-contained file and checked.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

/// Why a copy could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("cannot open the database {path}")]
    Open {
        path: String,
        #[source]
        source: diesel::ConnectionError,
    },
    #[error("copying the database failed")]
    Copy(#[source] diesel::result::Error),
    #[error("the copy failed its integrity check: {0}")]
    Check(String),
    #[error("the path {0:?} is not valid UTF-8")]
    Path(String),
}

#[derive(QueryableByName)]
struct CheckRow {
    #[diesel(sql_type = Text)]
    quick_check: String,
}

/// Copies the SQLite database at `database` into the new file `into` (which must not exist),
/// leaves the copy in rollback-journal mode (one file, nothing beside it), and runs SQLite's
/// `quick_check` on it.
pub fn copy_sqlite(database: &Path, into: &Path) -> Result<(), CopyError> {
    let utf8 =
        |p: &Path| p.to_str().map(str::to_owned).ok_or_else(|| CopyError::Path(p.display().to_string()));
    let (database, into) = (utf8(database)?, utf8(into)?);
    let open = |path: &str| {
        SqliteConnection::establish(path).map_err(|source| CopyError::Open { path: path.to_owned(), source })
    };
    let mut source = open(&database)?;
    // Waits out a writer's checkpoint rather than failing; the copy itself only reads.
    source.batch_execute("PRAGMA busy_timeout = 10000;").map_err(CopyError::Copy)?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(&into)
        .execute(&mut source)
        .map_err(CopyError::Copy)?;
    drop(source);

    let mut copy = open(&into)?;
    copy.batch_execute("PRAGMA journal_mode = DELETE;").map_err(CopyError::Copy)?;
    let rows: Vec<CheckRow> =
        diesel::sql_query("PRAGMA quick_check").load(&mut copy).map_err(CopyError::Copy)?;
    let verdict: Vec<String> = rows.into_iter().map(|r| r.quick_check).collect();
    if verdict != ["ok"] {
        return Err(CopyError::Check(verdict.join("; ")));
    }
    Ok(())
}
