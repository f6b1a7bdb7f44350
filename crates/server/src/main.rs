//! `campuspay`: the whole platform in one binary.

use campuspay_channels::sandbox::Sandbox;
use campuspay_server::services::channels::Channels;
use campuspay_server::{AppState, Config, app, demo};
use campuspay_store::Store;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(name = "campuspay", version, about = "校园统一支付平台 campus unified payment platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform (migrates the database first).
    Serve {
        /// Seed the five demo schools into an empty database.
        #[arg(long)]
        demo: bool,
        #[arg(long, env = "CAMPUSPAY_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// `sqlite://path` (default ./data/campuspay.db) or `postgres://user@host/db`.
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
        /// Served over HTTPS (directly or behind a TLS proxy): Secure cookies and HSTS.
        #[arg(long, env = "CAMPUSPAY_HTTPS")]
        https: bool,
        /// Trust X-Forwarded-For (only behind a proxy you run).
        #[arg(long, env = "CAMPUSPAY_TRUST_PROXY")]
        trust_proxy: bool,
        /// How browsers reach this server, for provider return URLs; defaults to http://LISTEN.
        #[arg(long, env = "CAMPUSPAY_PUBLIC_URL")]
        public_url: Option<String>,
        /// Where the provider simulator keeps its keys (demo mode).
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
    },
    /// Print the provider simulator's merchant credentials (ids, key files, API keys) as JSON,
    /// to point any WeChat Pay or Alipay SDK at `serve --demo`'s /sandbox.
    SandboxCredentials {
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
    },
    /// Apply database migrations and list them.
    Migrate {
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("campuspay: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve { demo, listen, database_url, https, trust_proxy, public_url, data_dir } => {
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            if demo && demo::seed_if_empty(&store).await? {
                tracing::info!("demo schools seeded: qdou, ejt, cqjzc, czie, lut");
            }
            // Bound first, so that a port-0 listen gives the real address to the providers.
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let origin = format!("http://{}", listener.local_addr()?);
            let public_url = public_url.unwrap_or_else(|| origin.clone());
            let sandbox = if demo { Some(Sandbox::open(&data_dir.join("sandbox"))?) } else { None };
            let channels = Channels::load(&store, sandbox.as_ref().map(|s| (s, origin.as_str()))).await?;
            let config = Config { https, trust_proxy, public_url, ..Config::default() };
            let state = AppState::new(store, config).with_channels(channels, sandbox);
            app::serve(state, listener).await?;
        }
        Command::SandboxCredentials { data_dir } => {
            println!("{}", Sandbox::open(&data_dir.join("sandbox"))?.credentials_json());
        }
        Command::Migrate { database_url } => {
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            for (v, name) in store.applied_migrations().await? {
                println!("{v:04} {name}");
            }
        }
    }
    Ok(())
}
