//! The `gateway` command: serve APIs defined by OpenAPI documents as AWS API Gateway
//! would.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway::Gateway;
use tracing_subscriber::EnvFilter;

// The request path allocates many small, short-lived objects; mimalloc serves them
// markedly cheaper than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "gateway", version, about = "A self-hosted AWS API Gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the APIs of a configuration file.
    Serve {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Listen here instead of the config's `listen` (`127.0.0.1:0` picks a port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Admin listener address instead of the config's `admin.listen`.
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// Runtime worker threads (default: one per available core; 1 runs a
        /// single-threaded runtime, the cheapest on one core).
        #[arg(long)]
        worker_threads: Option<usize>,
    },
    /// Load and compile a configuration, print its warnings, and exit.
    Check {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let workers = match &cli.command {
        Command::Serve { worker_threads, .. } => *worker_threads,
        Command::Check { .. } => Some(1),
    };
    let runtime = match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n.max(1))
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("gateway: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gateway: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Check { config } => {
            let (_, report) = Gateway::from_config_file(&config)?;
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            say(&format!("{}: ok", config.display()))?;
            Ok(())
        }
        Command::Serve {
            config,
            listen,
            admin_listen,
            worker_threads: _,
        } => serve(config, listen, admin_listen).await,
    }
}

#[allow(clippy::print_stdout)]
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

async fn serve(
    config_path: PathBuf,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
) -> Result<(), Box<dyn std::error::Error>> {
    // Handlers go in before the addresses are printed: whoever reads them
    // may signal at once, and SIGHUP's default action would end the process.
    let signals = Signals::install()?;
    let (gateway, _report) = Gateway::from_config_file(&config_path)?;
    let config = gateway.config().ok_or("no configuration loaded")?;
    let listen = listen.unwrap_or(config.listen);
    let admin = admin_listen.or(config.admin.as_ref().map(|a| a.listen));
    let server = gateway::server::serve(&gateway, listen, admin).await?;
    say(&format!("gateway listening on http://{}", server.addr))?;
    if let Some(admin) = server.admin_addr {
        say(&format!("admin listening on http://{admin}"))?;
    }
    signals.wait_for_shutdown(&gateway).await;
    tracing::info!("shutting down; waiting for requests in flight");
    server.shutdown().await;
    Ok(())
}

/// The signals `serve` answers: SIGHUP reloads, SIGINT and SIGTERM stop.
struct Signals {
    hangup: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for SIGINT or SIGTERM, reloading on SIGHUP meanwhile.
    async fn wait_for_shutdown(mut self, gateway: &Gateway) {
        loop {
            tokio::select! {
                _ = self.hangup.recv() => {
                    let gateway = gateway.clone();
                    match tokio::task::spawn_blocking(move || gateway.reload()).await {
                        Ok(Ok(report)) => tracing::info!(redeployed = ?report.redeployed, "configuration reloaded"),
                        Ok(Err(err)) => tracing::error!(error = %err, "reload failed; still serving the previous configuration"),
                        Err(err) => tracing::error!(error = %err, "reload task failed"),
                    }
                }
                _ = self.terminate.recv() => return,
                _ = self.interrupt.recv() => return,
            }
        }
    }
}
