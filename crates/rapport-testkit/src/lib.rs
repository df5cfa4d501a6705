//! Test support shared by the crates' integration tests: a fresh database per test — a
//! SQLite file in a temp dir, or a new PostgreSQL database — removed when the test ends,
//! even when it fails.
//!
//! A service that does not answer skips the test loudly, unless `RAPPORT_REQUIRE_POSTGRES=1`
//! (or `RAPPORT_REQUIRE_RABBITMQ=1`) makes it a failure, as CI does.

pub mod smtp;

use std::path::PathBuf;

use rapport_store::{Db, DbConfig, Durability};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A name no other test run uses (process id and clock).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}_{}_{:x}_{n}", std::process::id(), nanos & 0xffff_ffff)
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn postgres_base() -> String {
    std::env::var("RAPPORT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The RabbitMQ server of the tests (`RAPPORT_TEST_AMQP_URL`, default the local guest).
pub fn amqp_url() -> String {
    std::env::var("RAPPORT_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Whether RabbitMQ answers; `false` skips loudly, or fails when it is required.
pub async fn rabbitmq_available(test: &str) -> bool {
    if tokio::net::TcpStream::connect("127.0.0.1:5672").await.is_ok() {
        return true;
    }
    let required = std::env::var("RAPPORT_REQUIRE_RABBITMQ").is_ok_and(|v| v == "1");
    assert!(!required, "RabbitMQ is required but 127.0.0.1:5672 does not answer");
    eprintln!("\n*** SKIPPED {test} on RabbitMQ: no server at 127.0.0.1:5672 ***\n");
    false
}

/// A database for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    dir: Option<PathBuf>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// `None` when PostgreSQL does not answer and `RAPPORT_REQUIRE_POSTGRES` is not `1`
    /// (said loudly); with it set, a missing server fails the test.
    pub async fn new(backend: Backend, test: &str) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique("rapport-test"));
                std::fs::create_dir_all(&dir).unwrap();
                Some(TestDb {
                    url: dir.join("rapport.db").to_string_lossy().into_owned(),
                    backend,
                    dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let base = postgres_base();
                let address = base.rsplit('@').next().unwrap_or("127.0.0.1:5432").to_string();
                if tokio::net::TcpStream::connect(address).await.is_err() {
                    let required = std::env::var("RAPPORT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
                    assert!(!required, "PostgreSQL is required but {base} does not answer");
                    eprintln!("\n*** SKIPPED {test} on PostgreSQL: no server at {base} ***\n");
                    return None;
                }
                let name = unique("rapport_test");
                Some(TestDb {
                    url: format!("{base}/{name}"),
                    backend,
                    dir: None,
                    postgres: Some((base, name)),
                })
            }
        }
    }

    /// Opens the database (creating it and its schema).
    pub async fn open(&self) -> Db {
        let config = DbConfig {
            url: self.url.clone(),
            sqlite_durability: Durability::Normal,
            max_connections: 32,
        };
        Db::open(&config).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((base, name)) = self.postgres.clone() {
            // A runtime of its own on a thread of its own: Drop runs inside the test's runtime.
            let dropper = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let url = format!("{base}/postgres");
                    if let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                        tokio::spawn(connection);
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .await;
                    }
                });
            });
            let _ = dropper.join();
        }
    }
}

/// Declares each listed `async fn(&TestDb)` once per backend: `sqlite::name`, `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Sqlite, stringify!($name)).await {
                        super::$name(&db).await
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres, stringify!($name)).await {
                        super::$name(&db).await
                    }
                }
            )*
        }
    };
}

/// A RabbitMQ virtual host of one test, deleted with everything in it when dropped.
pub struct RabbitVhost {
    pub name: String,
}

impl RabbitVhost {
    /// `None` when RabbitMQ is absent and not required (said loudly).
    pub fn create(test: &str) -> Option<RabbitVhost> {
        let reachable =
            std::net::TcpStream::connect_timeout(&"127.0.0.1:5672".parse().unwrap(), std::time::Duration::from_secs(2))
                .is_ok();
        if !reachable {
            let required = std::env::var("RAPPORT_REQUIRE_RABBITMQ").is_ok_and(|v| v == "1");
            assert!(!required, "RabbitMQ is required but 127.0.0.1:5672 does not answer");
            eprintln!("\n*** SKIPPED {test} on RabbitMQ: no server at 127.0.0.1:5672 ***\n");
            return None;
        }
        let name = unique("rapport_test");
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        Some(RabbitVhost { name })
    }

    /// The AMQP URL of this virtual host, as the local guest.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }
}

impl Drop for RabbitVhost {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.name])
            .output();
    }
}

/// Whether `rabbitmqctl` can stop and start the local broker; `false` skips `test` loudly,
/// or fails it when `RAPPORT_REQUIRE_RABBITMQ=1`.
pub fn broker_control_available(test: &str) -> bool {
    if rabbitmqctl_ok("status") {
        return true;
    }
    let required = std::env::var("RAPPORT_REQUIRE_RABBITMQ").is_ok_and(|v| v == "1");
    assert!(!required, "RabbitMQ is required but rabbitmqctl cannot reach it");
    eprintln!("\n*** SKIPPED {test}: no working rabbitmqctl ***\n");
    false
}

/// The local broker with its application stopped (`rabbitmqctl stop_app`); started again
/// when dropped, also when the test fails. Both block on `rabbitmqctl`.
pub struct StoppedBroker(());

impl StoppedBroker {
    pub fn stop() -> StoppedBroker {
        assert!(rabbitmqctl_ok("stop_app"), "rabbitmqctl stop_app failed");
        StoppedBroker(())
    }
}

impl Drop for StoppedBroker {
    fn drop(&mut self) {
        if !rabbitmqctl_ok("start_app") {
            eprintln!("rabbitmqctl start_app failed: start RabbitMQ by hand");
        }
    }
}

fn rabbitmqctl_ok(command: &str) -> bool {
    std::process::Command::new("rabbitmqctl")
        .arg(command)
        .output()
        .is_ok_and(|out| out.status.success())
}

fn rabbitmqctl(args: &[&str]) {
    let out = std::process::Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (RabbitMQ's command-line tool)");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How jobs reach workers in a test of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Workers claim rows of the ledger.
    Embedded,
    /// Through RabbitMQ (with PostgreSQL).
    RabbitMq,
}

/// Declares each listed `async fn(&TestDb, Transport)` once per transport:
/// `sqlite::name` and `postgres::name` (embedded), and `rabbitmq::name` (PostgreSQL and
/// RabbitMQ, skipped loudly without a server unless `RAPPORT_REQUIRE_RABBITMQ=1`).
#[macro_export]
macro_rules! on_every_transport {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Sqlite, stringify!($name)).await {
                        super::$name(&db, $crate::Transport::Embedded).await
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres, stringify!($name)).await {
                        super::$name(&db, $crate::Transport::Embedded).await
                    }
                }
            )*
        }
        mod rabbitmq {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if !$crate::rabbitmq_available(stringify!($name)).await {
                        return;
                    }
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres, stringify!($name)).await {
                        super::$name(&db, $crate::Transport::RabbitMq).await
                    }
                }
            )*
        }
    };
}
