//! A fresh database per test — a SQLite file in a temp dir, or a new PostgreSQL database —
//! removed when the test ends, even when it fails; and an organization to act in.
#![allow(dead_code)]

use std::path::PathBuf;

use rapport_crm::{Actor, Crm, CrmConfig, NewOrganization};
use rapport_store::{Db, DbConfig, Durability};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{:x}", std::process::id(), nanos & 0xffff_ffff)
}

fn postgres_base() -> String {
    std::env::var("RAPPORT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database for one test.
pub struct TestDb {
    pub url: String,
    dir: Option<PathBuf>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// `None` when PostgreSQL does not answer and `RAPPORT_REQUIRE_POSTGRES` is not `1`
    /// (said loudly); with it set, a missing server fails the test.
    pub async fn new(backend: Backend, test: &str) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique("rapport-crm-test"));
                std::fs::create_dir_all(&dir).unwrap();
                Some(TestDb {
                    url: dir.join("rapport.db").to_string_lossy().into_owned(),
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
                let name = unique("rapport_crm_test");
                Some(TestDb {
                    url: format!("{base}/{name}"),
                    dir: None,
                    postgres: Some((base, name)),
                })
            }
        }
    }

    /// Opens the database and makes an organization with its admin.
    pub async fn crm_with_organization(&self) -> (Db, Crm, Actor) {
        let config = DbConfig {
            url: self.url.clone(),
            sqlite_durability: Durability::Normal,
            max_connections: 32,
        };
        let db = Db::open(&config).await.unwrap();
        let crm = Crm::new(db.clone(), CrmConfig::default());
        let new = NewOrganization {
            name: "Test".into(),
            admin_email: format!("{}@test.example", unique("admin")),
            admin_first_name: "T".into(),
            admin_last_name: String::new(),
            admin_password: None,
        };
        let actor = crm.create_organization(&new).await.unwrap();
        (db, crm, actor)
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
                    if let Some(db) = super::common::TestDb::new(super::common::Backend::Sqlite, stringify!($name)).await {
                        super::$name(&db).await
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = super::common::TestDb::new(super::common::Backend::Postgres, stringify!($name)).await {
                        super::$name(&db).await
                    }
                }
            )*
        }
    };
}
