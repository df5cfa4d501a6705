//! The end-to-end suite, one test binary: each module starts the real `rapport` binary
//! (`common::TestServer`, a fresh database per test) and talks to it as a client would,
//! most of them on SQLite and on PostgreSQL (`on_both_backends!`).
//!
//! Run one area with `cargo test --test e2e sessions::`, one test with its full name
//! (`cargo test --test e2e sessions::postgres::revoking_a_credential_closes_its_open_sockets`).

#[macro_use]
mod common;

mod api;
mod chat;
mod chat_broker_restart;
mod cli;
mod close_client;
mod durability;
mod jobs;
mod robustness;
mod search;
mod sessions;
mod structure;
mod webapp_browser;
mod widget_browser;
