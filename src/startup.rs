//! Builds the application from settings: opens the store, bootstraps a fresh install,
//! and serves until asked to stop.

use anyhow::Context;
use rapport_crm::{Crm, CrmConfig, NewOrganization};
use rapport_store::{Db, DbConfig};

use crate::config::Settings;

pub fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: stdout is for what scripts read (API keys).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Whether a command uses this node's search index (in `<data_dir>/search-index`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum UsesIndex {
    Yes,
    No,
}

async fn open(settings: &Settings, uses_index: UsesIndex) -> anyhow::Result<Crm> {
    let is_sqlite = !settings.database_url.starts_with("postgres");
    if is_sqlite || uses_index == UsesIndex::Yes {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create the data dir {}", settings.data_dir.display()))?;
    }
    let config = DbConfig {
        url: settings.database_url.clone(),
        sqlite_durability: settings.sqlite_durability,
        max_connections: 16,
    };
    let db = Db::open(&config).await.context("cannot open the database")?;
    Ok(Crm::new(
        db,
        CrmConfig {
            phone_region: settings.phone_region.clone(),
            search_index_dir: (uses_index == UsesIndex::Yes).then(|| settings.data_dir.join("search-index")),
        },
    ))
}

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let crm = open(&settings, UsesIndex::Yes).await?;
    // Opened before listening: an index another process holds is a startup error.
    crm.search_index()?;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    if crm.is_empty().await? {
        bootstrap(&crm, &settings, &address.to_string()).await?;
    }
    // Catches up (or fills a new index) now rather than on the first search.
    crm.start_search_index();
    tokio::spawn(purge_idempotency_keys(crm.clone()));
    println!("Listening on http://{address}");
    tracing::info!(%address, database = %redact(&settings.database_url), "serving");
    // Served from a worker task: the main thread only waits, so both cores do the work.
    let server = tokio::spawn(rapport_api::serve(
        listener,
        rapport_api::AppState {
            crm,
            rate_limiter: rapport_api::RateLimiter::new(settings.rate_limit),
        },
        shutdown_signal(),
    ));
    server.await.context("the server task failed")??;
    tracing::info!("stopped");
    Ok(())
}

/// A fresh install gets an organization, an admin and an API key, shown once.
async fn bootstrap(crm: &Crm, settings: &Settings, address: &str) -> anyhow::Result<()> {
    let password = rapport_core::new_id("pw")[3..19].to_string();
    let new = NewOrganization {
        name: "My Organization".into(),
        admin_email: settings.admin_email.clone(),
        admin_first_name: "Admin".into(),
        admin_last_name: String::new(),
        admin_password: Some(password.clone()),
    };
    crm.create_organization(&new)
        .await
        .context("cannot create the first organization")?;
    let key = crm.create_api_key(&settings.admin_email, None, "bootstrap").await?;
    println!("Rapport is set up. This is shown once; keep it.");
    println!(
        "  Log in at http://{address}/ as {} with password: {password}",
        settings.admin_email
    );
    println!("  API key: {}", key.key);
    println!("  Try: curl -u {}: http://{address}/api/v1/me/", key.key);
    Ok(())
}

/// Rebuilds the search index from the store, with figures on stderr.
pub async fn reindex(settings: Settings) -> anyhow::Result<()> {
    let crm = open(&settings, UsesIndex::Yes).await?;
    crm.search_index()?;
    let report = crm.rebuild_search_index().await?;
    let seconds = report.elapsed.as_secs_f64();
    eprintln!(
        "reindexed {} leads in {seconds:.1} s ({:.0} leads/s), up to event {}",
        report.leads,
        report.leads as f64 / seconds.max(1e-9),
        report.cursor
    );
    Ok(())
}

pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    open(&settings, UsesIndex::No).await?;
    eprintln!("The database schema is up to date.");
    Ok(())
}

pub async fn create_api_key(
    settings: Settings,
    email: &str,
    organization: Option<&str>,
    name: &str,
) -> anyhow::Result<()> {
    let crm = open(&settings, UsesIndex::No).await?;
    let key = crm.create_api_key(email, organization, name).await?;
    println!("{}", key.key);
    Ok(())
}

pub async fn create_organization(
    settings: Settings,
    name: &str,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> anyhow::Result<()> {
    let crm = open(&settings, UsesIndex::No).await?;
    let new = NewOrganization {
        name: name.into(),
        admin_email: email.into(),
        admin_first_name: first_name.into(),
        admin_last_name: last_name.into(),
        admin_password: None,
    };
    let actor = crm.create_organization(&new).await?;
    let key = crm.create_api_key(email, Some(&actor.organization_id), "cli").await?;
    eprintln!("Created organization {} with admin {email}.", actor.organization_id);
    println!("{}", key.key);
    Ok(())
}

pub async fn create_user(
    settings: Settings,
    email: &str,
    organization: &str,
    first_name: &str,
    last_name: &str,
    role: &str,
) -> anyhow::Result<()> {
    let crm = open(&settings, UsesIndex::No).await?;
    let member = crm.add_member(organization, email, first_name, last_name, role).await?;
    let key = crm.create_api_key(email, Some(organization), "cli").await?;
    eprintln!("Added {email} ({}) to {organization} as {role}.", member.user_id);
    println!("{}", key.key);
    Ok(())
}

/// Forgets stored `Idempotency-Key` answers after a day, checking every hour.
async fn purge_idempotency_keys(crm: Crm) {
    const KEEP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match crm.purge_idempotency_keys(KEEP).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "forgot old idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "cannot purge old idempotency keys"),
        }
    }
}

/// Hides a password in a database URL for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down; finishing requests in flight");
}
