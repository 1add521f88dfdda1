//! `keep_prepared()`: a diesel query kept in the connection's prepared-statement cache
//! even where diesel would prepare it afresh on every call.

/// A write whose SQL never varies, kept as a prepared statement.
///
/// Diesel prepares every UPDATE and every `ON CONFLICT … DO UPDATE` afresh on each call
/// (some changesets skip `None` fields, so their SQL could vary) and, on PostgreSQL, every
/// insert with an optional column. A send-code ran six such statements: SQLite parsed and
/// planned each one every time, PostgreSQL too. Wrapped queries are cached by their SQL
/// text and bind types, so even one that did vary would only get one cache entry per
/// form; wrap only queries with a fixed set of forms (no `IN` lists).
#[derive(Debug, Clone, Copy)]
pub struct KeepPrepared<Q>(Q);

pub trait KeepPreparedDsl: Sized {
    fn keep_prepared(self) -> KeepPrepared<Self> {
        KeepPrepared(self)
    }
}

impl<Q> KeepPreparedDsl for Q {}

impl<Q> diesel::query_builder::QueryId for KeepPrepared<Q> {
    type QueryId = ();
    // Not a static id: the cache keys these by their SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for KeepPrepared<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for KeepPrepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> diesel::RunQueryDsl<C> for KeepPrepared<Q> {}
