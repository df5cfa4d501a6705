//! The PostgreSQL peer of the search benchmark (issue 3): the same generated leads in a
//! normalized schema such as a skilled engineer would design for these queries, and each
//! of the `QUERIES` written by hand in SQL, checked with `EXPLAIN` and timed the same number
//! of runs as Rapport, on one connection with prepared statements.
//!
//! The schema, in its own database `rapport_peer_<pid>` (dropped at the end, also on error):
//! - `leads`: typed columns for the lead's own fields, the custom values in a `jsonb` column
//!   (custom fields are defined by users at run time) with a `jsonb_path_ops` GIN index and
//!   an expression btree for the numeric one, per-lead aggregates kept at load time (counts
//!   of contacts/calls/emails/…, `last_called_at`, `last_email_opened_at`,
//!   `last_activity_at`, …), and `doc`, a `tsvector` of all its searchable text with GIN.
//! - `addresses`, `contacts`, `activities` (one table, `kind` column), `opportunities`,
//!   `tasks`, each with a btree on `lead_id` and the indexes their queries need (partial
//!   btrees, GIN on per-object `tsvector`s, `pg_trgm` GIN on phone digits).
//!
//! Text is folded the way the query language does it (§2, §9): `unaccent` (or, without the
//! extension, `translate` of the Latin accents), `lower`, and every run of characters that
//! are not letters or digits becomes a space, so the `simple` parser sees plain words;
//! prefix words are `to_tsquery('simple', 'acme:*')`, phrases `acme <-> corp`. Each value
//! is its own string in a `jsonb` array given to `to_tsvector`, which leaves a position gap
//! between strings: a phrase never spans two values, as in the language.
//!
//! Where the SQL does not say exactly what Rapport says (documented at each query too):
//! - The app resolves labels before querying (status `cold` → `Cold`, choice `referral` →
//!   `Referral`, `status_type:won` → `won`), as Rapport's binder does; the SQL compares the
//!   canonical values.
//! - "now" is a parameter: the instant Rapport ran the same query, so that relative dates
//!   (`"3 days ago"`, `today`) cut at the same place; time zone UTC, as Rapport without
//!   `X-TZ-Offset`.
//! - Relevance order (free text) is the number of free-text terms matched, then `-updated`,
//!   then id. For `acme`, `"acme corp"`, `pricing` and `john smith` every match matches every
//!   term, so the SQL orders by `updated DESC, id`; only `note(contract) or …` ranks.
//! - Ids and `updated` are the peer's own (leads are numbered in generation order and
//!   stamped a microsecond apart), so pages ordered by `-updated` or broken by id hold other
//!   leads than Rapport's; only the total counts are compared.
//! - A `tsvector` keeps at most 256 positions per word and positions up to 16383: far above
//!   what a generated lead has (at most ~40 text values).

use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use serde_json::Value;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

use crate::dataset::{Fields, Plan, PlanSource, QUERIES};

/// What Rapport measured for one query.
pub(crate) struct Measured {
    /// `total_results`.
    pub total: Option<i64>,
    pub p50: f64,
    /// When the timed runs began: the peer's "now" for this query.
    pub at: SystemTime,
}

const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";

/// The columns of a result page, and the total count of matches.
const PAGE: &str =
    "SELECT l.id, l.name, l.status, l.url, l.description, l.created, l.updated, count(*) OVER () AS total";

