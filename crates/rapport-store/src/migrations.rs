//! The schema, as numbered migrations applied once each. One text serves both databases;
//! `{{seq}}` is the only spelling that differs (an auto-increment 64-bit key).
//!
//! Objects of every CRM kind share one table: their fields live in a JSON document
//! (`data`), with the columns every query filters or sorts on kept beside it. The
//! `unique_key` column holds what must be unique per organization and kind (a status
//! label, a custom field name), enforced by a partial unique index.

use crate::{Db, DbResult, Dialect, SqlValue, Stmt};

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    meta_version BIGINT NOT NULL DEFAULT 0,
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    password_hash TEXT,
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE TABLE memberships (
    organization_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    date_created TEXT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    date_created TEXT NOT NULL
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE TABLE objects (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    lead_id TEXT,
    unique_key TEXT,
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL,
    created_by TEXT,
    updated_by TEXT
);
CREATE INDEX objects_by_type ON objects (organization_id, object_type, date_created, id);
CREATE INDEX objects_by_lead ON objects (organization_id, lead_id, object_type, date_created, id);
CREATE UNIQUE INDEX objects_unique_key ON objects (organization_id, object_type, unique_key) WHERE unique_key IS NOT NULL;
CREATE TABLE events (
    seq {{seq}},
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    lead_id TEXT,
    action TEXT NOT NULL,
    changed_fields TEXT NOT NULL,
    previous_data TEXT,
    data TEXT,
    user_id TEXT,
    request_id TEXT,
    date_created TEXT NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_by_org ON events (organization_id, seq);
CREATE INDEX events_by_object ON events (organization_id, object_id, seq);
CREATE INDEX events_by_lead ON events (organization_id, lead_id, seq);
CREATE TABLE idempotency_keys (
    organization_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    date_created TEXT NOT NULL,
    PRIMARY KEY (organization_id, user_id, key)
);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    fair_rank BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    dedupe_key TEXT,
    event_seq BIGINT,
    worker TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    published_at BIGINT
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (task, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs (state, fair_rank);
CREATE INDEX jobs_by_task ON jobs (task, state, fair_rank);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
CREATE INDEX jobs_by_org ON jobs (organization_id, state, created_at);
CREATE TABLE job_ranks (
    organization_id TEXT PRIMARY KEY,
    last_rank BIGINT NOT NULL
);
CREATE TABLE job_cursors (
    consumer TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
)
"#,
    ),
    (
        3,
        r#"
CREATE TABLE chat_visitors (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    website_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    name TEXT,
    email TEXT,
    email_verified BIGINT NOT NULL,
    contact_id TEXT,
    lead_id TEXT,
    conversation_id TEXT,
    online_until TEXT,
    date_created TEXT NOT NULL
);
CREATE UNIQUE INDEX chat_visitors_token ON chat_visitors (token_hash);
CREATE INDEX objects_by_unique_key ON objects (unique_key, object_type) WHERE unique_key IS NOT NULL
"#,
    ),
    (
        4,
        r#"
CREATE INDEX jobs_due ON jobs (state, run_at)
"#,
    ),
    (
        5,
        r#"
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    date_created TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE drafts (
    organization_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    draft_key TEXT NOT NULL,
    body TEXT NOT NULL,
    date_updated TEXT NOT NULL,
    PRIMARY KEY (organization_id, user_id, draft_key)
)
"#,
    ),
    (
        6,
        r#"
CREATE TABLE login_attempts (
    id TEXT PRIMARY KEY,
    email_hash TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email_hash, at);
CREATE INDEX login_attempts_at ON login_attempts (at);
CREATE TABLE rate_windows (
    key_hash TEXT NOT NULL,
    second BIGINT NOT NULL,
    taken BIGINT NOT NULL,
    PRIMARY KEY (key_hash, second)
);
CREATE TABLE rate_buckets (
    key_hash TEXT PRIMARY KEY,
    full_at_ms BIGINT NOT NULL
);
CREATE INDEX rate_buckets_full_at ON rate_buckets (full_at_ms)
"#,
    ),
    (
        7,
        r#"
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0
"#,
    ),
    (
        8,
        // NULs written before input refused them: PostgreSQL cannot parse `\u0000` as
        // JSON, which broke every read of the log that looks inside events.
        r#"
UPDATE events SET data = replace(data, '\u0000', ''), previous_data = replace(previous_data, '\u0000', '')
 WHERE data LIKE '%\u0000%' ESCAPE '!' OR previous_data LIKE '%\u0000%' ESCAPE '!';
UPDATE objects SET data = replace(data, '\u0000', '') WHERE data LIKE '%\u0000%' ESCAPE '!'
"#,
    ),
    (
        9,
        r#"
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id, expires_at)
"#,
    ),
];

pub async fn apply(db: &Db) -> DbResult<()> {
    let seq = match db.dialect() {
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    // Two nodes starting together on PostgreSQL: the advisory lock lets one migrate while
    // the other waits, then finds the work done.
    let lock = |stmts: &mut Vec<Stmt>| {
        if db.dialect() == Dialect::Postgres {
            stmts.push(Stmt::new("SELECT pg_advisory_xact_lock(72431)", vec![]));
        }
    };
    let mut setup = Vec::new();
    lock(&mut setup);
    setup.push(Stmt::new(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, date_applied TEXT NOT NULL)",
        vec![],
    ));
    db.batch(setup).await?;
    for (version, sql) in MIGRATIONS {
        let mut stmts = Vec::new();
        lock(&mut stmts);
        let done = db
            .query_opt(
                "SELECT version FROM schema_migrations WHERE version = ?",
                &[SqlValue::Int(*version)],
            )
            .await?;
        if done.is_some() {
            continue;
        }
        // Recorded first: a node that lost the race fails here, on the key, and rolls back.
        stmts.push(Stmt::new(
            "INSERT INTO schema_migrations (version, date_applied) VALUES (?, ?)",
            vec![SqlValue::Int(*version), SqlValue::Text(epoch_seconds())],
        ));
        for statement in sql
            .replace("{{seq}}", seq)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            stmts.push(Stmt::new(statement, vec![]));
        }
        match db.batch(stmts).await {
            Ok(_) => tracing::info!(version, "applied migration"),
            // Another node applied it between our check and our lock.
            Err(crate::DbError::Unique(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Seconds since the epoch as text; the store stays free of a date library.
fn epoch_seconds() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    secs.to_string()
}
