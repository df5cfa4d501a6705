//! Rapport's SQL store for SQLite (embedded default) and PostgreSQL (scaled out).
//!
//! The two backends share one schema and one SQL text: statements are written with `?`
//! placeholders and rewritten to `$n` for PostgreSQL. Reads return rows of [`SqlValue`];
//! writes are a [`Stmt`] batch run in one transaction, so the object rows and their
//! event rows (the transactional outbox) commit together or not at all. Callers compose
//! batches as data, which keeps every repository written once for both databases.

mod migrations;
mod postgres;
mod sqlite;
mod value;

use std::sync::Arc;

pub use sqlite::Durability;
pub use value::{FromColumn, Row, SqlValue, TakeColumn};

/// What went wrong in the store, in terms a caller can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// A statement marked [`Expect::One`] changed no row: someone else changed it first.
    #[error("the object was changed or removed concurrently")]
    Conflict,
    /// A unique index refused the write; carries the name of its table (the same on
    /// both databases), which callers compare to tell one refusal from another.
    #[error("a unique index of {0} refused the write")]
    Unique(String),
    /// Text with a NUL character, which PostgreSQL cannot store; refused on both databases
    /// so they behave alike.
    #[error("text must not contain the NUL character (\\u0000)")]
    NulInText,
    /// The database cannot write now (a read-only file or file system, a full disk, an
    /// I/O error): nothing was written, and writes work again once the cause is fixed.
    #[error("the database cannot write: {0}")]
    Unwritable(String),
    #[error("database error: {0}")]
    Backend(String),
    /// A row read that does not match what the query returned: a bug, named precisely.
    #[error("column `{column}`: {problem}")]
    Column { column: String, problem: String },
}

pub type DbResult<T> = Result<T, DbError>;

/// Which SQL dialect a statement runs on, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// How a JSON document field is read in SQL, for filters and sorting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    Text,
    Int,
    Bool,
}

impl Dialect {
    /// A SQL expression reading `field` of the `data` JSON column. `field` must be a known
    /// field name (letters, digits, `_`): it is spliced into the SQL text.
    pub fn json_field(self, field: &str, ty: JsonType) -> String {
        debug_assert!(field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        match (self, ty) {
            (Dialect::Sqlite, _) => format!("json_extract(data, '$.{field}')"),
            (Dialect::Postgres, JsonType::Text) => format!("(data::jsonb ->> '{field}')"),
            (Dialect::Postgres, JsonType::Int) => format!("((data::jsonb ->> '{field}')::bigint)"),
            (Dialect::Postgres, JsonType::Bool) => {
                format!("((data::jsonb ->> '{field}')::boolean)")
            }
        }
    }

    /// The clause that makes a `SELECT` hold its rows until commit where that is needed
    /// (PostgreSQL); SQLite's single writer needs none.
    pub fn share_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
        }
    }

    /// Appends event inserts to a write batch; returns where they stand in it.
    ///
    /// On PostgreSQL a sequence value is taken before commit, so a reader could see seq 11
    /// committed while 10 is still in flight and step over it for good. A transaction-scoped
    /// lock taken just before the inserts makes events commit in sequence order; a
    /// notification, delivered at commit, wakes the log's tailers on every node. SQLite has
    /// one writer, so no gaps; its tailers are woken in process.
    pub fn append_events(
        self,
        batch: &mut Vec<Stmt>,
        events: impl IntoIterator<Item = Stmt>,
    ) -> std::ops::Range<usize> {
        if self == Dialect::Postgres {
            batch.push(Stmt::new(EVENT_ORDER_LOCK, vec![]));
        }
        let start = batch.len();
        batch.extend(events);
        let end = batch.len();
        batch.extend(self.notify(EVENTS_CHANNEL));
        start..end
    }

    /// The statement that notifies `channel`'s listeners on every node when its
    /// transaction commits (PostgreSQL); none on SQLite, whose writers wake their own
    /// process.
    pub fn notify(self, channel: &str) -> Option<Stmt> {
        (self == Dialect::Postgres).then(|| Stmt::new(format!("SELECT pg_notify('{channel}', '')"), vec![]))
    }
}

/// The PostgreSQL statement that makes events commit in sequence order (see
/// [`Dialect::append_events`]); what follows it in a batch is the batch's event part.
pub(crate) const EVENT_ORDER_LOCK: &str = "SELECT pg_advisory_xact_lock(72432)";

/// Notifications from other nodes on one channel: PostgreSQL LISTEN on a connection of
/// its own (reconnected when it drops), or nothing on SQLite.
pub struct Listener(Option<tokio::sync::mpsc::Receiver<()>>);

impl Listener {
    /// Whether other nodes can wake this one (else it must poll for their writes).
    pub fn is_listening(&self) -> bool {
        self.0.is_some()
    }

    /// Resolves on the next notification; never when there is nothing to listen to.
    pub async fn notified(&mut self) {
        if let Some(notifications) = &mut self.0 {
            if notifications.recv().await.is_some() {
                return;
            }
            self.0 = None;
        }
        std::future::pending().await
    }
}

