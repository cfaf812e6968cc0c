//! Statements kept prepared on their connection that diesel would prepare again every time.
//!
//! Diesel keeps a statement prepared when the statement's type fixes its text. It never does
//! for an `UPDATE` (a changeset may skip the columns it is given `None` for, so the type
//! alone does not fix the text) nor for `sql_query` (the text is any string). On SQLite a
//! tier's desk runs its conditional update and its confirmations for every batch, and SQLite
//! parsed both again each time. [`Prepared`] marks one such statement whose text does not
//! change and gives it a name of its own in diesel's cache.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// `query`, kept prepared under the name `M`.
///
/// Only for a query that is built to the same text every time: a changeset of plain
/// assignments (no `Option` that could skip a column), no list of values (`eq_any`, a
/// `Vec` of rows), a fixed `sql_query` text. `M` must be a type used for this statement
/// alone: diesel finds the prepared statement by it, so two statements under one name would
/// run each other's text.
pub struct Prepared<M, Q> {
    query: Q,
    name: PhantomData<M>,
}

impl<M, Q> Prepared<M, Q> {
    pub fn new(query: Q) -> Self {
        Self { query, name: PhantomData }
    }
}

impl<M: 'static, Q> QueryId for Prepared<M, Q> {
    type QueryId = M;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<M, Q: Query> Query for Prepared<M, Q> {
    type SqlType = Q::SqlType;
}

impl<DB: Backend, M, Q: QueryFragment<DB>> QueryFragment<DB> for Prepared<M, Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    /// The text is fixed (see the type's documentation), whatever the parts say of
    /// themselves. (Diesel hides this method from its documentation; overriding it is how a
    /// query says it may be cached.)
    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Conn, M, Q> diesel::RunQueryDsl<Conn> for Prepared<M, Q> {}
