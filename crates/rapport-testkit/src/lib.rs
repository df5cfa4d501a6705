//! Test support shared by the crates' integration tests: a fresh database per test — a
//! SQLite file in a temp dir, or a new PostgreSQL database — removed when the test ends,
//! even when it fails.
//!
//! A service that does not answer skips the test loudly, unless `RAPPORT_REQUIRE_POSTGRES=1`
//! (or `RAPPORT_REQUIRE_RABBITMQ=1`) makes it a failure, as CI does.
//!
//! [`on_both_backends!`] and [`on_every_transport!`] declare a test once per backend; they
//! serve the crates' tests (`async fn(&TestDb)`) and the end-to-end suite (`fn(Backend)`,
//! which starts a server itself) alike.

pub mod smtp;

use std::path::PathBuf;
use std::time::Duration;

use rapport_store::{Db, DbConfig, Durability};

/// What a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL, with jobs carried by RabbitMQ (a virtual host of the test's own, see
    /// [`RabbitVhost`]). Its [`TestDb`] is a PostgreSQL database.
    PostgresRabbitMq,
}

impl Backend {
    /// Whether the backend's database is PostgreSQL.
    pub fn is_postgres(self) -> bool {
        matches!(self, Backend::Postgres | Backend::PostgresRabbitMq)
    }
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

/// Where the PostgreSQL tests find a server: `RAPPORT_TEST_POSTGRES_URL`, else the local
/// one (no database in the URL: each test appends its own).
pub fn postgres_base_url() -> String {
    std::env::var("RAPPORT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The `host:port` of [`postgres_base_url`].
fn postgres_address() -> String {
    let url = postgres_base_url();
    let after_user = url.rsplit('@').next().unwrap_or(&url);
    let after_scheme = after_user.rsplit("://").next().unwrap_or(after_user);
    after_scheme.split('/').next().unwrap_or("127.0.0.1:5432").to_string()
}

/// Whether PostgreSQL answers, for `test`; when it does not, the test is skipped loudly
/// (`false`), or fails when `RAPPORT_REQUIRE_POSTGRES=1` (as CI sets).
pub fn postgres_available_or_skip(test: &str) -> bool {
    let address = postgres_address();
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(address.as_str())
        .into_iter()
        .flatten()
        .any(|addr| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    reachable || skip_postgres(test)
}

/// Says that `test` is skipped without PostgreSQL (`false`); fails when it is required.
fn skip_postgres(test: &str) -> bool {
    if std::env::var("RAPPORT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!(
            "PostgreSQL is required (RAPPORT_REQUIRE_POSTGRES=1) but {} does not answer",
            postgres_base_url()
        );
    }
    eprintln!(
        "\n*** SKIPPED {test} on PostgreSQL: no server at {} (set RAPPORT_REQUIRE_POSTGRES=1 to make this a failure) ***\n",
        postgres_base_url()
    );
    false
}

/// Drops the test database `name` of the PostgreSQL server, ignoring errors (it may be
/// gone already). Blocks; callable from inside a runtime as well (it uses a thread of its
/// own), so from `Drop`.
pub fn drop_postgres_database(name: &str) {
    let url = format!("{}/postgres", postgres_base_url());
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    let dropper = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            if let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                tokio::spawn(connection);
                let _ = client.batch_execute(&sql).await;
            }
        });
    });
    let _ = dropper.join();
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
    /// The PostgreSQL database's name, dropped with the `TestDb`.
    postgres: Option<String>,
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
            Backend::Postgres | Backend::PostgresRabbitMq => {
                let connect = tokio::net::TcpStream::connect(postgres_address());
                let reachable = matches!(tokio::time::timeout(Duration::from_secs(2), connect).await, Ok(Ok(_)));
                if !reachable {
                    skip_postgres(test);
                    return None;
                }
                let name = unique("rapport_test");
                Some(TestDb {
                    url: format!("{}/{name}", postgres_base_url()),
                    backend,
                    dir: None,
                    postgres: Some(name),
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
        if let Some(name) = &self.postgres {
            drop_postgres_database(name);
        }
    }
}

/// Declares each listed test once per backend: `sqlite::name` and `postgres::name`.
///
/// - `on_both_backends!(a, b)`: each is an `async fn(&TestDb)`, run in a multi-threaded
///   runtime on a fresh database (on PostgreSQL, skipped loudly without a server unless
///   `RAPPORT_REQUIRE_POSTGRES=1`).
/// - `on_both_backends!(blocking: a, b)`: each is a `fn(Backend)`, a plain `#[test]` that
///   sets up its backend itself (the end-to-end suite starts a server on it, and skips with
///   [`postgres_available_or_skip`]).
#[macro_export]
macro_rules! on_both_backends {
    (blocking: $($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::Backend::Postgres) } )*
        }
    };
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

/// Declares each listed test once per job transport: `sqlite::name` and `postgres::name`
/// (jobs in the database), and `rabbitmq::name` (PostgreSQL, jobs through RabbitMQ).
///
/// - `on_every_transport!(a, b)`: each is an `async fn(&TestDb, Transport)`; the RabbitMQ
///   ones are skipped loudly without a server unless `RAPPORT_REQUIRE_RABBITMQ=1`.
/// - `on_every_transport!(blocking: a, b)`: each is a `fn(Backend)`, a plain `#[test]`,
///   given [`Backend::PostgresRabbitMq`] for the RabbitMQ run (see [`on_both_backends!`]).
#[macro_export]
macro_rules! on_every_transport {
    (blocking: $($name:ident),* $(,)?) => {
        $crate::on_both_backends!(blocking: $($name),*);
        mod rabbitmq {
            $( #[test] fn $name() { super::$name($crate::Backend::PostgresRabbitMq) } )*
        }
    };
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
