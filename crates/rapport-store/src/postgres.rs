//! The scaled-out backend: PostgreSQL through a pool of `tokio-postgres` connections.
//!
//! **Group commit.** Reads go to the pool. Writes go to one writer task per node that
//! commits every batch waiting at that moment in one transaction, as the SQLite writer
//! does. Each batch runs in a savepoint of its own (a failing batch is rolled back alone
//! and answered with its error), its statements pipelined in one round trip. Every
//! batch's event part (the event-order lock, the event inserts, the notification; see
//! [`crate::Dialect::append_events`]) runs after all of them, so the lock that serializes
//! event commits across nodes is taken once per group, after every row lock the group
//! needs (no lock cycle with another node), and held for one commit instead of one per
//! write.

use std::error::Error as StdError;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::NoTls;

use crate::{numbered_placeholders, DbError, DbResult, Expect, Row, SqlValue, Stmt, StmtOutput, EVENT_ORDER_LOCK};

/// Most batches committed together (each holds a savepoint until the commit).
const MAX_GROUP: usize = 48;

#[derive(Clone)]
pub struct PgDb {
    pool: Pool,
    config: tokio_postgres::Config,
    writer: tokio::sync::mpsc::Sender<Pending>,
}

/// A batch waiting for the writer, and where its outcome goes.
struct Pending {
    stmts: Vec<Stmt>,
    reply: tokio::sync::oneshot::Sender<DbResult<Vec<StmtOutput>>>,
}

