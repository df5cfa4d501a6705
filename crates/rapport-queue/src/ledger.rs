//! The `jobs` table: every state change of every job, on SQLite and PostgreSQL alike.

use std::sync::Arc;
use std::time::Duration;

use rapport_store::{Db, DbResult, Dialect, Row, SqlValue, Stmt};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::{now_ms, Job, JobError, JobState, NewJob, QueueError, QueueResult};

/// The PostgreSQL notification channel that announces new jobs to every node's workers.
pub const JOBS_CHANNEL: &str = "rapport_jobs";

/// The re-check of rows picked by id. Written so that no index on `state` can serve it:
/// with one, SQLite (and PostgreSQL without statistics) read every queued job's index
/// entry instead of the few rows picked by primary key (a claim took 2 ms at 20,000
/// queued jobs, 0.025 ms this way).
const STILL_QUEUED: &str = "state || '' = 'queued'";

/// Rows per multi-row insert (well under both databases' parameter limits).
const INSERT_CHUNK: usize = 400;

/// How long a published job counts as in the broker: one still queued after this is
/// published again.
pub const REPUBLISH_AFTER_MS: i64 = 60_000;

const JOB_COLUMNS: &str =
    "id, task, organization_id, payload, attempts, max_attempts, event_seq, dedupe_key, created_at";
const RECORD_COLUMNS: &str = "id, task, organization_id, payload, state, attempts, max_attempts, event_seq, dedupe_key, created_at, run_at, started_at, finished_at, last_error, worker";

/// The job ledger. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    /// Wakes this process's workers when this process enqueues.
    wake: Arc<Notify>,
}

/// A job as operators see it (`GET /api/v1/job/`, `rapport jobs list`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub task: String,
    pub organization_id: String,
    pub payload: Value,
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    pub event_seq: Option<i64>,
    pub dedupe_key: Option<String>,
    pub created_at: i64,
    pub run_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub last_error: Option<String>,
    pub worker: Option<String>,
}

impl JobRecord {
    /// The JSON shape of the API, times in ISO 8601.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "task": self.task,
            "organization_id": self.organization_id,
            "state": self.state.as_str(),
            "payload": self.payload,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "event_seq": self.event_seq,
            "dedupe_key": self.dedupe_key,
            "date_created": iso(Some(self.created_at)),
            "run_at": iso(Some(self.run_at)),
            "date_started": iso(self.started_at),
            "date_finished": iso(self.finished_at),
            "last_error": self.last_error,
            "worker": self.worker,
        })
    }
}

fn iso(ms: Option<i64>) -> Value {
    ms.and_then(rapport_core::time::from_epoch_ms)
        .map(|t| Value::String(rapport_core::time::format(t)))
        .unwrap_or(Value::Null)
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// `None`: every organization (the CLI).
    pub organization_id: Option<String>,
    pub state: Option<JobState>,
    pub task: Option<String>,
    pub skip: usize,
    pub limit: usize,
}

/// How many jobs of a task are in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDepth {
    pub task: String,
    pub state: JobState,
    pub count: i64,
}

