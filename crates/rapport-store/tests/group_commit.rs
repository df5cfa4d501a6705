//! Many writers at once, as a busy server has them: the writer commits every batch that
//! is waiting as one group, yet each batch stays atomic and isolated — one that fails
//! (a conflict, a duplicate) is rolled back alone and answered with its own error, the
//! others commit, and events keep committing in sequence order. On both databases.

use rapport_store::{Db, DbError, Stmt};
use rapport_testkit::{Backend, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_commit_alone_or_not_at_all_on_sqlite() {
    concurrent_batches_commit_alone_or_not_at_all(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_commit_alone_or_not_at_all_on_postgres() {
    concurrent_batches_commit_alone_or_not_at_all(Backend::Postgres).await;
}

/// What batch `n` does: 0 commits; 1 fails on an optimistic-concurrency check after its
/// first insert; 2 fails on a duplicate key after its first insert.
fn fate(n: usize) -> usize {
    match n % 10 {
        3 => 1,
        7 => 2,
        _ => 0,
    }
}

/// The batch, and where its event insert stands in it.
fn batch(db: &Db, n: usize) -> (Vec<Stmt>, usize) {
    let key = format!("row-{n}");
    let mut stmts = vec![Stmt::new(
        "INSERT INTO group_rows (k, v) VALUES (?, ?)",
        vec![key.clone().into(), (n as i64).into()],
    )];
    match fate(n) {
        1 => stmts.push(Stmt::one(
            "UPDATE group_rows SET v = v + 1 WHERE k = ?",
            vec!["nobody".into()],
        )),
        2 => stmts.push(Stmt::new(
            "INSERT INTO group_rows (k, v) VALUES (?, ?)",
            vec!["taken".into(), 0.into()],
        )),
        _ => stmts.push(Stmt::one(
            "UPDATE group_rows SET v = v + 1000 WHERE k = ?",
            vec![key.clone().into()],
        )),
    }
    let event = Stmt::new(
        "INSERT INTO events (id, organization_id, object_type, object_id, action, changed_fields, date_created) \
         VALUES (?, 'org', 'test', ?, 'created', '[]', '2026-01-01') RETURNING seq",
        vec![format!("ev-{n}").into(), key.into()],
    );
    let events = db.dialect().append_events(&mut stmts, [event]);
    (stmts, events.start)
}

async fn concurrent_batches_commit_alone_or_not_at_all(backend: Backend) {
    let Some(test_db) = TestDb::new(backend, "group_commit").await else {
        return;
    };
    let db = test_db.open().await;
    db.batch(vec![
        Stmt::new(
            "CREATE TABLE group_rows (k TEXT PRIMARY KEY, v BIGINT NOT NULL)",
            vec![],
        ),
        Stmt::new("INSERT INTO group_rows (k, v) VALUES ('taken', 0)", vec![]),
    ])
    .await
    .unwrap();

    const BATCHES: usize = 300;
    let tasks: Vec<_> = (0..BATCHES)
        .map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                let (stmts, event) = batch(&db, n);
                (n, event, db.batch(stmts).await)
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        let (n, event, outcome) = task.await.unwrap();
        match (fate(n), outcome) {
            (0, Ok(outputs)) => {
                assert_eq!(outputs[1].affected, 1, "batch {n} sees its own insert");
                let seq = outputs[event].rows.first().expect("the event's seq");
                seqs.push((n, seq.get::<i64>("seq").unwrap()));
            }
            (1, Err(DbError::Conflict)) | (2, Err(DbError::Unique(_))) => {}
            (fate, outcome) => panic!("batch {n} (fate {fate}) answered {:?}", outcome.map(|o| o.len())),
        }
    }

    // Exactly the batches that succeeded left rows and events; the failed ones, nothing.
    let rows = db
        .query("SELECT k, v FROM group_rows WHERE k <> 'taken' ORDER BY v", &[])
        .await
        .unwrap();
    let expected: Vec<usize> = (0..BATCHES).filter(|n| fate(*n) == 0).collect();
    assert_eq!(rows.len(), expected.len());
    for (row, n) in rows.iter().zip(&expected) {
        assert_eq!(row.get::<&str>("k").unwrap(), format!("row-{n}"));
        assert_eq!(row.get::<i64>("v").unwrap(), *n as i64 + 1000);
    }
    let events = db
        .query(
            "SELECT seq, object_id FROM events WHERE object_type = 'test' ORDER BY seq",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(events.len(), expected.len(), "one event per committed batch");
    assert_eq!(seqs.len(), expected.len());
    for (n, seq) in seqs {
        let event = events
            .iter()
            .find(|e| e.get::<i64>("seq").unwrap() == seq)
            .unwrap_or_else(|| panic!("batch {n}'s event {seq:?}"));
        assert_eq!(event.get::<&str>("object_id").unwrap(), format!("row-{n}"));
    }
}
