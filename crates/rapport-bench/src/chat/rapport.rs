//! Rapport's side of the chat benchmark: one `rapport serve`, or two on one PostgreSQL
//! database and one RabbitMQ vhost; a website, the visitors' sessions, their sockets.

use std::process::Command;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::load::{Role, Target, Wire};
use super::{measure_connected, Backend, ChatOptions, Figures, OPERATORS};
use crate::{spawn, Connection, Server};

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// HTTP connections that create the visitors' sessions.
const SESSION_CONNECTIONS: usize = 32;

pub(super) async fn measure(backend: Backend, o: &ChatOptions) -> anyhow::Result<Figures> {
    let nodes = Nodes::start(backend)?;
    let (a, b) = (&nodes.a, nodes.b.as_ref().unwrap_or(&nodes.a));
    let key = website(a).await?;
    let visitors = o.connections - OPERATORS;
    let tokens = sessions(b, &key, visitors).await?;
    eprintln!(
        "   {visitors} visitor sessions on node {}",
        if nodes.b.is_some() { "B" } else { "A" }
    );
    let mut targets: Vec<Target> = (0..OPERATORS)
        .map(|_| Target {
            url: format!("ws://{}/api/v1/realtime", a.addr),
            headers: vec![("authorization", a.auth.clone())],
            wire: Wire::Rapport,
            role: Role::Operator,
        })
        .collect();
    targets.extend(tokens.iter().map(|(token, address)| Target {
        url: format!("ws://{}/widget/ws?key={key}&token={token}", b.addr),
        headers: vec![(crate::CLIENT_IP_HEADER, address.clone())],
        wire: Wire::Rapport,
        role: Role::Visitor,
    }));
    let pids: Vec<u32> = nodes.servers().map(|s| s.child.id()).collect();
    let idle = nodes.servers().map(Server::rss_kib).collect();
    measure_connected(o, &targets, &pids, idle).await
}

/// The node (A) or nodes (A for operators, B for visitors) under test, with what they
/// need removed when dropped: B stops first, then A drops the database, then the vhost goes.
struct Nodes {
    b: Option<Server>,
    a: Server,
    _vhost: Option<Vhost>,
}

impl Nodes {
    fn start(backend: Backend) -> anyhow::Result<Nodes> {
        match backend {
            Backend::Sqlite => Ok(Nodes {
                b: None,
                a: Server::start("sqlite")?,
                _vhost: None,
            }),
            Backend::Postgres => Ok(Nodes {
                b: None,
                a: Server::start("postgres")?,
                _vhost: None,
            }),
            Backend::RabbitMq => {
                let tag = format!("rapport_bench_chat_{}", std::process::id());
                let vhost = Vhost::create(&tag)?;
                let broker = vec![
                    "--broker-url".to_string(),
                    format!("amqp://guest:guest@127.0.0.1:5672/{tag}"),
                ];
                let url = format!("{POSTGRES}/{tag}");
                let mut a = node(&url, &format!("{tag}_a"), &broker)?;
                a.pg_db = Some(tag.clone());
                let mut b = node(&url, &format!("{tag}_b"), &broker)?;
                b.auth = a.auth.clone();
                Ok(Nodes {
                    b: Some(b),
                    a,
                    _vhost: Some(vhost),
                })
            }
        }
    }

    fn servers(&self) -> impl Iterator<Item = &Server> {
        std::iter::once(&self.a).chain(self.b.as_ref())
    }
}

/// A `rapport serve` on `url` with a data dir of its own; the first start on a database
/// prints the admin's API key.
fn node(url: &str, name: &str, extra: &[String]) -> anyhow::Result<Server> {
    let exe = std::env::current_exe()?.with_file_name("rapport");
    let data_dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir)?;
    let (child, addr, key) = spawn(&exe, url, &data_dir, extra)?;
    Ok(Server {
        child,
        addr,
        auth: key
            .map(|k| format!("Basic {}", crate::base64(&format!("{k}:"))))
            .unwrap_or_default(),
        data_dir,
        url: url.to_string(),
        pg_db: None,
        keep: false,
    })
}

/// A RabbitMQ vhost of the run's own, deleted when dropped.
struct Vhost(String);

impl Vhost {
    fn create(name: &str) -> anyhow::Result<Vhost> {
        rabbitmqctl(&["add_vhost", name]).context("creating a RabbitMQ vhost (rabbitmqctl)")?;
        let vhost = Vhost(name.to_string());
        rabbitmqctl(&["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])?;
        Ok(vhost)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        if let Err(e) = rabbitmqctl(&["delete_vhost", &self.0]) {
            eprintln!("   could not delete the RabbitMQ vhost {}: {e:#}", self.0);
        }
    }
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("rabbitmqctl").args(args).output()?;
    if !out.status.success() {
        bail!("rabbitmqctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Creates a website open to any origin; returns its widget key.
async fn website(server: &Server) -> anyhow::Result<String> {
    let mut conn = Connection::open(&server.addr).await?;
    let body = json!({"name": "Bench", "allowed_origins": []});
    let (status, answer) = conn
        .send(&server.request("POST", "/api/v1/website/", Some(&body)))
        .await?;
    if status != 200 && status != 201 {
        bail!("creating the website: {status} {}", String::from_utf8_lossy(&answer));
    }
    let website: Value = serde_json::from_slice(&answer)?;
    Ok(website["widget_key"].as_str().context("no widget_key")?.to_string())
}

/// Starts `n` visitor sessions; returns their tokens, each with its visitor's address.
async fn sessions(server: &Server, key: &str, n: usize) -> anyhow::Result<Vec<(String, String)>> {
    // Each visitor from an address of its own, as on a real website (one address may
    // start only a few sessions a minute, and a few conversations).
    let address = |c: usize, i: usize| format!("10.{c}.{}.{}", (i >> 8) & 255, i & 255);
    let request = |c: usize, i: usize| {
        format!(
            "POST /widget/v1/session HTTP/1.1\r\nHost: {}\r\nX-Widget-Key: {key}\r\n{}: {}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
            server.addr,
            crate::CLIENT_IP_HEADER,
            address(c, i),
        )
        .into_bytes()
    };
    let mut tasks = Vec::new();
    for c in 0..SESSION_CONNECTIONS {
        let count = n / SESSION_CONNECTIONS + usize::from(c < n % SESSION_CONNECTIONS);
        let mut conn = Connection::open(&server.addr).await?;
        let requests: Vec<(Vec<u8>, String)> = (0..count).map(|i| (request(c, i), address(c, i))).collect();
        tasks.push(tokio::spawn(async move {
            let mut tokens = Vec::with_capacity(count);
            for (request, address) in requests {
                let (status, body) = conn.send(&request).await?;
                if status != 200 {
                    bail!("a widget session: {status} {}", String::from_utf8_lossy(&body));
                }
                let session: Value = serde_json::from_slice(&body)?;
                let token = session["visitor_token"].as_str().context("no visitor_token")?;
                tokens.push((token.to_string(), address));
            }
            Ok(tokens)
        }));
    }
    let mut tokens = Vec::with_capacity(n);
    for task in tasks {
        tokens.extend(task.await??);
    }
    Ok(tokens)
}
