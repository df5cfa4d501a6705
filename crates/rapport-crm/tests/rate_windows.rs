//! Rate limits in the store: nodes that take allowance for one key in one second share
//! the limit, whoever asks; a bucket (a visitor's messages) lets a burst through, then one
//! request per interval, on any node; old windows and full buckets are purged.

mod common;

use common::TestDb;
use rapport_crm::{Crm, CrmConfig};

async fn nodes_share_a_keys_window(test_db: &TestDb) {
    let (_, first, _) = common::crm_with_organization(test_db).await;
    // Another node: its own connections (and, on PostgreSQL, its own group commit).
    let second = Crm::new(test_db.open().await, CrmConfig::default());
    let nodes = [&first, &second];
    let mut granted = Vec::new();
    for i in 0..5 {
        granted.push(
            nodes[i % 2]
                .take_rate_allowance("api_key_a", 1000, 3, 10)
                .await
                .unwrap(),
        );
    }
    assert_eq!(granted, [3, 3, 3, 1, 0], "10 in all, the last claim partly, then none");
    // Another key, another second: their own allowance.
    assert_eq!(second.take_rate_allowance("api_key_b", 1000, 3, 10).await.unwrap(), 3);
    assert_eq!(first.take_rate_allowance("api_key_a", 1001, 4, 10).await.unwrap(), 4);
    // Claims made at once on both nodes never grant more than the limit together.
    let claims: Vec<_> = (0..20)
        .map(|i| {
            let node = nodes[i % 2].clone();
            tokio::spawn(async move { node.take_rate_allowance("api_key_c", 1000, 1, 7).await.unwrap() })
        })
        .collect();
    let mut total = 0;
    for claim in claims {
        total += claim.await.unwrap();
    }
    assert_eq!(total, 7);
    // Purging forgets the windows before the given second only.
    assert_eq!(first.purge_rate_windows(1001).await.unwrap(), 3);
    assert_eq!(
        first.take_rate_allowance("api_key_a", 1000, 3, 10).await.unwrap(),
        3,
        "a forgotten window"
    );
    assert_eq!(first.take_rate_allowance("api_key_a", 1001, 7, 10).await.unwrap(), 6);
}

async fn a_bucket_lets_a_burst_through_then_one_per_interval(test_db: &TestDb) {
    let (_, first, _) = common::crm_with_organization(test_db).await;
    // Another node: its own connections (and, on PostgreSQL, its own group commit).
    let second = Crm::new(test_db.open().await, CrmConfig::default());
    let take = |node: &Crm, key: &'static str, at: i64| {
        let node = node.clone();
        async move { node.take_rate_token(key, at, 3, 1000).await.unwrap() }
    };
    let t0 = 1_000_000;
    let burst = [
        take(&first, "v1", t0).await,
        take(&second, "v1", t0).await,
        take(&first, "v1", t0 + 10).await,
        take(&second, "v1", t0 + 20).await,
    ];
    assert_eq!(burst, [true, true, true, false], "a burst of 3 across both nodes");
    assert!(!take(&first, "v1", t0 + 999).await, "not refilled yet");
    assert!(take(&second, "v1", t0 + 1000).await, "one more after an interval");
    assert!(!take(&first, "v1", t0 + 1001).await);
    assert!(take(&first, "v2", t0).await, "visitors are counted apart");
    // Long idle: the whole burst again.
    let later = t0 + 60_000;
    for _ in 0..3 {
        assert!(take(&first, "v1", later).await);
    }
    assert!(!take(&first, "v1", later).await);
    // Buckets full again by then are forgotten; a busy one stays.
    assert_eq!(first.purge_rate_buckets(t0 + 30_000).await.unwrap(), 1, "v2");
    assert!(!take(&first, "v1", later).await, "v1 is still spent");
}

common::on_both_backends!(
    nodes_share_a_keys_window,
    a_bucket_lets_a_burst_through_then_one_per_interval
);
