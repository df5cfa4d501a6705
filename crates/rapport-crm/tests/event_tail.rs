//! Many concurrent writers, one tailer reading the event log forward from its cursor: the
//! tailer must see every event, once, in order. On PostgreSQL a sequence value is taken
//! before commit, so without the event-order lock a tailer could see seq 11 while 10 is
//! in flight, move its cursor past 10 and lose it forever.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::TestDb;
use rapport_core::Kind;
use serde_json::json;

const WRITERS: usize = 16;
const WRITES_EACH: usize = 40;

async fn tailer_never_misses_an_event(test_db: &TestDb) {
    let (_, crm, actor) = common::crm_with_organization(test_db).await;
    let start = crm.last_event_seq().await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let tailer = {
        let (crm, done) = (crm.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = crm.log().read_after(None, cursor, 100).await.unwrap();
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
        .log()
        .read_after(None, start, 10_000)
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

/// A visitor's feed starts at their own history: before their conversation's first event,
/// or at the log's end when they have none, whatever cursor their widget sends.
async fn a_visitors_log_starts_at_their_own_history(test_db: &TestDb) {
    let (_, crm, actor) = common::crm_with_organization(test_db).await;
    let website = crm
        .create(&actor, Kind::Website, &json!({"name": "Site"}), None)
        .await
        .unwrap();
    let website_id = website.object["id"].as_str().unwrap();
    let website = crm.website(&actor.organization_id, website_id).await.unwrap().unwrap();
    for i in 0..5 {
        crm.create(&actor, Kind::Lead, &json!({"name": format!("before #{i}")}), None)
            .await
            .unwrap();
    }
    let (visitor, _) = crm.new_visitor(&website).await.unwrap();
    let end = crm.last_event_seq().await.unwrap();
    assert_eq!(
        crm.visitor_log_start(&visitor).await.unwrap(),
        end,
        "nothing of theirs yet"
    );
    let posted = crm.post_visitor_message(&visitor, Some("c1"), "Hello").await.unwrap();
    let visitor = crm.visitor(&actor.organization_id, &visitor.id).await.unwrap().unwrap();
    let start = crm.visitor_log_start(&visitor).await.unwrap();
    assert_eq!(start, end, "just before their conversation's first event");
    assert!(start < posted.event_seq.unwrap());
}

common::on_both_backends!(tailer_never_misses_an_event, a_visitors_log_starts_at_their_own_history);
