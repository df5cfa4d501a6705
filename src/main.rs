//! `rapport`: the server and its administration commands.

mod config;
mod startup;

use clap::Parser;

use crate::config::{Cli, Command};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::User(config::UserCommand::Create {
            email,
            organization,
            first_name,
            last_name,
            role,
        }) => startup::create_user(settings, &email, &organization, &first_name, &last_name, &role).await,
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
