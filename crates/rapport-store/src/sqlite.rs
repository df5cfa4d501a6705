//! The embedded backend: one SQLite file in WAL mode, one writer thread and a small pool
//! of readers. Reads run inline (they take microseconds). Writes go to the writer thread,
//! which commits every batch waiting at that moment in one transaction (group commit),
//! each batch inside its own savepoint so one that fails leaves the others untouched:
//! SQLite allows one writer anyway, and the commit is the expensive part.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

type WriteReply = tokio::sync::oneshot::Sender<DbResult<Vec<StmtOutput>>>;

const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// The size the WAL file is cut back to when it starts over (bytes).
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// Most batches one transaction takes, so a long queue still commits in steady steps.
const MAX_GROUP: usize = 128;

pub struct SqliteDb {
    /// Tells the checkpointer thread to stop.
    stopped: Arc<AtomicBool>,
    path: String,
    writes: Mutex<mpsc::Sender<(Vec<Stmt>, WriteReply)>>,
    readers: Mutex<Vec<Connection>>,
    max_readers: usize,
}

impl SqliteDb {
    pub fn open(path: &str, durability: Durability, max_readers: usize) -> DbResult<Self> {
        let mut writer = connect(path, durability)?;
        // Checkpoints copy the WAL back into the database file and fsync it. Run from the
        // writer they stall every write behind them; a separate thread does them
        // passively instead (never blocking the writer or readers).
        writer.execute_batch("PRAGMA wal_autocheckpoint=0").map_err(backend)?;
        writer
            .execute_batch(&format!("PRAGMA journal_size_limit={WAL_SIZE_LIMIT}"))
            .map_err(backend)?;
        let checkpointer = connect(path, durability)?;
        // Never wait for readers: a checkpoint that cannot finish now tries again later,
        // whereas waiting would hold the write lock and stall every write behind it.
        checkpointer.execute_batch("PRAGMA busy_timeout=0").map_err(backend)?;
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if let Err(e) = checkpoint(&checkpointer) {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                    }
                }
            })
            .map_err(|e| DbError::Backend(format!("cannot start the SQLite checkpointer: {e}")))?;
        let (writes, queue) = mpsc::channel::<(Vec<Stmt>, WriteReply)>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                // Ends when the database (and so the sender) is dropped.
                while let Ok(first) = queue.recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match queue.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    commit_group(&mut writer, group);
                }
            })
            .map_err(|e| DbError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(SqliteDb {
            stopped,
            path: path.to_string(),
            writes: Mutex::new(writes),
            readers: Mutex::new(Vec::new()),
            max_readers: max_readers.max(1),
        })
    }

    /// Queues a batch for the writer thread and waits for its commit.
    pub async fn write(&self, stmts: Vec<Stmt>) -> DbResult<Vec<StmtOutput>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writes
            .lock()
            .expect("writer queue lock")
            .send((stmts, reply))
            .map_err(|_| DbError::Backend("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbError::Backend("the SQLite writer dropped a batch".into()))?
    }

    pub fn query(&self, sql: &str, params: &[SqlValue]) -> DbResult<Vec<Row>> {
        let conn = match self.readers.lock().expect("reader pool lock").pop() {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.path, Durability::Normal)?;
                // Readers keep more pages than the writer, whose commits walk its whole cache.
                conn.execute_batch("PRAGMA cache_size=-32768").map_err(backend)?;
                conn
            }
        };
        let result = run_query(&conn, sql, params);
        let mut readers = self.readers.lock().expect("reader pool lock");
        if readers.len() < self.max_readers {
            readers.push(conn);
        }
        result
    }
}

