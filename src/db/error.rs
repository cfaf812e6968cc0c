//! Storage errors, and the one function that decides whether a failure is transient trouble
//! with the database (worth a `503` and a retry) or a fault (a `500`, logged as a bug).

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Why the database could not be used. Each variant keeps its cause as `source`.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had within the pool timeout (the database is down, unreachable
    /// or every connection is busy).
    #[error("no database connection")]
    Unavailable(#[from] r2d2::Error),
    /// The database refused a connection; the message is libpq's (password redacted).
    #[error("{0}")]
    Connect(String),
    #[error("database query failed")]
    Query(#[from] DieselError),
    #[error("migrations failed")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot create the database folder {path}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The database did not answer within the caller's patience (a refresh of the
    /// availability snapshot waiting behind a lock, say).
    #[error("the database did not answer within {0:?}")]
    Slow(std::time::Duration),
    /// A database task panicked: a bug, not an outage.
    #[error("a database task panicked")]
    TaskPanicked(#[source] tokio::task::JoinError),
}

impl DbError {
    /// True for trouble that goes away by itself (the database is restarting, failing over,
    /// unreachable, or busy): callers answer `503` and may retry. Everything else is a fault.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) | Self::Connect(_) | Self::Slow(_) => true,
            Self::Query(e) => is_transient_query_error(e),
            Self::Migration(_) | Self::Folder { .. } | Self::TaskPanicked(_) => false,
        }
    }
}

/// Classifies a Diesel error, most reliable sign first:
/// 1. the connection's state and SQLSTATE class, as Diesel reports them: a connection that
///    libpq marks bad, or SQLSTATE class 08 (connection exception), is `ClosedConnection`;
///    25006 (read-only transaction: the host is a standby now, after a failover) and 40001
///    (serialization failure) are retryable by definition;
/// 2. only then words, for what carries no code: SQLite's busy/locked after `busy_timeout`,
///    a PostgreSQL server shutting down (57P01–57P03 reach Diesel as `Unknown`), and PgBouncer
///    giving up on its server (08P01).
pub fn is_transient_query_error(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::ReadOnlyTransaction
            | DatabaseErrorKind::SerializationFailure,
            _,
        ) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            const SIGNS: [&str; 10] = [
                "database is locked",
                "database is busy",
                "terminating connection",
                "the database system is",
                "server closed the connection",
                "no connection to the server",
                // PgBouncer's own errors (SQLSTATE 08P01, which Diesel does not classify).
                "server login has been failing",
                "query_wait_timeout",
                "server conn crashed",
                "no more connections allowed",
            ];
            let message = info.message().to_ascii_lowercase();
            SIGNS.iter().any(|sign| message.contains(sign))
        }
        _ => false,
    }
}

/// An error and its causes on one line (`a: b: c`), for logs.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        // Some causes repeat their own source's text; say each thing once.
        if !text.ends_with(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(&'static str);
    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn db(kind: DatabaseErrorKind, message: &'static str) -> DbError {
        DbError::Query(DieselError::DatabaseError(kind, Box::new(Info(message))))
    }

    #[test]
    fn connection_state_and_sqlstate_decide_before_words() {
        assert!(db(DatabaseErrorKind::ClosedConnection, "whatever the words").is_transient());
        assert!(db(DatabaseErrorKind::ReadOnlyTransaction, "cannot execute UPDATE").is_transient());
        assert!(db(DatabaseErrorKind::Unknown, "database is locked").is_transient());
        // A constraint violation that happens to mention a connection is still a fault.
        assert!(!db(DatabaseErrorKind::CheckViolation, "connection refused").is_transient());
        assert!(!db(DatabaseErrorKind::Unknown, "syntax error at or near").is_transient());
        assert!(!DbError::Query(DieselError::NotFound).is_transient());
    }

    #[test]
    fn chains_name_every_cause_once() {
        let e = db(DatabaseErrorKind::Unknown, "relation \"x\" does not exist");
        assert_eq!(chain(&e), "database query failed: relation \"x\" does not exist");
    }
}