/// The PostgreSQL notification channel that announces new events.
pub const EVENTS_CHANNEL: &str = "rapport_events";

/// How many rows a statement in a batch must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Any,
    /// Exactly one, else the batch rolls back with [`DbError::Conflict`].
    One,
}

/// One statement of a write batch.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: String,
    pub params: Vec<SqlValue>,
    pub expect: Expect,
}

impl Stmt {
    pub fn new(sql: impl Into<String>, params: Vec<SqlValue>) -> Self {
        Stmt {
            sql: sql.into(),
            params,
            expect: Expect::Any,
        }
    }

    /// A statement that must change exactly one row (optimistic concurrency).
    pub fn one(sql: impl Into<String>, params: Vec<SqlValue>) -> Self {
        Stmt {
            sql: sql.into(),
            params,
            expect: Expect::One,
        }
    }
}

/// The result of one statement of a batch: rows it returned (`RETURNING`) and rows changed.
#[derive(Debug, Default)]
pub struct StmtOutput {
    pub rows: Vec<Row>,
    pub affected: u64,
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `postgres://…` or a SQLite file path (`sqlite://path` also accepted).
    pub url: String,
    pub sqlite_durability: Durability,
    pub max_connections: usize,
}

/// A database, embedded or server. Cheap to clone.
#[derive(Clone)]
pub enum Db {
    Sqlite(Arc<sqlite::SqliteDb>),
    Postgres(Box<postgres::PgDb>),
}

impl Db {
    /// Opens the database and brings its schema up to date. A PostgreSQL database that
    /// does not exist yet is created.
    pub async fn open(config: &DbConfig) -> DbResult<Db> {
        let db = if config.url.starts_with("postgres://") || config.url.starts_with("postgresql://") {
            Db::Postgres(Box::new(
                postgres::PgDb::connect(&config.url, config.max_connections).await?,
            ))
        } else {
            let path = config.url.strip_prefix("sqlite://").unwrap_or(&config.url);
            Db::Sqlite(Arc::new(sqlite::SqliteDb::open(
                path,
                config.sqlite_durability,
                config.max_connections,
            )?))
        };
        migrations::apply(&db).await?;
        Ok(db)
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a read and returns all rows.
    pub async fn query(&self, sql: &str, params: &[SqlValue]) -> DbResult<Vec<Row>> {
        refuse_nul(params)?;
        match self {
            Db::Sqlite(db) => db.query(sql, params),
            Db::Postgres(db) => db.query(sql, params).await,
        }
    }

    /// Runs a read expected to return at most one row.
    pub async fn query_opt(&self, sql: &str, params: &[SqlValue]) -> DbResult<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs the statements in one transaction, in order.
    pub async fn batch(&self, stmts: Vec<Stmt>) -> DbResult<Vec<StmtOutput>> {
        for stmt in &stmts {
            refuse_nul(&stmt.params)?;
        }
        match self {
            Db::Sqlite(db) => db.write(stmts).await,
            Db::Postgres(db) => db.batch(stmts).await,
        }
    }

    /// Wakes on every event committed by any node (PostgreSQL LISTEN/NOTIFY); never on
    /// SQLite (one process writes).
    pub fn listen_events(&self) -> Listener {
        self.listen(EVENTS_CHANNEL)
    }

    /// Wakes on every notification on `channel` from any node (PostgreSQL LISTEN/NOTIFY);
    /// never on SQLite.
    pub fn listen(&self, channel: &'static str) -> Listener {
        match self {
            Db::Sqlite(_) => Listener(None),
            Db::Postgres(db) => Listener(Some(db.listen(channel))),
        }
    }

    /// Runs one write statement on its own.
    pub async fn execute(&self, sql: &str, params: Vec<SqlValue>) -> DbResult<StmtOutput> {
        let mut out = self.batch(vec![Stmt::new(sql, params)]).await?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Runs one write statement in a transaction of its own, for small shared counters
    /// (rate limits, login attempts). On PostgreSQL it skips the group commit: a counter
    /// must not wait for other writes, nor lock its row until theirs commit (two nodes
    /// taking the same rows in another order would deadlock). On SQLite, whose one writer
    /// serves one node, it is [`Db::execute`].
    pub async fn execute_alone(&self, sql: &str, params: Vec<SqlValue>) -> DbResult<StmtOutput> {
        refuse_nul(&params)?;
        match self {
            Db::Sqlite(_) => self.execute(sql, params).await,
            Db::Postgres(db) => db.execute_alone(sql, &params).await,
        }
    }
}

fn refuse_nul(params: &[SqlValue]) -> DbResult<()> {
    match params
        .iter()
        .any(|p| matches!(p, SqlValue::Text(s) if s.contains('\0')))
    {
        true => Err(DbError::NulInText),
        false => Ok(()),
    }
}

/// Rewrites `?` placeholders as PostgreSQL's `$1, $2, …` (no literal `?` is used in SQL).
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
    }
}