/// Commits a group of batches in one transaction, each in a savepoint; answers each.
fn commit_group(conn: &mut Connection, group: Vec<(Vec<Stmt>, WriteReply)>) {
    let mut results: Vec<(DbResult<Vec<StmtOutput>>, WriteReply)> = Vec::with_capacity(group.len());
    let began = conn.execute_batch("BEGIN IMMEDIATE").map_err(backend);
    if let Err(e) = began {
        for (_, reply) in group {
            let _ = reply.send(Err(e.clone()));
        }
        return;
    }
    let mut group = group.into_iter();
    while let Some((stmts, reply)) = group.next() {
        let result = conn
            .execute_batch("SAVEPOINT batch")
            .map_err(backend)
            .and_then(|()| run_batch(conn, &stmts));
        if result.is_err() && conn.is_autocommit() {
            // Some errors (a full disk, I/O) make SQLite roll the whole transaction back:
            // every batch of the group so far is undone, and none after it may run in it.
            let message = "the database rolled the write back; try again";
            for (_, earlier) in results.drain(..) {
                let _ = earlier.send(Err(DbError::Unwritable(message.into())));
            }
            let _ = reply.send(result.and(Err(DbError::Unwritable(message.into()))));
            for (_, later) in group.by_ref() {
                let _ = later.send(Err(DbError::Unwritable(message.into())));
            }
            return;
        }
        let undo = if result.is_ok() {
            "RELEASE batch"
        } else {
            "ROLLBACK TO batch; RELEASE batch"
        };
        let result = match conn.execute_batch(undo) {
            Ok(()) => result,
            Err(e) => Err(backend(e)),
        };
        results.push((result, reply));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (result, reply) in results {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let failed = backend(e);
            for (_, reply) in results {
                let _ = reply.send(Err(failed.clone()));
            }
        }
    }
}

fn run_batch(conn: &Connection, stmts: &[Stmt]) -> DbResult<Vec<StmtOutput>> {
    let mut outputs = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        let mut prepared = conn.prepare_cached(&stmt.sql).map_err(backend)?;
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
            return Err(DbError::Conflict);
        }
        outputs.push(output);
    }
    Ok(outputs)
}

impl Drop for SqliteDb {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

/// Copies the WAL into the database without blocking anyone. Once all of it is copied,
/// SQLite's next write starts the WAL over from its beginning by itself, and cuts the file
/// back to `journal_size_limit`: the WAL neither grows without bound nor slows readers.
/// (A `TRUNCATE` checkpoint here did the same but took the write lock for its fsync and
/// truncation, stalling the writes queued behind it: the chat benchmark's p99 was 67 ms
/// with it and 7 ms without.)
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
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
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; \
         PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY;"
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
    let names: std::sync::Arc<[String]> = stmt.column_names().into_iter().map(str::to_string).collect();
    let columns = names.len();
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
        out.push(Row::new(names.clone(), values));
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
    use rusqlite::ErrorCode::{CannotOpen, DiskFull, ReadOnly, SystemIoFailure};
    match e.sqlite_error_code() {
        Some(ReadOnly | DiskFull | SystemIoFailure | CannotOpen) => DbError::Unwritable(e.to_string()),
        _ => DbError::Backend(e.to_string()),
    }
}

fn translate(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(code, Some(message)) = &e {
        if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        {
            // "UNIQUE constraint failed: table.column, table.column"
            let table = message
                .rsplit("failed: ")
                .next()
                .and_then(|columns| columns.split('.').next())
                .unwrap_or("unknown");
            return DbError::Unique(table.trim().to_string());
        }
    }
    backend(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database SQLite cannot write (read-only here; a full disk or an I/O error alike)
    /// is `Unwritable`, which the API answers 503, not an internal error.
    #[test]
    fn a_read_only_database_is_unwritable() {
        let path = std::env::temp_dir().join(format!("rapport-readonly-{}.db", std::process::id()));
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let read_only = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let error = read_only.execute("INSERT INTO t (x) VALUES (1)", []).unwrap_err();
        assert!(matches!(backend(error), DbError::Unwritable(_)));
        let _ = std::fs::remove_file(&path);
    }
}
