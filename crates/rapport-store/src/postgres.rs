//! The scaled-out backend: PostgreSQL through a pool of `tokio-postgres` connections.

use std::error::Error as StdError;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::NoTls;

use crate::{numbered_placeholders, DbError, DbResult, Expect, Row, SqlValue, Stmt, StmtOutput};

#[derive(Clone)]
pub struct PgDb {
    pool: Pool,
    config: tokio_postgres::Config,
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
        Ok(PgDb { pool, config })
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

    pub async fn query(&self, sql: &str, params: &[SqlValue]) -> DbResult<Vec<Row>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let stmt = client
            .prepare_cached(&numbered_placeholders(sql))
            .await
            .map_err(translate)?;
        let rows = client.query(&stmt, &param_refs(params)).await.map_err(translate)?;
        rows.iter().map(decode_row).collect()
    }

    pub async fn batch(&self, stmts: &[Stmt]) -> DbResult<Vec<StmtOutput>> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(translate)?;
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
                let rows = rows.iter().map(decode_row).collect::<DbResult<Vec<_>>>()?;
                StmtOutput {
                    affected: rows.len() as u64,
                    rows,
                }
            };
            if stmt.expect == Expect::One && output.affected != 1 {
                return Err(DbError::Conflict); // dropping `tx` rolls back
            }
            outputs.push(output);
        }
        tx.commit().await.map_err(translate)?;
        Ok(outputs)
    }
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

fn decode_row(row: &tokio_postgres::Row) -> DbResult<Row> {
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
    Ok(values)
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
            return DbError::Unique(db.constraint().unwrap_or("unique").to_string());
        }
        return DbError::Backend(format!("{}: {}", db.code().code(), db.message()));
    }
    DbError::Backend(e.to_string())
}
