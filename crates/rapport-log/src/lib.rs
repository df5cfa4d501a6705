//! The event log as its consumers see it.
//!
//! Every change writes one row of `events` in the same transaction as the change (the
//! write path in `rapport-crm`). This crate reads that table: [`Event`] is one row, read by
//! column name; [`EventLog`] reads the log in sequence order and carries this process's
//! wake-up after each commit; [`Tail`] runs a [`Consumer`] over the log — the cursor,
//! wake-ups, batching, back-off and shutdown — so that a consumer is only its apply step
//! and where it starts.

pub mod event;
mod tail;

pub use event::{Action, Event, EventLog};
pub use tail::{Applied, Consumer, ConsumerError, Tail};
