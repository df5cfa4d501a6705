//! The embedded backend: one SQLite file in WAL mode, one writer connection and a small
//! pool of readers. Reads run inline (they take microseconds); write batches run on the
//! blocking pool, one at a time, as SQLite allows a single writer anyway.

use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::{DbError, DbResult, Expect, Row, SqlValue, Stmt, StmtOutput};

/// How hard a commit works to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a committed write survives a crash of the process
    /// (`kill -9`); the last commits may be lost if the machine loses power. The default:
    /// commits do not wait for fsync, which is what makes writes fast.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced, so it survives power loss too.
    Full,
}

pub struct SqliteDb {
    path: String,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    max_readers: usize,
}

impl SqliteDb {
    pub fn open(path: &str, durability: Durability, max_readers: usize) -> DbResult<Self> {
        let writer = connect(path, durability)?;
        Ok(SqliteDb {
            path: path.to_string(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            max_readers: max_readers.max(1),
        })
    }

    pub fn query(&self, sql: &str, params: &[SqlValue]) -> DbResult<Vec<Row>> {
        let conn = match self.readers.lock().expect("reader pool lock").pop() {
            Some(conn) => conn,
            None => connect(&self.path, Durability::Normal)?,
        };
        let result = run_query(&conn, sql, params);
        let mut readers = self.readers.lock().expect("reader pool lock");
        if readers.len() < self.max_readers {
            readers.push(conn);
        }
        result
    }

    pub fn batch(&self, stmts: &[Stmt]) -> DbResult<Vec<StmtOutput>> {
        let mut conn = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let mut outputs = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            let mut prepared = tx.prepare_cached(&stmt.sql).map_err(backend)?;
            let output = if prepared.column_count() > 0 {
                let rows = collect_rows(&mut prepared, &stmt.params)?;
                StmtOutput {
                    affected: rows.len() as u64,
                    rows,
                }
            } else {
                let affected = prepared
                    .execute(rusqlite::params_from_iter(stmt.params.iter()))
                    .map_err(translate)? as u64;
                StmtOutput {
                    rows: Vec::new(),
                    affected,
                }
            };
            if stmt.expect == Expect::One && output.affected != 1 {
                return Err(DbError::Conflict); // dropping `tx` rolls back
            }
            outputs.push(output);
        }
        tx.commit().map_err(translate)?;
        Ok(outputs)
    }
}

fn connect(path: &str, durability: Durability) -> DbResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| DbError::Backend(format!("cannot open SQLite database `{path}`: {e}")))?;
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;"
    ))
    .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

fn run_query(conn: &Connection, sql: &str, params: &[SqlValue]) -> DbResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    collect_rows(&mut stmt, params)
}

fn collect_rows(stmt: &mut rusqlite::CachedStatement<'_>, params: &[SqlValue]) -> DbResult<Vec<Row>> {
    let columns = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(translate)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(translate)? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match row.get_ref(i).map_err(backend)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(n) => SqlValue::Int(n),
                ValueRef::Real(f) => SqlValue::Text(f.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
            });
        }
        out.push(values);
    }
    Ok(out)
}

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn backend(e: rusqlite::Error) -> DbError {
    DbError::Backend(e.to_string())
}

fn translate(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(code, Some(message)) = &e {
        if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        {
            return DbError::Unique(message.clone());
        }
    }
    backend(e)
}
