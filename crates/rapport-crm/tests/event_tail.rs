//! Many concurrent writers, one tailer reading the event log forward from its cursor: the
//! tailer must see every event, once, in order. On PostgreSQL a sequence value is taken
//! before commit, so without the event-order lock a tailer could see seq 11 while 10 is
//! in flight, move its cursor past 10 and lose it forever.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rapport_core::Kind;
use rapport_crm::{Crm, CrmConfig, NewOrganization};
use rapport_store::{Db, DbConfig, Durability};
use serde_json::json;

const WRITERS: usize = 16;
const WRITES_EACH: usize = 40;

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{:x}", std::process::id(), nanos & 0xffff_ffff)
}

fn postgres_url() -> String {
    std::env::var("RAPPORT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

async fn tail_while_writing(url: &str) {
    let db = Db::open(&DbConfig {
        url: url.into(),
        sqlite_durability: Durability::Normal,
        max_connections: 32,
    })
    .await
    .unwrap();
    let crm = Crm::new(db, CrmConfig::default());
    let new = NewOrganization {
        name: "Tail".into(),
        admin_email: format!("{}@tail.example", unique("a")),
        admin_first_name: "T".into(),
        admin_last_name: String::new(),
        admin_password: None,
    };
    let actor = crm.create_organization(&new).await.unwrap();
    let start = crm.last_event_seq().await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let tailer = {
        let (crm, done) = (crm.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = crm.events_after(cursor, 100).await.unwrap();
                for event in &batch {
                    assert!(event.seq > cursor, "out of order: {} after {cursor}", event.seq);
                    cursor = event.seq;
                    seen.push(event.seq);
                }
                if batch.is_empty() {
                    if finished {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (crm, actor) = (crm.clone(), actor.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..WRITES_EACH {
                crm.create(&actor, Kind::Lead, &json!({"name": format!("w{w} #{i}")}), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = tailer.await.unwrap();
    let all: BTreeSet<i64> = crm
        .events_after(start, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(all.len(), WRITERS * WRITES_EACH, "one event per lead created");
    let seen_set: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), seen_set.len(), "no event twice");
    let missed: Vec<&i64> = all.difference(&seen_set).collect();
    assert!(
        missed.is_empty(),
        "the tailer missed {} events: {missed:?}",
        missed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tailer_never_misses_an_event_on_postgres() {
    let base = postgres_url();
    let reachable = tokio::net::TcpStream::connect(base.rsplit('@').next().unwrap_or("127.0.0.1:5432"))
        .await
        .is_ok();
    if !reachable {
        assert!(
            std::env::var("RAPPORT_REQUIRE_POSTGRES").map_or(true, |v| v != "1"),
            "PostgreSQL is required but {base} does not answer"
        );
        eprintln!("\n*** SKIPPED tailer_never_misses_an_event_on_postgres: no PostgreSQL at {base} ***\n");
        return;
    }
    let name = unique("rapport_tail");
    let _cleanup = DropDatabase {
        base: base.clone(),
        name: name.clone(),
    };
    tail_while_writing(&format!("{base}/{name}")).await;
}

/// Drops the test's database even when the test fails.
struct DropDatabase {
    base: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: Drop runs inside the test's runtime.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls).await
                {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tailer_never_misses_an_event_on_sqlite() {
    let dir = std::env::temp_dir().join(unique("rapport-tail"));
    std::fs::create_dir_all(&dir).unwrap();
    tail_while_writing(dir.join("rapport.db").to_str().unwrap()).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
