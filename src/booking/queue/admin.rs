//! The box office's controls of the line: pause (or resume) admissions, set the rate. Each is
//! one transaction under the line's lock, with its audit entry.

use diesel::QueryResult;

use super::line;
use crate::db::models::AuditEntry;
use crate::db::queue::QueueLine;
use crate::db::{DbConnection, write_transaction};

pub(super) fn rate_text(line: &QueueLine) -> String {
    format!("{}/min", line.rate_per_min)
}

pub(super) fn audit(
    c: &mut DbConnection,
    actor: &str,
    action: &str,
    before: String,
    after: String,
    now: i64,
) -> QueryResult<()> {
    AuditEntry {
        id: crate::settings::random_token(24),
        at: now,
        actor: actor.to_owned(),
        action: action.to_owned(),
        tier_id: None,
        before,
        after,
    }
    .insert(c)
}

/// The admin's pause or resume, audited; `None` if it was already so.
pub(super) fn pause(
    c: &mut DbConnection,
    paused: bool,
    actor: &str,
    now: i64,
) -> QueryResult<Option<QueueLine>> {
    write_transaction(c, |c| {
        let mut line = QueueLine::lock(c)?;
        if !line::pause(&mut line, paused, now) {
            return Ok(None);
        }
        line.updated_at = now;
        line.save(c)?;
        let (before, after) = if paused { ("admitting", "paused") } else { ("paused", "admitting") };
        audit(c, actor, "queue admissions", before.into(), after.into(), now)?;
        Ok(Some(line))
    })
}

/// The admin's change of rate, audited; `None` if it was already that.
pub(super) fn set_rate(
    c: &mut DbConnection,
    rate: i64,
    actor: &str,
    now: i64,
) -> QueryResult<Option<QueueLine>> {
    write_transaction(c, |c| {
        let mut line = QueueLine::lock(c)?;
        if line.rate_per_min == rate {
            return Ok(None);
        }
        let before = rate_text(&line);
        line::set_rate(&mut line, rate, now);
        line.updated_at = now;
        line.save(c)?;
        audit(c, actor, "queue rate", before, rate_text(&line), now)?;
        Ok(Some(line))
    })
}
