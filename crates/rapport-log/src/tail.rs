//! Running a consumer over the log: the one loop every consumer shares.

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;

use crate::{Event, EventLog};

/// What a consumer's step can fail with; the tail logs it and tries again after a pause.
pub type ConsumerError = Box<dyn std::error::Error + Send + Sync>;

/// What a consumer did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Every event of the batch is applied: the cursor moves past it.
    All,
    /// Another node moved the shared cursor first and this batch left nothing: stand by
    /// for this long before reading on (racing on every batch, both would do all the work).
    LostRace(Duration),
}

/// One consumer of the log: where it starts and how it applies a batch. The [`Tail`] does
/// the rest.
pub trait Consumer: Send {
    /// The consumer's name in log messages.
    fn name(&self) -> &'static str;

    /// The sequence number to read after (`EventLog::last_seq` for "from now on"). Asked
    /// once, or before every batch for a cursor other nodes move too
    /// ([`Tail::shared_cursor`]).
    fn start(&mut self) -> impl Future<Output = Result<i64, ConsumerError>> + Send;

    /// Applies `events` (in sequence order, at least one). Must be safe to abandon at an
    /// await point: the tail drops it when shutting down.
    fn apply(&mut self, events: Vec<Event>) -> impl Future<Output = Result<Applied, ConsumerError>> + Send;
}

/// How a consumer follows the log.
#[derive(Clone)]
pub struct Tail {
    log: EventLog,
    batch: usize,
    idle_recheck: Duration,
    listening_recheck: Duration,
    retry: Duration,
    shared_cursor: bool,
}

impl Tail {
    /// Batches of 500 events; an idle tail looks at the log every 500 ms anyway (other
    /// processes on one SQLite file — the CLI — do not wake it), or every 5 s where other
    /// nodes' commits wake it (only a safety net for a notification lost while
    /// reconnecting); a failed step is retried after 1 s.
    pub fn new(log: EventLog) -> Tail {
        Tail {
            log,
            batch: 500,
            idle_recheck: Duration::from_millis(500),
            listening_recheck: Duration::from_secs(5),
            retry: Duration::from_secs(1),
            shared_cursor: false,
        }
    }

    /// Events read per batch.
    pub fn batch(mut self, events: usize) -> Tail {
        self.batch = events;
        self
    }

    /// How often an idle tail reads the log when nothing woke it: without, and with, other
    /// nodes' notifications.
    pub fn idle_recheck(mut self, alone: Duration, listening: Duration) -> Tail {
        self.idle_recheck = alone;
        self.listening_recheck = listening;
        self
    }

    /// The cursor is the consumer's own record, which other nodes move too: it is read
    /// again ([`Consumer::start`]) before every batch.
    pub fn shared_cursor(mut self) -> Tail {
        self.shared_cursor = true;
        self
    }

    /// Runs `consumer` until `shutdown` resolves. Events read after a shutdown began are
    /// not applied: they are left to the next start.
    pub async fn run<C: Consumer>(self, mut consumer: C, shutdown: impl Future<Output = ()>) {
        let name = consumer.name();
        tokio::pin!(shutdown);
        let mut other_nodes = self.log.other_nodes();
        let mut cursor: Option<i64> = None;
        loop {
            if cursor.is_none() || self.shared_cursor {
                let started = tokio::select! {
                    biased;
                    _ = &mut shutdown => return,
                    started = consumer.start() => started,
                };
                match started {
                    Ok(at) => cursor = Some(at),
                    Err(e) => {
                        tracing::error!(consumer = name, error = %e, "cannot find where to read the event log from; retrying");
                        if self.pause(self.retry, &mut shutdown).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let after = cursor.unwrap_or_default();
            let next_commit = self.log.next_commit();
            let read = tokio::select! {
                biased;
                _ = &mut shutdown => return,
                read = self.log.read_after(None, after, self.batch) => read,
            };
            let events = match read {
                Ok(events) => events,
                Err(e) => {
                    tracing::error!(consumer = name, error = %e, "cannot read the event log; retrying");
                    if self.pause(self.retry, &mut shutdown).await {
                        return;
                    }
                    continue;
                }
            };
            let Some(last) = events.last().map(|e| e.seq) else {
                let recheck = if other_nodes.is_listening() {
                    self.listening_recheck
                } else {
                    self.idle_recheck
                };
                tokio::select! {
                    biased;
                    _ = &mut shutdown => return,
                    _ = next_commit => {}
                    _ = other_nodes.notified() => {}
                    _ = tokio::time::sleep(recheck) => {}
                }
                continue;
            };
            // A read on SQLite never yields: a shutdown may have begun meanwhile.
            if (&mut shutdown).now_or_never().is_some() {
                return;
            }
            let applied = tokio::select! {
                biased;
                _ = &mut shutdown => return,
                applied = consumer.apply(events) => applied,
            };
            match applied {
                Ok(Applied::All) => cursor = Some(last),
                Ok(Applied::LostRace(wait)) => {
                    if self.pause(wait, &mut shutdown).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(consumer = name, error = %e, "cannot apply events of the log; retrying");
                    if self.pause(self.retry, &mut shutdown).await {
                        return;
                    }
                }
            }
        }
    }

    /// Waits `wait`; true when the shutdown came first.
    async fn pause(&self, wait: Duration, shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
        tokio::select! {
            biased;
            _ = shutdown => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }
}
