//! A fresh database (and broker topology) per measurement, removed after it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use rapport_queue::Queue;
use rapport_store::{Db, DbConfig, Durability};

use super::Backend;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A fresh database (and, for RabbitMQ, a fresh topology) for one measurement.
pub(super) struct Fixture {
    pub(super) db: Db,
    pub(super) queue: Queue,
    _cleanup: Cleanup,
}

/// Removes a fixture's database when dropped, even after a failure.
struct Cleanup {
    sqlite_dir: Option<PathBuf>,
    postgres_db: Option<String>,
}

impl Fixture {
    async fn open(backend: Backend) -> anyhow::Result<Fixture> {
        let tag = unique();
        let mut cleanup = Cleanup {
            sqlite_dir: None,
            postgres_db: None,
        };
        let url = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("rapport-bench-jobs-{tag}"));
                std::fs::create_dir_all(&dir)?;
                cleanup.sqlite_dir = Some(dir.clone());
                dir.join("rapport.db").to_string_lossy().into_owned()
            }
            Backend::Postgres | Backend::RabbitMq => {
                let name = format!("rapport_bench_jobs_{tag}");
                cleanup.postgres_db = Some(name.clone());
                format!("{POSTGRES}/{name}")
            }
        };
        let config = DbConfig {
            url,
            sqlite_durability: Durability::Normal,
            max_connections: 16,
        };
        let db = Db::open(&config).await.context("opening the benchmark's database")?;
        let queue = match backend {
            Backend::RabbitMq => Queue::rabbitmq(db.clone(), AMQP, &format!("rapport_bench_{tag}"))
                .await
                .context("RabbitMQ at 127.0.0.1:5672")?,
            _ => Queue::embedded(db.clone()),
        };
        Ok(Fixture {
            db,
            queue,
            _cleanup: cleanup,
        })
    }

    /// Runs `measure` on a fresh fixture, then deletes the broker's topology, whatever
    /// the outcome (the database goes when the fixture is dropped).
    pub(super) async fn with<T>(
        backend: Backend,
        measure: impl AsyncFnOnce(&Fixture) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let fixture = Fixture::open(backend).await?;
        let result = measure(&fixture).await;
        let deleted = fixture.queue.delete_topology().await;
        let out = result?;
        deleted.context("deleting the RabbitMQ topology")?;
        Ok(out)
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(db) = &self.postgres_db {
            let _ = std::process::Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-qc"])
                .arg(format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                .output();
        }
    }
}

/// A name no other fixture of any run uses.
pub(super) fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{:x}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