impl Ledger {
    pub fn new(db: Db) -> Ledger {
        Ledger {
            db,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Resolves when this process enqueues; created before a claim, it catches an enqueue
    /// that happens while the claim runs.
    pub fn enqueued(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Wakes on enqueues of other nodes (PostgreSQL); `None` on SQLite.
    pub fn listen(&self) -> rapport_store::Listener {
        self.db.listen(JOBS_CHANNEL)
    }

    /// Enqueues jobs in one transaction; returns how many were new (the others had a
    /// `dedupe_key` already in the ledger).
    pub async fn enqueue(&self, jobs: &[NewJob]) -> QueueResult<u64> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let (stmts, inserts) = self.enqueue_stmts(jobs);
        let outputs = self.db.batch(stmts).await?;
        self.enqueued_elsewhere();
        Ok(inserts.into_iter().map(|i| outputs[i].affected).sum())
    }

    /// The statements that enqueue `jobs`, for a caller that commits them with its own
    /// (and then calls [`Ledger::enqueued_elsewhere`]); also the positions of the inserts.
    pub fn enqueue_stmts(&self, jobs: &[NewJob]) -> (Vec<Stmt>, Vec<usize>) {
        let dialect = self.db.dialect();
        let now = now_ms();
        let mut stmts = Vec::new();
        let mut inserts = Vec::new();
        // Jobs of one organization take consecutive ranks; the rank row moves once per run.
        let mut start = 0;
        while start < jobs.len() {
            let org = &jobs[start].organization_id;
            let mut end = start + 1;
            while end < jobs.len() && &jobs[end].organization_id == org && end - start < INSERT_CHUNK {
                end += 1;
            }
            let run = &jobs[start..end];
            stmts.push(rank_upsert(dialect, org, run.len() as i64));
            let mut sql = String::from(
                "INSERT INTO jobs (id, task, organization_id, payload, state, fair_rank, run_at, attempts, max_attempts, dedupe_key, event_seq, created_at) VALUES ",
            );
            let mut params = Vec::with_capacity(run.len() * 11);
            for (i, job) in run.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str("(?, ?, ?, ?, ?, (SELECT last_rank FROM job_ranks WHERE organization_id = ?) - ?, ?, 0, ?, ?, ?, ?)");
                let state = match job.run_at {
                    Some(at) if at > now => JobState::Scheduled,
                    _ => JobState::Queued,
                };
                params.extend([
                    rapport_core::new_id("job").into(),
                    job.task.clone().into(),
                    job.organization_id.clone().into(),
                    job.payload.to_string().into(),
                    state.as_str().into(),
                    job.organization_id.clone().into(),
                    SqlValue::Int((run.len() - 1 - i) as i64),
                    SqlValue::Int(job.run_at.unwrap_or(now)),
                    SqlValue::Int(job.max_attempts.max(1) as i64),
                    job.dedupe_key.clone().into(),
                    job.event_seq.into(),
                    SqlValue::Int(now),
                ]);
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            inserts.push(stmts.len());
            stmts.push(Stmt::new(sql, params));
            start = end;
        }
        stmts.extend(dialect.notify(JOBS_CHANNEL));
        (stmts, inserts)
    }

    /// Wakes this process's workers after jobs were committed by [`Ledger::enqueue_stmts`].
    pub fn enqueued_elsewhere(&self) {
        self.wake.notify_waiters();
    }

    /// Takes up to `max` ready jobs of `tasks` for `worker`, in fair order, leased for
    /// `lease`.
    pub async fn claim(&self, tasks: &[String], worker: &str, max: usize, lease: Duration) -> QueueResult<Vec<Job>> {
        if tasks.is_empty() || max == 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let ready = format!(
            "SELECT id FROM jobs WHERE state = 'queued' AND task IN ({}) AND run_at <= ? ORDER BY fair_rank LIMIT ?",
            placeholders(tasks.len())
        );
        let picked = pick(self.db.dialect(), &ready);
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?, lease_until = ?, started_at = ? \
             WHERE {picked} AND {STILL_QUEUED} RETURNING {JOB_COLUMNS}"
        );
        let mut params: Vec<SqlValue> = vec![worker.into(), SqlValue::Int(now + lease_ms(lease)), SqlValue::Int(now)];
        params.extend(tasks.iter().map(SqlValue::from));
        params.push(SqlValue::Int(now));
        params.push(SqlValue::Int(max as i64));
        let out = self.db.batch(vec![promote_due(now), Stmt::new(sql, params)]).await?;
        let mut jobs: Vec<Job> = out
            .into_iter()
            .flat_map(|o| o.rows)
            .map(job_from_row)
            .collect::<DbResult<_>>()?;
        jobs.sort_by_key(|j| j.created_at);
        Ok(jobs)
    }

    /// Marks jobs that arrived by another transport as started by `worker`; returns those
    /// that may run, with their attempt numbers. Only queued, due rows are taken: a message
    /// for a job that is running, done, dead, gone or not yet due (a stale duplicate) yields
    /// nothing, and the ledger alone decides when a job runs again.
    pub async fn start(&self, ids: &[String], worker: &str, lease: Duration) -> QueueResult<Vec<Job>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?, lease_until = ?, started_at = ? \
             WHERE id IN ({}) AND {STILL_QUEUED} AND run_at <= ? RETURNING {JOB_COLUMNS}",
            placeholders(ids.len())
        );
        let mut params: Vec<SqlValue> = vec![worker.into(), SqlValue::Int(now + lease_ms(lease)), SqlValue::Int(now)];
        params.extend(ids.iter().map(SqlValue::from));
        params.push(SqlValue::Int(now));
        let out = self.db.batch(vec![Stmt::new(sql, params)]).await?;
        Ok(out
            .into_iter()
            .flat_map(|o| o.rows)
            .map(job_from_row)
            .collect::<DbResult<_>>()?)
    }

    /// Renews `worker`'s lease on a job; `false` when the worker no longer holds it.
    pub async fn heartbeat(&self, id: &str, worker: &str, lease: Duration) -> QueueResult<bool> {
        let out = self
            .db
            .execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND worker = ? AND state = 'running'",
                vec![SqlValue::Int(now_ms() + lease_ms(lease)), id.into(), worker.into()],
            )
            .await?;
        Ok(out.affected == 1)
    }

    /// Records a successful attempt; `false` when the worker had lost the job (its lease
    /// expired and the job went back to the queue).
    pub async fn complete(&self, id: &str, worker: &str) -> QueueResult<bool> {
        let out = self
            .db
            .execute(
                "UPDATE jobs SET state = 'done', finished_at = ?, lease_until = NULL, last_error = NULL \
                 WHERE id = ? AND worker = ? AND state = 'running'",
                vec![SqlValue::Int(now_ms()), id.into(), worker.into()],
            )
            .await?;
        Ok(out.affected == 1)
    }

    /// Records a failed attempt: the job runs again at `retry_at`, or is dead when the
    /// error is permanent or its attempts are spent. Returns the new state (`None` when the
    /// worker had lost the job).
    pub async fn fail(
        &self,
        job: &Job,
        worker: &str,
        error: &JobError,
        retry_at: i64,
    ) -> QueueResult<Option<JobState>> {
        let dead = matches!(error, JobError::Permanent(_)) || job.attempt >= job.max_attempts;
        let state = if dead { JobState::Dead } else { JobState::Queued };
        let now = now_ms();
        let out = self
            .db
            .execute(
                "UPDATE jobs SET state = ?, run_at = ?, last_error = ?, lease_until = NULL, finished_at = ?, published_at = NULL \
                 WHERE id = ? AND worker = ? AND state = 'running'",
                vec![
                    state.as_str().into(),
                    SqlValue::Int(if dead { now } else { retry_at }),
                    truncate(&error.to_string(), 2000).into(),
                    if dead { SqlValue::Int(now) } else { SqlValue::Null },
                    job.id.clone().into(),
                    worker.into(),
                ],
            )
            .await?;
        if out.affected == 1 && !dead {
            self.wake.notify_waiters();
        }
        Ok((out.affected == 1).then_some(state))
    }

    /// Gives a job back untried (a worker stopping before it could finish): the attempt
    /// does not count.
    pub async fn release(&self, id: &str, worker: &str) -> QueueResult<()> {
        self.db
            .execute(
                "UPDATE jobs SET state = 'queued', attempts = attempts - 1, worker = NULL, lease_until = NULL, published_at = NULL, \
                 last_error = 'interrupted by a worker shutdown' WHERE id = ? AND worker = ? AND state = 'running'",
                vec![id.into(), worker.into()],
            )
            .await?;
        self.wake.notify_waiters();
        Ok(())
    }

    /// Puts jobs whose lease expired (their worker died) back in the queue, or makes them
    /// dead when their attempts are spent. Returns how many.
    pub async fn reap_expired(&self) -> QueueResult<u64> {
        let now = now_ms();
        let out = self
            .db
            .execute(
                "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
                 finished_at = CASE WHEN attempts >= max_attempts THEN CAST(? AS BIGINT) ELSE NULL END, \
                 last_error = 'the worker stopped before finishing (its lease expired)', lease_until = NULL, run_at = ?, published_at = NULL \
                 WHERE state = 'running' AND lease_until < ?",
                vec![SqlValue::Int(now), SqlValue::Int(now), SqlValue::Int(now)],
            )
            .await?;
        if out.affected > 0 {
            self.wake.notify_waiters();
        }
        Ok(out.affected)
    }

    /// When the next queued job of `tasks` becomes ready (milliseconds since the epoch).
    pub async fn next_run_at(&self, tasks: &[String]) -> QueueResult<Option<i64>> {
        if tasks.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT run_at FROM jobs WHERE state = 'queued' AND task IN ({}) ORDER BY run_at LIMIT 1",
            placeholders(tasks.len())
        );
        let params: Vec<SqlValue> = tasks.iter().map(SqlValue::from).collect();
        let row = self.db.query_opt(&sql, &params).await?;
        let queued = row.map(|r| r.get::<i64>("run_at")).transpose()?;
        // Any task's: a worker woken for another's job finds nothing and sleeps again.
        Ok(min_of(queued, self.next_scheduled_at().await?))
    }

    /// When the next scheduled job becomes due (one index lookup).
    ///
    /// `ORDER BY … LIMIT 1`, not `MIN()`: a PostgreSQL plan made while the table was
    /// nearly empty aggregated every scheduled job rather than reading the first.
    async fn next_scheduled_at(&self) -> QueueResult<Option<i64>> {
        let row = self
            .db
            .query_opt(
                "SELECT run_at FROM jobs WHERE state = 'scheduled' ORDER BY run_at LIMIT 1",
                &[],
            )
            .await?;
        Ok(row.map(|r| r.get::<i64>("run_at")).transpose()?)
    }

    /// For a relay to a message broker: takes up to `limit` queued jobs due at `now`, in fair
    /// order, that are not in the broker, and marks them published at `now`. A job counts as
    /// in the broker for [`REPUBLISH_AFTER_MS`] after its publication; a job still queued
    /// after that is taken again (a relay that stopped between marking and publishing, a
    /// message lost in flight): duplicates are harmless, since [`Ledger::start`] takes only
    /// queued rows. Jobs of `full_tasks` are left alone. Each job's `attempt` is the one its
    /// message is for (attempts so far + 1).
    pub async fn take_for_publishing(&self, now: i64, limit: usize, full_tasks: &[String]) -> QueueResult<Vec<Job>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let skip = match full_tasks.len() {
            0 => String::new(),
            n => format!(" AND task NOT IN ({})", placeholders(n)),
        };
        let due = format!(
            "SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ? AND (published_at IS NULL OR published_at < ?){skip} \
             ORDER BY fair_rank LIMIT ?"
        );
        // Several relays (one per process) never take the same rows.
        let picked = pick(self.db.dialect(), &due);
        let sql = format!(
            "UPDATE jobs SET published_at = ? WHERE {picked} AND {STILL_QUEUED} RETURNING {JOB_COLUMNS}, fair_rank"
        );
        let mut params: Vec<SqlValue> = vec![
            SqlValue::Int(now),
            SqlValue::Int(now),
            SqlValue::Int(now - REPUBLISH_AFTER_MS),
        ];
        params.extend(full_tasks.iter().map(SqlValue::from));
        params.push(SqlValue::Int(limit as i64));
        let out = self.db.batch(vec![promote_due(now), Stmt::new(sql, params)]).await?;
        let mut rows: Vec<(i64, Job)> = out
            .into_iter()
            .flat_map(|o| o.rows)
            .map(|r| Ok((r.get::<i64>("fair_rank")?, job_from_row(r)?)))
            .collect::<DbResult<_>>()?;
        rows.sort_by_key(|(rank, _)| *rank);
        Ok(rows
            .into_iter()
            .map(|(_, mut job)| {
                job.attempt += 1;
                job
            })
            .collect())
    }

    /// The tasks with more than `max` jobs in the broker (published less than
    /// [`REPUBLISH_AFTER_MS`] before `now` and not started yet).
    pub async fn crowded_tasks(&self, now: i64, max: usize) -> QueueResult<Vec<String>> {
        let rows = self
            .db
            .query(
                "SELECT task FROM jobs WHERE state = 'queued' AND published_at >= ? GROUP BY task HAVING COUNT(*) > ?",
                &[SqlValue::Int(now - REPUBLISH_AFTER_MS), SqlValue::Int(max as i64)],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| r.take::<String>("task"))
            .collect::<DbResult<_>>()?)
    }

    /// Forgets that queued jobs were published (their publication failed), so the relay
    /// takes them again.
    pub async fn unpublish(&self, ids: &[String]) -> QueueResult<()> {
        for chunk in ids.chunks(INSERT_CHUNK) {
            let sql = format!(
                "UPDATE jobs SET published_at = NULL WHERE id IN ({}) AND {STILL_QUEUED}",
                placeholders(chunk.len())
            );
            self.db
                .execute(&sql, chunk.iter().map(SqlValue::from).collect())
                .await?;
        }
        Ok(())
    }

    /// When the next queued job that was never published becomes due (milliseconds since
    /// the epoch).
    pub async fn next_unpublished_run_at(&self) -> QueueResult<Option<i64>> {
        let row = self
            .db
            .query_opt(
                "SELECT run_at FROM jobs WHERE state = 'queued' AND published_at IS NULL ORDER BY run_at LIMIT 1",
                &[],
            )
            .await?;
        let unpublished = row.map(|r| r.get::<i64>("run_at")).transpose()?;
        Ok(min_of(unpublished, self.next_scheduled_at().await?))
    }

    /// Makes a queued or running job dead with `error` (the broker gave up on its message);
    /// `false` when it was already done, dead or gone.
    pub async fn bury(&self, id: &str, error: &str) -> QueueResult<bool> {
        let now = now_ms();
        let out = self
            .db
            .execute(
                "UPDATE jobs SET state = 'dead', last_error = ?, finished_at = ?, lease_until = NULL \
                 WHERE id = ? AND state IN ('queued', 'running')",
                vec![truncate(error, 2000).into(), SqlValue::Int(now), id.into()],
            )
            .await?;
        Ok(out.affected == 1)
    }

    pub async fn list(&self, filter: &JobFilter) -> QueueResult<(Vec<JobRecord>, bool)> {
        let mut sql = format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE 1 = 1");
        let mut params = Vec::new();
        if let Some(org) = &filter.organization_id {
            sql.push_str(" AND organization_id = ?");
            params.push(SqlValue::from(org));
        }
        if let Some(state) = filter.state {
            sql.push_str(" AND state = ?");
            params.push(state.as_str().into());
        }
        if let Some(task) = &filter.task {
            sql.push_str(" AND task = ?");
            params.push(SqlValue::from(task));
        }
        let limit = filter.limit.clamp(1, 200);
        sql.push_str(" ORDER BY created_at DESC, id LIMIT ? OFFSET ?");
        params.push(SqlValue::Int(limit as i64 + 1));
        params.push(SqlValue::Int(filter.skip.min(1_000_000) as i64));
        let rows = self.db.query(&sql, &params).await?;
        let has_more = rows.len() > limit;
        let records = rows
            .into_iter()
            .take(limit)
            .map(record_from_row)
            .collect::<DbResult<_>>()?;
        Ok((records, has_more))
    }

    /// One job; `organization_id` scopes it (another organization's job is not found).
    pub async fn get(&self, id: &str, organization_id: Option<&str>) -> QueueResult<JobRecord> {
        let (scope, params) = scoped(id, organization_id);
        let sql = format!("SELECT {RECORD_COLUMNS} FROM jobs WHERE id = ?{scope}");
        let row = self.db.query_opt(&sql, &params).await?;
        row.map(record_from_row).transpose()?.ok_or(QueueError::NotFound)
    }

    /// Queues a dead job again, with its attempts reset.
    pub async fn retry(&self, id: &str, organization_id: Option<&str>) -> QueueResult<JobRecord> {
        let (scope, mut params) = scoped(id, organization_id);
        params.insert(0, SqlValue::Int(now_ms()));
        // The job as the retry left it: a worker may take it the moment it commits.
        let sql = format!(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, finished_at = NULL, worker = NULL, published_at = NULL \
             WHERE id = ?{scope} AND state = 'dead' RETURNING {RECORD_COLUMNS}"
        );
        let mut stmts = vec![Stmt::new(sql, params)];
        stmts.extend(self.db.dialect().notify(JOBS_CHANNEL));
        let out = self.db.batch(stmts).await?;
        let Some(row) = out.into_iter().next().and_then(|o| o.rows.into_iter().next()) else {
            return Err(self.not_dead(id, organization_id).await);
        };
        self.wake.notify_waiters();
        Ok(record_from_row(row)?)
    }

    /// Removes a dead job for good.
    pub async fn discard(&self, id: &str, organization_id: Option<&str>) -> QueueResult<()> {
        let (scope, params) = scoped(id, organization_id);
        let sql = format!("DELETE FROM jobs WHERE id = ?{scope} AND state = 'dead'");
        let out = self.db.execute(&sql, params).await?;
        if out.affected == 0 {
            return Err(self.not_dead(id, organization_id).await);
        }
        Ok(())
    }

    async fn not_dead(&self, id: &str, organization_id: Option<&str>) -> QueueError {
        match self.get(id, organization_id).await {
            Ok(job) => QueueError::Refused(format!(
                "job {id} is {}; only dead jobs can be retried or discarded",
                job.state.as_str()
            )),
            Err(e) => e,
        }
    }

    /// Jobs per task and state, done ones left out (the ledger forgets them after a while;
    /// their count is a counter of the workers).
    pub async fn depths(&self) -> QueueResult<Vec<TaskDepth>> {
        let rows = self
            .db
            .query(
                "SELECT task, state, COUNT(*) AS n FROM jobs WHERE state <> 'done' GROUP BY task, state ORDER BY task, state",
                &[],
            )
            .await?;
        let mut depths = Vec::with_capacity(rows.len());
        for mut r in rows {
            let Some(state) = JobState::parse(r.get("state")?) else {
                continue;
            };
            depths.push(TaskDepth {
                task: r.take("task")?,
                state,
                count: r.get("n")?,
            });
        }
        Ok(depths)
    }

    /// Forgets the jobs in a final `state` (done or dead) that finished before `before`
    /// (milliseconds since the epoch); how many. Queued and running jobs are never purged.
    pub async fn purge_finished(&self, state: JobState, before: i64) -> QueueResult<u64> {
        if !matches!(state, JobState::Done | JobState::Dead) {
            return Ok(0);
        }
        let out = self
            .db
            .execute(
                "DELETE FROM jobs WHERE state = ? AND finished_at < ?",
                vec![state.as_str().into(), SqlValue::Int(before)],
            )
            .await?;
        Ok(out.affected)
    }

    /// A consumer's durable position in the event log (0 when new).
    pub async fn cursor(&self, consumer: &str) -> QueueResult<i64> {
        let row = self
            .db
            .query_opt("SELECT seq FROM job_cursors WHERE consumer = ?", &[consumer.into()])
            .await?;
        Ok(row.map(|r| r.get::<i64>("seq")).transpose()?.unwrap_or(0))
    }

    /// The statements that move a consumer's cursor from `from` to `to`; the batch fails
    /// with a conflict when another process moved it first.
    pub fn cursor_stmts(&self, consumer: &str, from: i64, to: i64) -> Vec<Stmt> {
        vec![
            Stmt::new(
                "INSERT INTO job_cursors (consumer, seq) VALUES (?, ?) ON CONFLICT DO NOTHING",
                vec![consumer.into(), SqlValue::Int(from)],
            ),
            Stmt::one(
                "UPDATE job_cursors SET seq = ? WHERE consumer = ? AND seq = ?",
                vec![SqlValue::Int(to), consumer.into(), SqlValue::Int(from)],
            ),
        ]
    }
}