/// The SQL of each query in `QUERIES` (same order), with `$1` = now. Each is
/// `PAGE FROM leads l WHERE … ORDER BY … LIMIT 25`.
const PEER: &[(&str, &str)] = &[
    (
        "status:cold called:never email_opened < \"3 days ago\"",
        // `email_opened` is the newest open of any email of the lead, drafts included (as
        // the evaluator has it), kept in `last_email_opened_at`.
        "FROM leads l WHERE l.status = 'Cold' AND l.last_called_at IS NULL \
         AND l.last_email_opened_at > $1 - interval '3 days' ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "acme",
        "FROM leads l WHERE l.doc @@ to_tsquery('simple', 'acme:*') ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "\"acme corp\"",
        "FROM leads l WHERE l.doc @@ to_tsquery('simple', 'acme <-> corp') ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "pricing",
        "FROM leads l WHERE l.doc @@ to_tsquery('simple', 'pricing:*') ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "phone:415",
        // Digits anywhere in one number: the digits of a contact's numbers, space-separated,
        // with a trigram index.
        "FROM leads l WHERE l.id IN (SELECT c.lead_id FROM contacts c WHERE c.phone_digits LIKE '%415%') \
         ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "john smith",
        "FROM leads l WHERE l.doc @@ to_tsquery('simple', 'john:* & smith:*') ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "email:example3.com",
        // A bare value of several words is a phrase whose last word is a prefix.
        "FROM leads l WHERE l.id IN (SELECT c.lead_id FROM contacts c \
         WHERE c.email_doc @@ to_tsquery('simple', 'example3 <-> com:*')) ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "status:hot",
        "FROM leads l WHERE l.status = 'Hot' ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "-status:customer calls > 5",
        "FROM leads l WHERE l.status IS DISTINCT FROM 'Customer' AND l.calls > 5 \
         ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "call(duration > 600 direction:inbound)",
        // The matching lead ids first (a DISTINCT join): EXPLAIN showed a per-lead probe otherwise.
        "FROM leads l JOIN (SELECT DISTINCT a.lead_id FROM activities a \
         WHERE a.kind = 'call' AND a.direction = 'inbound' AND a.duration > 600) m ON m.lead_id = l.id \
         ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "email(opened > \"1 week ago\")",
        // `opened` inside `email(…)` is that email's newest open, kept in `last_opened_at`.
        // The matching lead ids first (a DISTINCT join): EXPLAIN showed a per-lead probe otherwise.
        "FROM leads l JOIN (SELECT DISTINCT a.lead_id FROM activities a \
         WHERE a.kind = 'email' AND a.last_opened_at < $1 - interval '7 days') m ON m.lead_id = l.id \
         ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "opportunity(status_type:won value > 10000)",
        "FROM leads l JOIN (SELECT DISTINCT o.lead_id FROM opportunities o \
         WHERE o.status_type = 'won' AND o.value_cents > 1000000) m ON m.lead_id = l.id \
         ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "opportunity_value >= 40000 sort:-calls",
        "FROM leads l JOIN (SELECT DISTINCT o.lead_id FROM opportunities o WHERE o.value_cents >= 4000000) m \
         ON m.lead_id = l.id ORDER BY l.calls DESC, l.id LIMIT 25",
    ),
    (
        "contacts:1 has:phone",
        "FROM leads l WHERE l.contacts = 1 AND EXISTS (SELECT 1 FROM contacts c \
         WHERE c.lead_id = l.id AND cardinality(c.phones) > 0) ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "last_called < \"30 days ago\"",
        "FROM leads l WHERE l.last_called_at > $1 - interval '30 days' ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "last_activity > \"200 days ago\"",
        "FROM leads l WHERE l.last_activity_at < $1 - interval '200 days' ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "\"custom.Lead Source\":referral \"custom.Tier\":gold",
        "FROM leads l WHERE l.custom @> '{\"source\": \"Referral\", \"tier\": \"Gold\"}' \
         ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "custom.seats > 400 sort:-custom.seats",
        "FROM leads l WHERE (l.custom ->> 'seats')::numeric > 400 \
         ORDER BY (l.custom ->> 'seats')::numeric DESC, l.id LIMIT 25",
    ),
    (
        "task(done:no due < today)",
        // A task's due date is a day; today is UTC's.
        // (As a DISTINCT join the planner re-ran the subquery per lead: 20x slower.)
        "FROM leads l WHERE l.id IN (SELECT t.lead_id FROM tasks t \
         WHERE NOT t.is_complete AND t.due < ($1 AT TIME ZONE 'UTC')::date) ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
    (
        "sort:name",
        // Rapport sorts the folded name by code point: the "C" collation.
        "FROM leads l ORDER BY l.name_sort, l.id LIMIT 25",
    ),
    (
        "note(contract) or meeting(title:demo)",
        // Relevance: only `contract` is free text, so leads with such a note come first.
        "FROM leads l LEFT JOIN (SELECT DISTINCT a.lead_id FROM activities a \
         WHERE a.kind = 'note' AND a.doc @@ to_tsquery('simple', 'contract:*')) n ON n.lead_id = l.id \
         WHERE n.lead_id IS NOT NULL OR l.id IN (SELECT a.lead_id FROM activities a \
         WHERE a.kind = 'meeting' AND a.doc @@ to_tsquery('simple', 'demo:*')) \
         ORDER BY n.lead_id IS NOT NULL DESC, l.updated DESC, l.id LIMIT 25",
    ),
    (
        "city:paris created:today",
        // `city:` is text: some word of some address's city starts with `paris`.
        "FROM leads l WHERE l.id IN (SELECT ad.lead_id FROM addresses ad \
         WHERE ad.city_doc @@ to_tsquery('simple', 'paris:*')) \
         AND l.created >= date_trunc('day', $1 AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' \
         AND l.created < (date_trunc('day', $1 AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC' \
         ORDER BY l.updated DESC, l.id LIMIT 25",
    ),
];

/// The peer's database, dropped with it (also when the benchmark fails half-way).
struct Database {
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .output();
    }
}

async fn connect(database: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(&format!("{SERVER} dbname={database}"), NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL ({SERVER} dbname={database})"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Loads the plans, checks and times every query, prints the comparison with Rapport.
pub(crate) async fn run(
    leads: usize,
    mut plans: PlanSource,
    fields: &Fields,
    rapport: &[Measured],
    runs: usize,
) -> anyhow::Result<()> {
    assert_eq!(PEER.len(), QUERIES.len(), "one SQL per query");
    for ((query, _), wanted) in PEER.iter().zip(QUERIES) {
        assert_eq!(query, wanted, "PEER follows QUERIES");
    }
    let name = format!("rapport_peer_{}", std::process::id());
    let admin = connect("postgres").await?;
    // Separate statements: DROP/CREATE DATABASE cannot run in a transaction block.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .context("dropping a stale peer database")?;
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .context("creating the peer database")?;
    let _database = Database { name: name.clone() };
    drop(admin);
    let client = connect(&name).await?;
    let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);

    let started = Instant::now();
    let unaccent = schema(&client).await?;
    let rows = load(&client, leads, &mut plans, fields).await?;
    finish(&client).await?;
    println!(
        "\n## PostgreSQL {version} peer: the same {} leads ({rows} rows), hand-written SQL\n\n\
         loaded with multi-row INSERTs, aggregates, tsvectors, indexes and VACUUM ANALYZE in {:.1} s; \
         folding with {}",
        leads,
        started.elapsed().as_secs_f64(),
        if unaccent {
            "unaccent"
        } else {
            "lower + translate (no unaccent)"
        }
    );

    // One EXPLAIN ANALYZE per query (also a warm-up), summarized on a line.
    println!("\nplans (EXPLAIN ANALYZE, once):");
    let mut statements = Vec::with_capacity(PEER.len());
    for ((query, sql), measured) in PEER.iter().zip(rapport) {
        let sql = format!("{PAGE} {sql}");
        let explain = client
            .prepare_typed(&format!("EXPLAIN (ANALYZE, COSTS OFF) {sql}"), &[Type::TIMESTAMPTZ])
            .await
            .with_context(|| format!("EXPLAIN of {query}"))?;
        let lines: Vec<String> = client
            .query(&explain, &[&measured.at])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        println!("- `{query}`: {}", summarize(&lines));
        statements.push(
            client
                .prepare_typed(&sql, &[Type::TIMESTAMPTZ])
                .await
                .with_context(|| format!("SQL of {query}"))?,
        );
    }

    let mut table = Vec::new();
    let mut warnings = Vec::new();
    for ((query, statement), measured) in QUERIES.iter().zip(&statements).zip(rapport) {
        let mut latencies = Vec::with_capacity(runs);
        let mut total = 0i64;
        for _ in 0..runs {
            let t = Instant::now();
            let rows = client.query(statement, &[&measured.at]).await?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            total = rows.first().map_or(0, |r| r.get("total"));
        }
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| crate::percentile(&latencies, p);
        if measured.total != Some(total) {
            warnings.push(format!(
                "WARNING: `{query}`: the peer counts {total} leads, Rapport {}",
                measured.total.map_or("nothing".to_string(), |t| t.to_string())
            ));
        }
        table.push((query, measured, total, pct(0.5), pct(0.99)));
    }
    println!("\n| query | Rapport matches | peer matches | Rapport p50 ms | peer p50 ms | peer p99 ms | peer p50 / Rapport p50 |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (query, measured, total, p50, p99) in &table {
        println!(
            "| `{}` | {} | {total} | {:.1} | {p50:.2} | {p99:.2} | {:.2} |",
            query.replace('|', "\\|"),
            measured.total.map_or("?".to_string(), |t| t.to_string()),
            measured.p50,
            p50 / measured.p50.max(f64::MIN_POSITIVE)
        );
    }
    if warnings.is_empty() {
        println!("\nall {} totals agree with Rapport's", table.len());
    } else {
        println!();
        for warning in &warnings {
            println!("{warning}");
        }
    }
    Ok(())
}

/// A one-line plan summary: the scans (table and index), and the execution time.
fn summarize(lines: &[String]) -> String {
    let mut scans: Vec<String> = Vec::new();
    let mut time = String::new();
    for line in lines {
        let line = line.trim().trim_start_matches("->").trim();
        if let Some(t) = line.strip_prefix("Execution Time: ") {
            time = t.to_string();
        } else if line.contains("Scan") {
            let scan = line.split(" (").next().unwrap_or(line).to_string();
            if !scans.contains(&scan) {
                scans.push(scan);
            }
        }
    }
    let indexed = scans.iter().any(|s| s.contains("Index"));
    format!(
        "{}; {}; {time}",
        if indexed { "index" } else { "no index" },
        scans.join(", ")
    )
}

/// Creates the extensions, helper functions and tables; returns whether `unaccent` is there.
async fn schema(client: &Client) -> anyhow::Result<bool> {
    let unaccent = client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        .await
        .is_ok();
    let trigrams = client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        .await
        .is_ok();
    let fold = if unaccent {
        "lower(public.unaccent('public.unaccent'::regdictionary, $1))"
    } else {
        "lower(translate($1, 'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿ', \
         'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyy'))"
    };
    client
        .batch_execute(&format!(
            "
            -- Folding (accents off, lower case) and words (runs of letters and digits).
            CREATE FUNCTION fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                AS $$ SELECT {fold} $$;
            CREATE FUNCTION words(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                AS $$ SELECT regexp_replace(fold($1), '[^[:alnum:]]+', ' ', 'g') $$;
            -- The words of several values, each its own string: phrases do not span values.
            CREATE FUNCTION doc_of(text[]) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT to_tsvector('simple'::regconfig, coalesce(jsonb_agg(words(v)), '[]'::jsonb))
                      FROM unnest($1) v WHERE v IS NOT NULL $$;
            CREATE FUNCTION digits_of(text[]) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT string_agg(regexp_replace(p, '[^0-9]', '', 'g'), ' ') FROM unnest($1) p $$;
            CREATE FUNCTION newest(timestamptz[]) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT max(t) FROM unnest($1) t $$;

            CREATE TABLE leads (
                id bigint PRIMARY KEY,
                name text,
                name_sort text COLLATE \"C\" GENERATED ALWAYS AS (fold(name)) STORED,
                url text,
                description text,
                status text,
                custom jsonb NOT NULL DEFAULT '{{}}',
                created timestamptz NOT NULL,
                updated timestamptz NOT NULL,
                -- Kept at load time (by the application or triggers in a real system).
                contacts int NOT NULL DEFAULT 0,
                calls int NOT NULL DEFAULT 0,
                emails int NOT NULL DEFAULT 0,
                notes int NOT NULL DEFAULT 0,
                sms int NOT NULL DEFAULT 0,
                meetings int NOT NULL DEFAULT 0,
                opportunities int NOT NULL DEFAULT 0,
                tasks int NOT NULL DEFAULT 0,
                last_called_at timestamptz,
                last_emailed_at timestamptz,
                last_email_opened_at timestamptz,
                last_note_at timestamptz,
                last_sms_at timestamptz,
                last_meeting_at timestamptz,
                last_activity_at timestamptz,
                doc tsvector NOT NULL DEFAULT ''
            );
            CREATE TABLE addresses (
                lead_id bigint NOT NULL REFERENCES leads,
                address_1 text, address_2 text, city text, state text, zipcode text, country text,
                city_doc tsvector GENERATED ALWAYS AS (doc_of(ARRAY[city])) STORED
            );
            CREATE TABLE contacts (
                id bigserial PRIMARY KEY,
                lead_id bigint NOT NULL REFERENCES leads,
                name text,
                title text,
                emails text[] NOT NULL,
                phones text[] NOT NULL,
                email_doc tsvector GENERATED ALWAYS AS (doc_of(emails)) STORED,
                phone_digits text GENERATED ALWAYS AS (digits_of(phones)) STORED
            );
            CREATE TABLE activities (
                id bigserial PRIMARY KEY,
                lead_id bigint NOT NULL REFERENCES leads,
                kind text NOT NULL,
                activity_at timestamptz NOT NULL,
                duration int,
                direction text,
                status text,
                subject text,
                body text,
                opens timestamptz[],
                last_opened_at timestamptz GENERATED ALWAYS AS (newest(opens)) STORED,
                doc tsvector GENERATED ALWAYS AS (doc_of(ARRAY[subject, body])) STORED
            );
            CREATE TABLE opportunities (
                id bigserial PRIMARY KEY,
                lead_id bigint NOT NULL REFERENCES leads,
                status_label text NOT NULL,
                status_type text NOT NULL,
                value_cents bigint,
                confidence int
            );
            CREATE TABLE tasks (
                id bigserial PRIMARY KEY,
                lead_id bigint NOT NULL REFERENCES leads,
                text text NOT NULL,
                due date,
                is_complete boolean NOT NULL
            );
            "
        ))
        .await
        .context("creating the peer schema")?;
    if !trigrams {
        eprintln!("peer: no pg_trgm, `phone:` digits are matched without an index");
    }
    Ok(unaccent)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// One multi-row insert: `INSERT … SELECT … FROM unnest($1::type[], …)`, a column per array.
async fn insert(client: &Client, sql: &str, columns: &[&(dyn ToSql + Sync)]) -> anyhow::Result<()> {
    client
        .execute(sql, columns)
        .await
        .with_context(|| format!("loading: {sql}"))?;
    Ok(())
}

#[derive(Default)]
struct Leads {
    id: Vec<i64>,
    name: Vec<Option<String>>,
    url: Vec<Option<String>>,
    description: Vec<Option<String>>,
    status: Vec<Option<String>>,
    custom: Vec<String>,
    city: Vec<Option<String>>,
    country: Vec<Option<String>>,
}

#[derive(Default)]
struct Contacts {
    lead: Vec<i64>,
    name: Vec<Option<String>>,
    title: Vec<Option<String>>,
    emails: Vec<String>,
    phones: Vec<String>,
}

#[derive(Default)]
struct Activities {
    lead: Vec<i64>,
    kind: Vec<&'static str>,
    at: Vec<Option<String>>,
    duration: Vec<Option<i32>>,
    direction: Vec<Option<String>>,
    status: Vec<Option<String>>,
    subject: Vec<Option<String>>,
    body: Vec<Option<String>>,
    opens: Vec<Option<String>>,
}

#[derive(Default)]
struct Opportunities {
    lead: Vec<i64>,
    label: Vec<String>,
    value: Vec<Option<i64>>,
    confidence: Vec<Option<i32>>,
}

#[derive(Default)]
struct Tasks {
    lead: Vec<i64>,
    text: Vec<String>,
    due: Vec<Option<String>>,
    done: Vec<bool>,
}

/// E.164 of the generated numbers (`+1 415 555 0123` → `+14155550123`), as Rapport stores them.
fn e164(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// Loads the plans in chunks of leads; returns the number of rows.
async fn load(client: &Client, leads: usize, plans: &mut PlanSource, fields: &Fields) -> anyhow::Result<usize> {
    let mut rows = 0;
    for chunk_index in 0..leads.div_ceil(1000) {
        let chunk: Vec<Plan> = (chunk_index * 1000..leads.min((chunk_index + 1) * 1000))
            .map(|_| plans.next_plan())
            .collect();
        let (mut l, mut c, mut a, mut o, mut t) = (
            Leads::default(),
            Contacts::default(),
            Activities::default(),
            Opportunities::default(),
            Tasks::default(),
        );
        for (k, (lead, children)) in chunk.iter().enumerate() {
            let id = (chunk_index * 1000 + k) as i64;
            let custom = |f: &str| &lead[format!("custom.{f}")];
            l.id.push(id);
            l.name.push(text(&lead["name"]));
            // Rapport keeps a bare domain as an `http://` URL.
            l.url.push(lead["url"].as_str().map(|u| format!("http://{u}")));
            l.description.push(text(&lead["description"]));
            l.status.push(text(&lead["status"]));
            l.custom.push(
                serde_json::json!({
                    "source": custom(&fields.source),
                    "seats": custom(&fields.seats),
                    "tier": custom(&fields.tier),
                    "renewal": custom(&fields.renewal),
                    "notes": custom(&fields.notes),
                })
                .to_string(),
            );
            let address = &lead["addresses"][0];
            l.city.push(text(&address["city"]));
            l.country.push(text(&address["country"]));
            for contact in lead["contacts"].as_array().into_iter().flatten() {
                let list = |key: &str, item: &str, map: fn(&str) -> String| {
                    contact[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e[item].as_str().map(map))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                c.lead.push(id);
                c.name.push(text(&contact["name"]));
                c.title.push(text(&contact["title"]));
                c.emails.push(list("emails", "email", str::to_lowercase));
                c.phones.push(list("phones", "phone", e164));
            }
            for (kind, body) in children {
                match *kind {
                    "opportunity" => {
                        o.lead.push(id);
                        o.label.push(text(&body["status"]).unwrap_or_default());
                        o.value.push(body["value"].as_i64());
                        o.confidence.push(body["confidence"].as_i64().map(|c| c as i32));
                    }
                    "task" => {
                        t.lead.push(id);
                        t.text.push(text(&body["text"]).unwrap_or_default());
                        t.due.push(text(&body["date"]));
                        t.done.push(body["is_complete"].as_bool().unwrap_or(false));
                    }
                    kind => {
                        let (subject, text_body) = match kind {
                            "note" => (None, text(&body["note"])),
                            "call" => (None, text(&body["note"])),
                            "email" => (text(&body["subject"]), text(&body["body_text"])),
                            "sms" => (None, text(&body["text"])),
                            // A meeting's title; its date defaults to its start.
                            _ => (text(&body["title"]), None),
                        };
                        a.lead.push(id);
                        a.kind.push(kind);
                        a.at.push(text(&body["activity_at"]).or_else(|| text(&body["starts_at"])));
                        a.duration.push(body["duration"].as_i64().map(|d| d as i32));
                        a.direction.push(text(&body["direction"]));
                        a.status.push(text(&body["status"]));
                        a.subject.push(subject);
                        a.body.push(text_body);
                        a.opens.push(body["opens"].as_array().map(|opens| {
                            opens
                                .iter()
                                .filter_map(|o| o["opened_at"].as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        }));
                    }
                }
            }
        }
        rows += l.id.len() * 2 + c.lead.len() + a.lead.len() + o.lead.len() + t.lead.len();
        insert(
            client,
            "INSERT INTO leads (id, name, url, description, status, custom, created, updated)
             SELECT id, name, url, description, status, custom::jsonb,
                    now() + id * interval '1 microsecond', now() + id * interval '1 microsecond'
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                  AS u(id, name, url, description, status, custom)",
            &[&l.id, &l.name, &l.url, &l.description, &l.status, &l.custom],
        )
        .await?;
        insert(
            client,
            "INSERT INTO addresses (lead_id, city, country) SELECT * FROM unnest($1::int8[], $2::text[], $3::text[])",
            &[&l.id, &l.city, &l.country],
        )
        .await?;
        insert(
            client,
            "INSERT INTO contacts (lead_id, name, title, emails, phones)
             SELECT lead_id, name, title, string_to_array(emails, ' '), string_to_array(phones, ' ')
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(lead_id, name, title, emails, phones)",
            &[&c.lead, &c.name, &c.title, &c.emails, &c.phones],
        )
        .await?;
        insert(
            client,
            "INSERT INTO activities (lead_id, kind, activity_at, duration, direction, status, subject, body, opens)
             SELECT lead_id, kind, at::timestamptz, duration, direction, status, subject, body,
                    string_to_array(opens, ',')::timestamptz[]
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                  AS u(lead_id, kind, at, duration, direction, status, subject, body, opens)",
            &[
                &a.lead,
                &a.kind,
                &a.at,
                &a.duration,
                &a.direction,
                &a.status,
                &a.subject,
                &a.body,
                &a.opens,
            ],
        )
        .await?;
        insert(
            client,
            "INSERT INTO opportunities (lead_id, status_label, status_type, value_cents, confidence)
             SELECT lead_id, label, lower(label), value, confidence
             FROM unnest($1::int8[], $2::text[], $3::int8[], $4::int4[]) AS u(lead_id, label, value, confidence)",
            &[&o.lead, &o.label, &o.value, &o.confidence],
        )
        .await?;
        insert(
            client,
            "INSERT INTO tasks (lead_id, text, due, is_complete)
             SELECT lead_id, text, due::date, done FROM unnest($1::int8[], $2::text[], $3::text[], $4::bool[])
                  AS u(lead_id, text, due, done)",
            &[&t.lead, &t.text, &t.due, &t.done],
        )
        .await?;
    }
    Ok(rows)
}

/// The per-lead aggregates and text, the indexes, then VACUUM ANALYZE.
async fn finish(client: &Client) -> anyhow::Result<()> {
    client
        .batch_execute(
            "
            UPDATE leads l SET
                calls = a.calls, emails = a.emails, notes = a.notes, sms = a.sms, meetings = a.meetings,
                last_called_at = a.last_called_at, last_emailed_at = a.last_emailed_at,
                last_email_opened_at = a.last_email_opened_at, last_note_at = a.last_note_at,
                last_sms_at = a.last_sms_at, last_meeting_at = a.last_meeting_at,
                last_activity_at = a.last_activity_at
            FROM (
                SELECT lead_id,
                    count(*) FILTER (WHERE kind = 'call') AS calls,
                    count(*) FILTER (WHERE kind = 'email' AND status IS DISTINCT FROM 'draft') AS emails,
                    count(*) FILTER (WHERE kind = 'note') AS notes,
                    count(*) FILTER (WHERE kind = 'sms') AS sms,
                    count(*) FILTER (WHERE kind = 'meeting') AS meetings,
                    max(activity_at) FILTER (WHERE kind = 'call') AS last_called_at,
                    max(activity_at) FILTER (WHERE kind = 'email' AND status IS DISTINCT FROM 'draft') AS last_emailed_at,
                    max(last_opened_at) FILTER (WHERE kind = 'email') AS last_email_opened_at,
                    max(activity_at) FILTER (WHERE kind = 'note') AS last_note_at,
                    max(activity_at) FILTER (WHERE kind = 'sms') AS last_sms_at,
                    max(activity_at) FILTER (WHERE kind = 'meeting') AS last_meeting_at,
                    max(activity_at) FILTER (WHERE kind <> 'email' OR status IS DISTINCT FROM 'draft')
                        AS last_activity_at
                FROM activities GROUP BY lead_id
            ) a
            WHERE a.lead_id = l.id;
            UPDATE leads l SET contacts = c.n FROM (SELECT lead_id, count(*) AS n FROM contacts GROUP BY lead_id) c
                WHERE c.lead_id = l.id;
            UPDATE leads l SET opportunities = o.n
                FROM (SELECT lead_id, count(*) AS n FROM opportunities GROUP BY lead_id) o WHERE o.lead_id = l.id;
            UPDATE leads l SET tasks = t.n FROM (SELECT lead_id, count(*) AS n FROM tasks GROUP BY lead_id) t
                WHERE t.lead_id = l.id;
            -- All the searchable text of a lead (§2), one string per value.
            UPDATE leads l SET doc = d.doc FROM (
                SELECT lead_id, doc_of(array_agg(v)) AS doc FROM (
                    SELECT id AS lead_id, v FROM leads, unnest(ARRAY[name, description, url, custom ->> 'notes']) v
                    UNION ALL
                    SELECT lead_id, v FROM addresses, unnest(ARRAY[address_1, address_2, city, state, zipcode, country]) v
                    UNION ALL
                    SELECT lead_id, v FROM contacts,
                        unnest(ARRAY[name, title] || emails || string_to_array(phone_digits, ' ')) v
                    UNION ALL
                    SELECT lead_id, v FROM activities, unnest(ARRAY[subject, body]) v
                ) texts
                GROUP BY lead_id
            ) d
            WHERE d.lead_id = l.id;

            CREATE INDEX ON leads (updated DESC, id);
            CREATE INDEX ON leads (status, updated DESC, id);
            CREATE INDEX ON leads (name_sort, id);
            CREATE INDEX ON leads (created);
            CREATE INDEX ON leads (calls DESC, id);
            CREATE INDEX ON leads (contacts);
            CREATE INDEX ON leads (last_called_at);
            CREATE INDEX ON leads (last_email_opened_at);
            CREATE INDEX ON leads (last_activity_at);
            CREATE INDEX ON leads USING gin (doc);
            CREATE INDEX ON leads USING gin (custom jsonb_path_ops);
            CREATE INDEX ON leads (((custom ->> 'seats')::numeric) DESC, id);
            CREATE INDEX ON addresses (lead_id);
            CREATE INDEX ON addresses USING gin (city_doc);
            CREATE INDEX ON contacts (lead_id);
            CREATE INDEX ON contacts USING gin (email_doc);
            CREATE INDEX ON activities (lead_id, kind, activity_at);
            CREATE INDEX ON activities USING gin (doc);
            CREATE INDEX ON activities (direction, duration) INCLUDE (lead_id) WHERE kind = 'call';
            CREATE INDEX ON activities (last_opened_at) INCLUDE (lead_id) WHERE kind = 'email';
            CREATE INDEX ON opportunities (lead_id);
            CREATE INDEX ON opportunities (status_type, value_cents) INCLUDE (lead_id);
            CREATE INDEX ON opportunities (value_cents) INCLUDE (lead_id);
            CREATE INDEX ON tasks (lead_id);
            CREATE INDEX ON tasks (due) INCLUDE (lead_id) WHERE NOT is_complete;
            ",
        )
        .await
        .context("aggregates and indexes")?;
    // Digits anywhere in a number: trigrams, when the extension is there.
    let _ = client
        .batch_execute("CREATE INDEX ON contacts USING gin (phone_digits gin_trgm_ops)")
        .await;
    client.batch_execute("VACUUM ANALYZE").await.context("VACUUM ANALYZE")?;
    Ok(())
}
