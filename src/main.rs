//! `rapport`: the server and its administration commands.

mod config;
mod startup;

use clap::Parser;

use crate::config::{Cli, Command};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells the allocator to keep the memory it frees rather than give it back to the
/// system after a delay: for a batch command (`rapport reindex`) whose threads allocate
/// and free gigabytes of short-lived documents, giving pages back and faulting them in
/// again cost a fifth of the time (a million leads: 131 s, 104 s without). The server
/// keeps the default, so that its memory shrinks after a peak.
pub fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (the `mimalloc` crate's
    // bindings stop before it); -1 turns purging off.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // SAFETY: a plain setter of the linked mimalloc, callable at any time.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings()?;
    startup::init_tracing(&settings);
    match cli.command.unwrap_or(Command::Serve(config::ServeArgs::default())) {
        Command::Serve(args) => startup::serve(settings, args).await,
        Command::Worker(args) => startup::worker(settings, args).await,
        Command::Jobs(command) => startup::jobs(settings, command).await,
        Command::Migrate => startup::migrate(settings).await,
        Command::Reindex => startup::reindex(settings).await,
        Command::Apikey(config::ApikeyCommand::Create {
            email,
            organization,
            name,
        }) => startup::create_api_key(settings, &email, organization.as_deref(), &name).await,
        Command::User(command) => startup::user(settings, command).await,
        Command::Org(config::OrgCommand::Create {
            name,
            email,
            first_name,
            last_name,
        }) => startup::create_organization(settings, &name, &email, &first_name, &last_name).await,
    }
}

/// Every websocket holds a file descriptor, and the usual soft limit (1,024) would refuse
/// connections long before memory runs short: take the hard limit.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                eprintln!("warning: cannot raise the open-files limit to {}", limit.rlim_max);
            }
        }
    }
}
