//! The search benchmark: the generated leads of `dataset.rs`, loaded through the REST API
//! (or in bulk), then its fixed set of queries timed for the first page and the total
//! count, the write-to-searchable lag, and the server's memory.

use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::dataset::{Fields, PlanSource, QUERIES, SOURCES, TIERS};
use crate::{Connection, Server};

async fn post(conn: &mut Connection, server: &Server, path: &str, body: &Value) -> anyhow::Result<Value> {
    let (status, bytes) = conn
        .send(&server.request("POST", &format!("/api/v1/{path}/"), Some(body)))
        .await?;
    if status != 200 {
        bail!("POST {path} answered {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

pub(crate) fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Makes the statuses and custom fields the generated leads use.
async fn set_up(server: &Server, conn: &mut Connection) -> anyhow::Result<Fields> {
    let conn = &mut *conn;
    for label in ["Cold", "Hot"] {
        post(conn, server, "status/lead", &json!({"label": label})).await?;
    }
    let field = |r: Value| r["id"].as_str().unwrap_or_default().to_string();
    Ok(Fields {
        source: field(
            post(
                conn,
                server,
                "custom_field/lead",
                &json!({"name": "Lead Source", "type": "choices", "choices": SOURCES}),
            )
            .await?,
        ),
        seats: field(
            post(
                conn,
                server,
                "custom_field/lead",
                &json!({"name": "Seats", "type": "number"}),
            )
            .await?,
        ),
        tier: field(
            post(
                conn,
                server,
                "custom_field/lead",
                &json!({"name": "Tier", "type": "choices", "choices": TIERS}),
            )
            .await?,
        ),
        renewal: field(
            post(
                conn,
                server,
                "custom_field/lead",
                &json!({"name": "Renewal", "type": "date"}),
            )
            .await?,
        ),
        notes: field(
            post(
                conn,
                server,
                "custom_field/lead",
                &json!({"name": "Notes", "type": "text"}),
            )
            .await?,
        ),
    })
}

/// How the leads get into the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    /// Through the REST API.
    Api,
    /// Written straight into the SQLite store, then `rapport reindex`.
    Bulk,
    /// A store that `Bulk` filled before (`--reuse DIR`): only `rapport reindex`.
    Reuse,
    /// A store and index from before: nothing to load.
    ReuseIndex,
}

pub async fn run(
    server: &mut Server,
    leads: usize,
    runs: usize,
    connections: usize,
    loading: Loading,
    peer_runs: Option<usize>,
    browser_budget: bool,
) -> anyhow::Result<()> {
    let mut conn = Connection::open(&server.addr).await?;
    let fields = match loading {
        Loading::Reuse | Loading::ReuseIndex => existing_fields(server, &mut conn).await?,
        _ => set_up(server, &mut conn).await?,
    };
    let fields = std::sync::Arc::new(fields);
    match loading {
        Loading::Api => load_through_api(server, &mut conn, leads, connections, &fields).await?,
        Loading::Bulk => load_in_bulk(server, &mut conn, leads, &fields).await?,
        // An index left by an earlier run is kept (its reindex was timed then).
        Loading::ReuseIndex => println!("\nreusing the store and the index of an earlier run"),
        Loading::Reuse => {
            server.stop()?;
            reindex(server, leads)?;
        }
    }
    let mut conn = Connection::open(&server.addr).await?;
    println!("\n| query | matches | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    let mut measured = Vec::with_capacity(QUERIES.len());
    for query in QUERIES {
        let request = server.request("GET", &format!("/api/v1/lead/?query={}&_limit=25", encode(query)), None);
        let mut latencies = Vec::with_capacity(runs);
        let mut matches = Value::Null;
        let at = std::time::SystemTime::now();
        // One request first, untimed, as the peer's EXPLAIN ANALYZE is: it reads the
        // page's leads from the store's disk into the page cache.
        conn.send(&request).await?;
        for _ in 0..runs {
            let t = Instant::now();
            let (status, body) = conn.send(&request).await?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            if status != 200 {
                bail!("{query} answered {status}: {}", String::from_utf8_lossy(&body));
            }
            matches = serde_json::from_slice::<Value>(&body)?["total_results"].clone();
        }
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| crate::percentile(&latencies, p);
        println!(
            "| `{}` | {matches} | {:.1} | {:.1} |",
            query.replace('|', "\\|"),
            pct(0.5),
            pct(0.99)
        );
        measured.push(crate::pg_peer::Measured {
            total: matches.as_i64(),
            p50: pct(0.5),
            at,
        });
    }
    // Write to searchable: a new lead, then a search for it, as a client would do.
    let mut lags = Vec::new();
    for i in 0..20 {
        // Unique to this run: a reused store keeps the probes of earlier runs.
        let name = format!("Lagprobe{}x{i}x", std::process::id());
        let t = Instant::now();
        post(&mut conn, server, "lead", &json!({"name": name})).await?;
        let (_, body) = conn
            .send(&server.request(
                "GET",
                &format!("/api/v1/lead/?query={}&_limit=1", name.to_lowercase()),
                None,
            ))
            .await?;
        lags.push(t.elapsed().as_secs_f64() * 1000.0);
        if serde_json::from_slice::<Value>(&body)?["total_results"] != 1 {
            bail!("a lead was not searchable right after it was written");
        }
    }
    lags.sort_by(f64::total_cmp);
    println!(
        "\nwrite-to-searchable (POST, then the search that finds it): p50 {:.1} ms, p95 {:.1} ms",
        lags[10], lags[18]
    );
    println!("server RSS: {} MiB", server.rss_kib() / 1024);
    let index_dir = server.data_dir.join("search-index");
    println!("index size on disk: {} MiB", dir_size(&index_dir) / (1 << 20));
    if browser_budget {
        web_app_budget(server, &mut conn).await?;
    }
    let Some(peer_runs) = peer_runs else {
        return Ok(());
    };
    // The peer: the same leads and queries on PostgreSQL, hand-written SQL (issue 3).
    crate::pg_peer::run(leads, PlanSource::new(fields.clone()), &fields, &measured, peer_runs)
        .await
        .context("the PostgreSQL peer")
}

/// The web app on this store, in headless Chromium (`tests/browser/budget.mjs`), as a
/// user with a password made for the purpose.
async fn web_app_budget(server: &Server, conn: &mut Connection) -> anyhow::Result<()> {
    let email = format!("budget{}@bench.example", std::process::id());
    let password = "budget password";
    post(
        conn,
        server,
        "user",
        &json!({"email": email, "password": password, "first_name": "Budget", "role": "member"}),
    )
    .await?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/budget.mjs");
    let output = std::process::Command::new("node")
        .arg(&script)
        .env("RAPPORT_URL", format!("http://{}", server.addr))
        .env("RAPPORT_USER1_EMAIL", &email)
        .env("RAPPORT_USER1_PASSWORD", password)
        .output()
        .with_context(|| format!("running node {}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(metrics) = stdout.lines().find_map(|l| l.strip_prefix("METRICS ")) else {
        bail!(
            "the browser budget script failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let metrics: Value = serde_json::from_str(metrics)?;
    println!("\nweb app in Chromium (tests/browser/budget.mjs) on this store:");
    println!(
        "  JavaScript on first load: {:.1} KiB gzipped",
        metrics["js_gzip_bytes"].as_f64().unwrap_or(0.0) / 1024.0
    );
    println!("  cold load to the login form: {} ms", metrics["first_render_ms"]);
    println!(
        "  cold load (logged in) to the leads table: {} ms",
        metrics["leads_first_render_ms"]
    );
    println!("  100-row table render: {}", metrics["table_100_rows_ms"]);
    println!("  search as you type, last keystroke to results on screen (ms):");
    if let Some(queries) = metrics["search_as_you_type_ms"].as_object() {
        for (query, times) in queries {
            println!("    `{query}`: median {}, max {}", times["median"], times["max"]);
        }
    }
    Ok(())
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_size(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Stops the server, writes the leads into its store, rebuilds the index with
/// `rapport reindex` (timed), and starts it again.
async fn load_in_bulk(
    server: &mut Server,
    conn: &mut Connection,
    leads: usize,
    fields: &std::sync::Arc<Fields>,
) -> anyhow::Result<()> {
    let get = |path: &str| server.request("GET", &format!("/api/v1/{path}"), None);
    let me: Value = serde_json::from_slice(&conn.send(&get("me/")).await?.1)?;
    let labels = |page: Value| -> std::collections::HashMap<String, String> {
        page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    s["label"].as_str().unwrap_or_default().to_string(),
                    s["id"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let owner = crate::bulk::Owner {
        organization_id: me["organization_id"].as_str().context("organization id")?.to_string(),
        user_id: me["id"].as_str().context("user id")?.to_string(),
        lead_statuses: labels(serde_json::from_slice(&conn.send(&get("status/lead/")).await?.1)?),
        opportunity_statuses: labels(serde_json::from_slice(
            &conn.send(&get("status/opportunity/")).await?.1,
        )?),
    };
    server.stop()?;
    let started = Instant::now();
    let rows = crate::bulk::write(
        &server.data_dir.join("rapport.db"),
        &owner,
        &mut PlanSource::new(fields.clone()),
        leads,
    )?;
    let loaded = started.elapsed().as_secs_f64();
    println!("\nstore: {leads} leads, {rows} rows, written directly in {loaded:.1} s");
    reindex(server, leads)
}

/// Times `rapport reindex` on the stopped server's store, then starts the server again.
fn reindex(server: &mut Server, leads: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let report = server.command(&["reindex"])?;
    let reindexed = started.elapsed().as_secs_f64();
    println!(
        "`rapport reindex`: {reindexed:.1} s for {leads} leads ({:.0} leads/s); it said: {}",
        leads as f64 / reindexed,
        report.trim()
    );
    server.restart()
}

/// The custom fields of a store loaded before, by name.
async fn existing_fields(server: &Server, conn: &mut Connection) -> anyhow::Result<Fields> {
    let (_, body) = conn
        .send(&server.request("GET", "/api/v1/custom_field/lead/", None))
        .await?;
    let page: Value = serde_json::from_slice(&body)?;
    let id = |name: &str| -> anyhow::Result<String> {
        page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"] == name)
            .and_then(|f| f["id"].as_str())
            .map(str::to_string)
            .with_context(|| format!("no custom field {name} in the reused store"))
    };
    Ok(Fields {
        source: id("Lead Source")?,
        seats: id("Seats")?,
        tier: id("Tier")?,
        renewal: id("Renewal")?,
        notes: id("Notes")?,
    })
}

async fn load_through_api(
    server: &Server,
    conn: &mut Connection,
    leads: usize,
    connections: usize,
    fields: &std::sync::Arc<Fields>,
) -> anyhow::Result<()> {
    // Load through the API: leads are generated in order, each worker taking every n-th.
    let started = Instant::now();
    let mut workers = Vec::new();
    let mut objects = 0usize;
    let mut plans = Vec::new();
    let mut source = PlanSource::new(fields.clone());
    for _ in 0..leads {
        let plan = source.next_plan();
        objects += 1 + plan.0["contacts"].as_array().map_or(0, Vec::len) + plan.1.len();
        plans.push(plan);
    }
    let plans = std::sync::Arc::new(plans);
    for w in 0..connections {
        let (plans, addr) = (plans.clone(), server.addr.clone());
        let request = server.request_builder();
        workers.push(tokio::spawn(async move {
            let mut conn = Connection::open(&addr).await?;
            for (lead, children) in plans.iter().skip(w).step_by(connections) {
                let (status, bytes) = conn.send(&request("POST", "/api/v1/lead/", Some(lead))).await?;
                if status != 200 {
                    bail!("POST lead answered {status}: {}", String::from_utf8_lossy(&bytes));
                }
                let id = serde_json::from_slice::<Value>(&bytes)?["id"]
                    .as_str()
                    .context("lead id")?
                    .to_string();
                for (path, body) in children {
                    let mut body = body.clone();
                    body["lead_id"] = id.clone().into();
                    let path = if matches!(*path, "opportunity" | "task") {
                        path.to_string()
                    } else {
                        format!("activity/{path}")
                    };
                    let (status, bytes) = conn
                        .send(&request("POST", &format!("/api/v1/{path}/"), Some(&body)))
                        .await?;
                    if status != 200 {
                        bail!("POST {path} answered {status}: {}", String::from_utf8_lossy(&bytes));
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let loaded = started.elapsed();
    // The first search waits until the index has every lead.
    let (status, body) = conn
        .send(&server.request("GET", "/api/v1/lead/?query=&_limit=0", None))
        .await?;
    let searchable = started.elapsed();
    let total: Value = serde_json::from_slice(&body)?;
    if status != 200 || total["total_results"] != leads {
        bail!(
            "after loading, search counts {} leads ({status})",
            total["total_results"]
        );
    }
    eprintln!(
        "loaded {leads} leads ({objects} objects) through the API in {:.1} s ({:.0} objects/s); all searchable after {:.1} s",
        loaded.as_secs_f64(),
        objects as f64 / loaded.as_secs_f64(),
        searchable.as_secs_f64()
    );
    Ok(())
}
