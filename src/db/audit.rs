//! Queries on `audit_log`.

use diesel::prelude::*;

use super::DbConnection;
use super::models::AuditEntry;
use super::schema::audit_log;

impl AuditEntry {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(audit_log::table).values(self).execute(conn).map(|_| ())
    }

    pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<AuditEntry>> {
        audit_log::table
            .order((audit_log::at.desc(), audit_log::id.asc()))
            .limit(limit)
            .select(AuditEntry::as_select())
            .load(conn)
    }
}
