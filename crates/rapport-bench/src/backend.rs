//! The setups the job and chat benchmarks run on (`--backend`).

use anyhow::bail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL with RabbitMQ: jobs carried by the broker; for chat, two nodes.
    RabbitMq,
}

impl Backend {
    /// `sqlite`, `postgres`, `rabbitmq`, or `all` (the benchmark's `all`), for `flag`.
    pub(crate) fn parse_list(s: &str, flag: &str, all: &[Backend]) -> anyhow::Result<Vec<Backend>> {
        Ok(match s {
            "sqlite" => vec![Backend::Sqlite],
            "postgres" => vec![Backend::Postgres],
            "rabbitmq" => vec![Backend::RabbitMq],
            "all" => all.to_vec(),
            other => bail!("unknown backend {other} for {flag} (sqlite, postgres, rabbitmq or all)"),
        })
    }
}