impl PgDb {
    pub async fn connect(url: &str, max_connections: usize) -> DbResult<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| DbError::Backend(format!("bad PostgreSQL URL: {e}")))?;
        create_database_if_missing(&config).await?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(2))
            .build()
            .map_err(|e| DbError::Backend(format!("cannot build the PostgreSQL pool: {e}")))?;
        // Fail at start-up, not on the first request, when the server is unreachable.
        drop(
            pool.get()
                .await
                .map_err(|e| DbError::Backend(format!("cannot connect to PostgreSQL: {e}")))?,
        );
        let (writer, pending) = tokio::sync::mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(write_groups(pool.clone(), pending));
        Ok(PgDb { pool, config, writer })
    }

    /// Listens on `channel` on a connection of its own, reconnecting when it drops; every
    /// notification (and every reconnection, which may have missed some) sends a wake-up.
    pub fn listen(&self, channel: &'static str) -> tokio::sync::mpsc::Receiver<()> {
        let (wake, woken) = tokio::sync::mpsc::channel(1);
        let config = self.config.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = listen_once(&config, channel, &wake).await {
                    tracing::warn!(error = %e, channel, "LISTEN connection lost; reconnecting");
                }
                if wake.is_closed() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        woken
    }

    /// A pooled connection and `sql` prepared on it (cached per connection).
    async fn prepared(&self, sql: &str) -> DbResult<(deadpool_postgres::Object, tokio_postgres::Statement)> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let stmt = client
            .prepare_cached(&numbered_placeholders(sql))
            .await
            .map_err(translate)?;
        Ok((client, stmt))
    }

    pub async fn query(&self, sql: &str, params: &[SqlValue]) -> DbResult<Vec<Row>> {
        let (client, stmt) = self.prepared(sql).await?;
        let rows = client.query(&stmt, &param_refs(params)).await.map_err(translate)?;
        decode_rows(&rows)
    }

    /// Runs one statement in a transaction of its own, on a pooled connection: outside
    /// the group commit, so it neither waits for other writes nor holds its row locks
    /// until they commit.
    pub async fn execute_alone(&self, sql: &str, params: &[SqlValue]) -> DbResult<StmtOutput> {
        let (client, stmt) = self.prepared(sql).await?;
        if stmt.columns().is_empty() {
            let affected = client.execute(&stmt, &param_refs(params)).await.map_err(translate)?;
            return Ok(StmtOutput {
                rows: Vec::new(),
                affected,
            });
        }
        let rows = client.query(&stmt, &param_refs(params)).await.map_err(translate)?;
        Ok(StmtOutput {
            affected: rows.len() as u64,
            rows: decode_rows(&rows)?,
        })
    }

    /// Runs the statements in one transaction, in order (committed with the other
    /// batches waiting at that moment).
    pub async fn batch(&self, stmts: Vec<Stmt>) -> DbResult<Vec<StmtOutput>> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let stopped = || DbError::Backend("the PostgreSQL writer has stopped".into());
        self.writer
            .send(Pending { stmts, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// The writer: takes every batch waiting, commits them as one group, answers each.
async fn write_groups(pool: Pool, mut pending: tokio::sync::mpsc::Receiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match pending.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match commit_group(&pool, &group).await {
            Ok(outcomes) => {
                for (batch, outcome) in group.into_iter().zip(outcomes) {
                    let _ = batch.reply.send(outcome);
                }
            }
            // Nothing was committed. A group of one has its answer; in a larger one, an
            // event part failed, so that its batch cannot be told apart: each alone.
            Err(GroupFailed::BeforeCommit(e)) if group.len() == 1 => {
                let _ = group.pop().map(|batch| batch.reply.send(Err(e)));
            }
            Err(GroupFailed::BeforeCommit(e)) => {
                tracing::debug!(error = %e, batches = group.len(), "group commit failed; committing its batches one by one");
                for batch in group {
                    let outcome = match commit_group(&pool, std::slice::from_ref(&batch)).await {
                        Ok(mut outcomes) => outcomes.pop().unwrap_or(Err(DbError::Conflict)),
                        Err(GroupFailed::BeforeCommit(e) | GroupFailed::AtCommit(e)) => Err(e),
                    };
                    let _ = batch.reply.send(outcome);
                }
            }
            // Whether the commit happened is unknown: never run the batches again.
            Err(GroupFailed::AtCommit(e)) => {
                for batch in group {
                    let _ = batch.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

enum GroupFailed {
    BeforeCommit(DbError),
    AtCommit(DbError),
}

/// One transaction: each batch's statements up to its event part in a savepoint of its
/// own, then the event parts of those that succeeded, then the commit.
async fn commit_group(pool: &Pool, group: &[Pending]) -> Result<Vec<DbResult<Vec<StmtOutput>>>, GroupFailed> {
    let before = GroupFailed::BeforeCommit;
    let mut client = pool.get().await.map_err(|e| before(pool_error(e)))?;
    let tx = client.transaction().await.map_err(|e| before(translate(e)))?;
    let mut outcomes = Vec::with_capacity(group.len());
    for (n, batch) in group.iter().enumerate() {
        let split = batch
            .stmts
            .iter()
            .position(|s| s.sql == EVENT_ORDER_LOCK)
            .unwrap_or(batch.stmts.len());
        let savepoint = format!("batch_{n}");
        match run_pipelined(&tx, Some(&savepoint), &batch.stmts[..split]).await {
            Ok(outputs) => outcomes.push(Ok((outputs, split))),
            Err(e) => {
                tx.batch_execute(&format!("ROLLBACK TO SAVEPOINT {savepoint}"))
                    .await
                    .map_err(|e| before(translate(e)))?;
                outcomes.push(Err(e));
            }
        }
    }
    let event_parts: Vec<Stmt> = group
        .iter()
        .zip(&outcomes)
        .filter_map(|(batch, outcome)| outcome.as_ref().ok().map(|(_, split)| &batch.stmts[*split..]))
        .flatten()
        .cloned()
        .collect();
    let mut event_outputs = run_pipelined(&tx, None, &event_parts)
        .await
        .map_err(before)?
        .into_iter();
    tx.commit().await.map_err(|e| GroupFailed::AtCommit(translate(e)))?;
    Ok(group
        .iter()
        .zip(outcomes)
        .map(|(batch, outcome)| {
            outcome.map(|(mut outputs, split)| {
                outputs.extend(event_outputs.by_ref().take(batch.stmts.len() - split));
                outputs
            })
        })
        .collect())
}

/// Runs statements in order in one round trip (after `SAVEPOINT savepoint`); the first
/// error, or `Conflict` when an [`Expect::One`] statement changed another number of rows.
///
/// The statements are prepared before any runs, which fails when one needs what an
/// earlier one creates (a migration's new table): such a batch runs one statement at a time.
async fn run_pipelined(
    tx: &deadpool_postgres::Transaction<'_>,
    savepoint: Option<&str>,
    stmts: &[Stmt],
) -> DbResult<Vec<StmtOutput>> {
    let opening = async {
        match savepoint {
            Some(name) => tx.batch_execute(&format!("SAVEPOINT {name}")).await,
            None => Ok(()),
        }
    };
    let preparing = futures_util::future::join_all(
        stmts
            .iter()
            .map(|stmt| async move { tx.prepare_cached(&numbered_placeholders(&stmt.sql)).await }),
    );
    let (opened, prepared) = futures_util::future::join(opening, preparing).await;
    opened.map_err(translate)?;
    let prepared = match prepared.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(prepared) => prepared,
        Err(e) => {
            let Some(name) = savepoint else {
                return Err(translate(e));
            };
            tx.batch_execute(&format!("ROLLBACK TO SAVEPOINT {name}"))
                .await
                .map_err(translate)?;
            return run_one_by_one(tx, stmts).await;
        }
    };
    // Polled in order, so sent in order: one round trip for all of them.
    let runs = stmts.iter().zip(&prepared).map(|(stmt, prepared)| async move {
        let params = param_refs(&stmt.params);
        if prepared.columns().is_empty() {
            let affected = tx.execute(prepared, &params).await.map_err(translate)?;
            Ok(StmtOutput {
                rows: Vec::new(),
                affected,
            })
        } else {
            let rows = tx.query(prepared, &params).await.map_err(translate)?;
            let rows = decode_rows(&rows)?;
            Ok(StmtOutput {
                affected: rows.len() as u64,
                rows,
            })
        }
    });
    let outputs = futures_util::future::join_all(runs).await;
    let mut checked = Vec::with_capacity(outputs.len());
    for (stmt, output) in stmts.iter().zip(outputs) {
        let output: StmtOutput = output?;
        if stmt.expect == Expect::One && output.affected != 1 {
            return Err(DbError::Conflict);
        }
        checked.push(output);
    }
    Ok(checked)
}

/// Prepares and runs each statement after the previous one.
async fn run_one_by_one(tx: &deadpool_postgres::Transaction<'_>, stmts: &[Stmt]) -> DbResult<Vec<StmtOutput>> {
    let mut outputs = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        let prepared = tx
            .prepare_cached(&numbered_placeholders(&stmt.sql))
            .await
            .map_err(translate)?;
        let params = param_refs(&stmt.params);
        let output = if prepared.columns().is_empty() {
            StmtOutput {
                rows: Vec::new(),
                affected: tx.execute(&prepared, &params).await.map_err(translate)?,
            }
        } else {
            let rows = tx.query(&prepared, &params).await.map_err(translate)?;
            let rows = decode_rows(&rows)?;
            StmtOutput {
                affected: rows.len() as u64,
                rows,
            }
        };
        if stmt.expect == Expect::One && output.affected != 1 {
            return Err(DbError::Conflict);
        }
        outputs.push(output);
    }
    Ok(outputs)
}

async fn listen_once(
    config: &tokio_postgres::Config,
    channel: &str,
    wake: &tokio::sync::mpsc::Sender<()>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages, mut incoming) = tokio::sync::mpsc::unbounded_channel();
    // The connection must be driven for LISTEN to run and notifications to arrive.
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            let done = message.is_err();
            if messages.send(message).is_err() || done {
                break;
            }
        }
    });
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    // Whatever was committed while not listening is read by the tailer on this wake-up.
    let _ = wake.try_send(());
    while let Some(message) = incoming.recv().await {
        match message {
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                // A full channel already holds a wake-up: the tailer reads everything new.
                let _ = wake.try_send(());
            }
            Ok(_) => {}
            Err(e) => {
                driver.abort();
                return Err(e);
            }
        }
        if wake.is_closed() {
            break;
        }
    }
    driver.abort();
    Ok(())
}