/// Moves an organization's last rank past the queue's head and by `n`.
fn rank_upsert(dialect: Dialect, organization_id: &str, n: i64) -> Stmt {
    let greatest = match dialect {
        Dialect::Sqlite => "MAX",
        Dialect::Postgres => "GREATEST",
    };
    Stmt::new(
        format!(
            "INSERT INTO job_ranks (organization_id, last_rank) VALUES (?, \
             COALESCE((SELECT MIN(fair_rank) FROM jobs WHERE state = 'queued'), (SELECT MAX(last_rank) FROM job_ranks), 0) + ?) \
             ON CONFLICT (organization_id) DO UPDATE SET last_rank = {greatest}(job_ranks.last_rank + ?, excluded.last_rank)"
        ),
        vec![organization_id.into(), SqlValue::Int(n), SqlValue::Int(n)],
    )
}

/// The condition that picks the rows whose ids `select` returns, for an `UPDATE` that
/// takes them. PostgreSQL may run an `IN (subquery)` more than once, each time taking
/// other rows past its LIMIT; an array is computed once, and rows another process is
/// taking are skipped rather than waited for. SQLite has one writer.
/// Queues the scheduled jobs that are due; run first in the transaction that takes jobs.
fn promote_due(now: i64) -> Stmt {
    Stmt::new(
        "UPDATE jobs SET state = 'queued' WHERE state = 'scheduled' AND run_at <= ?",
        vec![SqlValue::Int(now)],
    )
}

