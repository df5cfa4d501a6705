//! SQLite's write-ahead log stays bounded without any checkpoint that blocks writers:
//! the checkpointer copies it passively, and once all of it is copied the next write
//! starts it over, so a steady stream of writes reuses the same file.

use std::time::Duration;

use rapport_testkit::{Backend, TestDb};

const ROWS_PER_ROUND: usize = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_reused_once_copied_into_the_database() {
    let test_db = TestDb::new(Backend::Sqlite, "sqlite_wal").await.unwrap();
    let db = test_db.open().await;
    db.execute("CREATE TABLE blobs (id BIGINT PRIMARY KEY, body TEXT NOT NULL)", vec![])
        .await
        .unwrap();
    let wal = std::path::PathBuf::from(format!("{}-wal", test_db.url));
    let body = "x".repeat(3000);
    let mut next = 0i64;
    let mut sizes = Vec::new();
    for _round in 0..3 {
        for _ in 0..ROWS_PER_ROUND {
            db.execute(
                "INSERT INTO blobs (id, body) VALUES (?, ?)",
                vec![next.into(), body.clone().into()],
            )
            .await
            .unwrap();
            next += 1;
        }
        // The checkpointer runs every 250 ms; give it time to copy everything.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        sizes.push(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    let first = sizes[0];
    assert!(first > 1 << 20, "the WAL held the first round's writes: {sizes:?}");
    // Later rounds wrote as much again, into the same space.
    assert!(
        sizes[2] <= first + first / 4,
        "the WAL grows with every round instead of starting over: {sizes:?}"
    );
    let rows = db.query("SELECT count(*) AS n FROM blobs", &[]).await.unwrap();
    assert_eq!(rows[0].get::<i64>("n").unwrap(), next);
}
