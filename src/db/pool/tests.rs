//! Unit tests of the parent module.

use super::*;

#[test]
fn network_timeouts_are_added_unless_the_url_sets_them() {
    assert_eq!(
        with_network_timeouts("postgres://u@h/db"),
        "postgres://u@h/db?connect_timeout=2&tcp_user_timeout=5000"
    );
    assert_eq!(
        with_network_timeouts("postgres://u@h/db?sslmode=disable&connect_timeout=9"),
        "postgres://u@h/db?sslmode=disable&connect_timeout=9&tcp_user_timeout=5000"
    );
}

#[test]
fn libpq_messages_become_one_line_without_the_password() {
    assert_eq!(url_password("postgres://tk:s3cret@db1,db2/shop"), Some("s3cret".to_owned()));
    assert_eq!(url_password("postgres://tk@db/shop"), None);
    assert_eq!(url_password("postgres://tk@db/shop?password=pw9&sslmode=off"), Some("pw9".to_owned()));
    let message = "connection to server at \"db\" (10.0.0.1), port 5432 failed: FATAL:  \
                   password authentication failed for user \"tk\" s3cret\n";
    assert_eq!(
        one_line(message, Some("s3cret")),
        "connection to server at \"db\" (10.0.0.1), port 5432 failed: FATAL: password \
         authentication failed for user \"tk\" ***"
    );
}

/// The SQLite compiled in is built with `.cargo/config.toml`'s options: no mutex per call on
/// a connection (pooled connections are used by one thread at a time) and no allocation
/// counting. Without them every booking pays for mutexes it does not need (see
/// docs/PERFORMANCE.md, "SQLite's mutexes").
#[test]
fn the_bundled_sqlite_is_built_multi_thread_without_memory_counting() {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }
    let mut conn = diesel::SqliteConnection::establish(":memory:").expect("an in-memory SQLite");
    let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
        .load::<CompileOption>(&mut conn)
        .expect("SQLite lists its compile-time options")
        .into_iter()
        .map(|o| o.compile_options)
        .collect();
    assert!(options.iter().any(|o| o == "THREADSAFE=2"), "compiled with {options:?}");
    assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "compiled with {options:?}");
}