fn min_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn pick(dialect: Dialect, select: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("id = ANY(ARRAY({select} FOR UPDATE SKIP LOCKED))"),
        Dialect::Sqlite => format!("id IN ({select})"),
    }
}

fn scoped(id: &str, organization_id: Option<&str>) -> (&'static str, Vec<SqlValue>) {
    match organization_id {
        Some(org) => (" AND organization_id = ?", vec![id.into(), org.into()]),
        None => ("", vec![id.into()]),
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn lease_ms(lease: Duration) -> i64 {
    lease.as_millis().min(i64::MAX as u128) as i64
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// A job from a row of [`JOB_COLUMNS`].
fn job_from_row(mut r: Row) -> DbResult<Job> {
    Ok(Job {
        payload: serde_json::from_str(r.get("payload")?).unwrap_or(Value::Null),
        attempt: r.get::<i64>("attempts")?.max(0) as u32,
        max_attempts: r.get::<i64>("max_attempts")?.max(1) as u32,
        event_seq: r.get("event_seq")?,
        created_at: r.get("created_at")?,
        id: r.take("id")?,
        task: r.take("task")?,
        organization_id: r.take("organization_id")?,
        dedupe_key: r.take("dedupe_key")?,
    })
}

/// A job's record from a row of [`RECORD_COLUMNS`].
fn record_from_row(mut r: Row) -> DbResult<JobRecord> {
    Ok(JobRecord {
        payload: serde_json::from_str(r.get("payload")?).unwrap_or(Value::Null),
        state: JobState::parse(r.get("state")?).unwrap_or(JobState::Queued),
        attempts: r.get::<i64>("attempts")?.max(0) as u32,
        max_attempts: r.get::<i64>("max_attempts")?.max(1) as u32,
        event_seq: r.get("event_seq")?,
        created_at: r.get("created_at")?,
        run_at: r.get("run_at")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        id: r.take("id")?,
        task: r.take("task")?,
        organization_id: r.take("organization_id")?,
        dedupe_key: r.take("dedupe_key")?,
        last_error: r.take("last_error")?,
        worker: r.take("worker")?,
    })
}