async fn create_database_if_missing(config: &tokio_postgres::Config) -> DbResult<()> {
    let Some(name) = config.get_dbname().map(str::to_string) else {
        return Ok(());
    };
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin
        .connect(NoTls)
        .await
        .map_err(|e| DbError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
    tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(translate)?;
    if exists.is_none() {
        let quoted = name.replace('"', "\"\"");
        match client.batch_execute(&format!("CREATE DATABASE \"{quoted}\"")).await {
            Ok(()) => tracing::info!(database = %name, "created the PostgreSQL database"),
            // Another node created it at the same moment.
            Err(e)
                if e.code() == Some(&SqlState::DUPLICATE_DATABASE) || e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            }
            Err(e) => return Err(DbError::Backend(format!("cannot create database `{name}`: {e}"))),
        }
    }
    Ok(())
}

fn param_refs(params: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// The rows of one result; they share one list of column names.
fn decode_rows(rows: &[tokio_postgres::Row]) -> DbResult<Vec<Row>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let names: std::sync::Arc<[String]> = first.columns().iter().map(|c| c.name().to_string()).collect();
    rows.iter().map(|row| decode_row(row, &names)).collect()
}

fn decode_row(row: &tokio_postgres::Row, names: &std::sync::Arc<[String]>) -> DbResult<Row> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(SqlValue::Int)),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|n| SqlValue::Int(n.into()))),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|n| SqlValue::Int(n.into()))),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|b| SqlValue::Int(b.into()))),
            Type::VOID => Ok(None),
            _ => row.try_get::<_, Option<String>>(i).map(|v| v.map(SqlValue::Text)),
        };
        values.push(value.map_err(translate)?.unwrap_or(SqlValue::Null));
    }
    Ok(Row::new(names.clone(), values))
}

impl ToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_string().to_sql(ty, out),
            },
            SqlValue::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn pool_error(e: deadpool_postgres::PoolError) -> DbError {
    DbError::Backend(format!("no PostgreSQL connection: {e}"))
}

fn translate(e: tokio_postgres::Error) -> DbError {
    if let Some(db) = e.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return DbError::Unique(db.table().unwrap_or("unknown").to_string());
        }
        let code = db.code();
        if [
            &SqlState::DISK_FULL,
            &SqlState::READ_ONLY_SQL_TRANSACTION,
            &SqlState::IO_ERROR,
        ]
        .contains(&code)
        {
            return DbError::Unwritable(format!("{}: {}", code.code(), db.message()));
        }
        return DbError::Backend(format!("{}: {}", db.code().code(), db.message()));
    }
    DbError::Backend(e.to_string())
}
