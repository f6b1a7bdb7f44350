//! `campuspay`: the whole platform in one binary.

use campuspay_app::payment::channels::Channels;
use campuspay_app::secrets::SecretKeys;
use campuspay_domain::order::Disposition;
#[cfg(feature = "demo")]
use campuspay_sandbox::{BehaviourPatch, Sandbox};
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
        /// How browsers reach this server, for links in mail and provider return URLs
        /// (default http://LISTEN).
        #[arg(long, env = "CAMPUSPAY_PUBLIC_URL")]
        public_url: Option<String>,
        /// Where the provider simulator keeps its keys (demo mode).
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
        /// HTTP only: run no background jobs here (run `campuspay worker` on the same database).
        #[arg(long)]
        no_worker: bool,
        /// Demo mode: where the simulated CCB 外联平台 (TCP) listens; port 0 picks a free port,
        /// written to DATA_DIR/sandbox/ccb_ebs.addr for `worker --demo` to find.
        #[arg(long, env = "CAMPUSPAY_CCB_EBS_LISTEN", default_value = "127.0.0.1:0")]
        ccb_ebs_listen: String,
        #[command(flatten)]
        notify: Box<Notify>,
    },
    /// Run background jobs only (provider queries, expiries, closes, refunds, reconciliation),
    /// beside instances started with `serve --no-worker` on the same database. Stops on Ctrl-C
    /// or SIGTERM after the jobs it is running finish.
    Worker {
        /// Pay through the provider simulator of a `serve --demo` at --public-url, as it does.
        #[arg(long)]
        demo: bool,
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
        /// Where the `serve` instances are reached (the simulator and its notifications, in
        /// demo mode).
        #[arg(long, env = "CAMPUSPAY_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
        /// Where the provider simulator keeps its keys (demo mode): the same as `serve`'s.
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
        /// Jobs calling payment providers at once.
        #[arg(long, default_value_t = campuspay_app::jobs::Limits::default().provider)]
        provider_jobs: usize,
        /// Jobs on our own books (expiries) at once.
        #[arg(long, default_value_t = campuspay_app::jobs::Limits::default().local)]
        local_jobs: usize,
    },
    /// Re-seal every stored merchant secret under the sealing key. To rotate: put a new key on
    /// the first line of the key file (`CAMPUSPAY_SECRET_KEY_FILE`), the old one below it, run
    /// this, then remove the old line. Prints how many secrets moved.
    RotateSecretKey {
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
        /// The demo's key file (DATA_DIR/secret.key) when no key is set in the environment.
        #[arg(long)]
        demo: bool,
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
    },
    /// Print the provider simulator's merchant credentials (ids, key files, API keys) as JSON,
    /// to point any WeChat Pay, Alipay, UnionPay or 通联收银宝 SDK at `serve --demo`'s /sandbox.
    SandboxCredentials {
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
    },
    /// Reconcile one day's channel statements (对账) against the books, with the schools'
    /// configured merchants; prints what was settled now and what is unknown. Exits non-zero
    /// when a statement could not be read, or there was none to read.
    Reconcile {
        /// `yyyy-mm-dd`, Asia/Shanghai; yesterday by default.
        #[arg(long)]
        date: Option<String>,
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
        /// The demo schools' merchants are the simulator of `serve --demo`, reached at
        /// `--public-url` like any provider (as `worker --demo` does).
        #[arg(long)]
        demo: bool,
        #[arg(long, env = "CAMPUSPAY_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
    },
    /// List money that came in but could not pay its order (late, duplicate or mismatched):
    /// refunded automatically or credited to the balance, with the refund's state.
    LatePayments {
        /// Only this school (its code).
        #[arg(long)]
        school: Option<String>,
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
    },
    /// Run the provider simulator alone (WeChat Pay v3, Alipay, UnionPay at /sandbox/…; WeChat
    /// Pay v3 also at /v3/… on the root, as its real host), for testing another deployment or an
    /// SDK against it.
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        #[arg(long, env = "CAMPUSPAY_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
        /// Provider time factor: 0.01 makes WeChat's 15 s notification retry come after 0.15 s.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Where the simulated CCB 外联平台 (the merchant-side TCP interface: refunds) listens.
        #[arg(long, default_value = "127.0.0.1:8091")]
        ccb_ebs_listen: String,
    },
    /// The finance offices' staff: `campuspay staff add --school C --login L --role R`.
    Staff {
        #[command(subcommand)]
        action: StaffCommand,
    },
    /// Apply database migrations and list them.
    Migrate {
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Add a staff member; prints a one-time password to be changed at first login.
    Add {
        /// The school's code, or `platform` for a platform operator.
        #[arg(long)]
        school: String,
        #[arg(long)]
        login: String,
        /// school_admin (校管理员), accountant (财务人员), cashier (收费员), auditor (审计),
        /// platform_admin (平台管理员).
        #[arg(long)]
        role: String,
        /// The person's name, as the audit log shows it.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, env = "CAMPUSPAY_DATABASE_URL", default_value = "sqlite://data/campuspay.db")]
        database_url: String,
    },
}

/// Where mail and SMS go; without them, to the outbox (`/demo/outbox` in demo mode).
#[derive(clap::Args)]
struct Notify {
    /// SMTP server: smtp://user:pass@host:587?tls=required (STARTTLS), smtps://user:pass@host:465 (TLS).
    #[arg(long, env = "CAMPUSPAY_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of mail, e.g. "校园统一支付平台 <noreply@pay.example.edu.cn>".
    #[arg(long, env = "CAMPUSPAY_MAIL_FROM")]
    mail_from: Option<String>,
    /// Aliyun SMS AccessKey ID (with the secret, sign name and template: SMS by Aliyun).
    #[arg(long, env = "CAMPUSPAY_ALIYUN_SMS_KEY_ID")]
    aliyun_sms_key_id: Option<String>,
    #[arg(long, env = "CAMPUSPAY_ALIYUN_SMS_KEY_SECRET", hide_env_values = true)]
    aliyun_sms_key_secret: Option<String>,
    /// Approved SMS signature (签名), e.g. 校园统一支付平台.
    #[arg(long, env = "CAMPUSPAY_ALIYUN_SMS_SIGN_NAME")]
    aliyun_sms_sign_name: Option<String>,
    /// Template code whose text has a ${code} parameter.
    #[arg(long, env = "CAMPUSPAY_ALIYUN_SMS_TEMPLATE")]
    aliyun_sms_template: Option<String>,
    /// Notice (通知) template code for receipts, with the variables kind, amount, code, number
    /// and check (its text: README, "Aliyun SMS templates"). Without it, receipts are not sent
    /// by SMS through Aliyun.
    #[arg(long, env = "CAMPUSPAY_ALIYUN_SMS_NOTICE_TEMPLATE")]
    aliyun_sms_notice_template: Option<String>,
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
        Command::Serve { demo, listen, database_url, https, trust_proxy, public_url, data_dir, no_worker, ccb_ebs_listen, notify } => {
            #[cfg(not(feature = "demo"))]
            if demo {
                return Err(WITHOUT_DEMO.into());
            }
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            if demo && demo::seed_if_empty(&store).await? {
                tracing::info!("demo schools seeded: qdou, ejt, cqjzc, czie, lut");
            }
            let defaults = Config::default();
            let mail_from = notify.mail_from.unwrap_or(defaults.mail_from.clone());
            // A wrong mail configuration stops the start, not the first password reset.
            campuspay_app::messaging::mail::Mailer::new(notify.smtp_url.as_deref(), &mail_from)?;
            let aliyun_sms = match (
                notify.aliyun_sms_key_id,
                notify.aliyun_sms_key_secret,
                notify.aliyun_sms_sign_name,
                notify.aliyun_sms_template,
            ) {
                (Some(id), Some(secret), Some(sign), Some(template)) => Some(campuspay_app::messaging::sms::AliyunSmsConfig {
                    access_key_id: id,
                    access_key_secret: secret,
                    sign_name: sign,
                    template_code: template,
                    endpoint: "https://dysmsapi.aliyuncs.com/".into(),
                    notice_template_code: notify.aliyun_sms_notice_template,
                }),
                (None, None, None, None) => None,
                _ => {
                    return Err(
                        "Aliyun SMS needs all four: --aliyun-sms-key-id, --aliyun-sms-key-secret, --aliyun-sms-sign-name, --aliyun-sms-template"
                            .into(),
                    );
                }
            };
            if notify.smtp_url.is_none() {
                tracing::warn!("no --smtp-url: mail goes to the outbox table{}", if demo { " (/demo/outbox)" } else { "" });
            }
            // Bound first, so that a port-0 listen gives the real address to the providers.
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let origin = format!("http://{}", listener.local_addr()?);
            let public_url = public_url.unwrap_or_else(|| origin.clone());
            let secret_keys = secret_keys(demo, &data_dir)?;
            let channels = Channels::load(&store, secret_keys.as_ref()).await?;
            let config =
                Config { https, trust_proxy, demo, public_url, smtp_url: notify.smtp_url, mail_from, aliyun_sms, secret_keys, ..defaults };
            let state = AppState::new(store, config).with_channels(channels);
            let state = if demo { mount_simulator(state, &data_dir, &origin, &ccb_ebs_listen).await? } else { state };
            app::serve(state, listener, !no_worker).await?;
        }
        Command::Worker { demo, database_url, public_url, data_dir, provider_jobs, local_jobs } => {
            #[cfg(not(feature = "demo"))]
            if demo {
                return Err(WITHOUT_DEMO.into());
            }
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            // The same channels as `serve` builds: a demo school's merchants are the simulator
            // mounted by `serve --demo`, which this process reaches over HTTP like any provider.
            let public_url = public_url.trim_end_matches('/').to_string();
            let secret_keys = secret_keys(demo, &data_dir)?;
            let channels = worker_channels(&store, secret_keys.as_ref(), demo, &data_dir, &public_url).await?;
            let settings = campuspay_app::Settings { public_url, secret_keys, ..Config::default().settings() };
            let ctx = campuspay_app::Context::new(store, &settings).with_channels(channels);
            let limits = campuspay_app::jobs::Limits { provider: provider_jobs, local: local_jobs };
            // The office saves merchant configurations through `serve`; this process takes
            // them up within seconds, without a restart.
            let follow = tokio::spawn(campuspay_app::office::merchants::follow_changes(ctx.clone()));
            campuspay_app::jobs::Runner::new(ctx).limits(limits).run(app::shutdown_signal()).await;
            follow.abort();
        }
        Command::RotateSecretKey { database_url, demo, data_dir } => {
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            let keys = secret_keys(demo, &data_dir)?.ok_or_else(|| {
                format!("no secret key: set {} (or {})", campuspay_app::secrets::KEY_FILE_ENV, campuspay_app::secrets::KEY_ENV)
            })?;
            let done = campuspay_app::office::merchants::reseal_all(&store, &keys).await?;
            println!(
                "{} secrets re-sealed under key {}, {} already under it; the older keys can now be removed",
                done.resealed,
                keys.kid(),
                done.current
            );
        }
        #[cfg(feature = "demo")]
        Command::SandboxCredentials { data_dir } => {
            println!("{}", Sandbox::open(&data_dir.join("sandbox"))?.credentials_json());
        }
        Command::Reconcile { date, database_url, demo, public_url, data_dir } => {
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            let date = date.unwrap_or_else(|| campuspay_domain::time::format_shanghai_date(campuspay_store::db_now() - 86_400));
            let public_url = public_url.trim_end_matches('/').to_string();
            let channels = worker_channels(&store, secret_keys(demo, &data_dir)?.as_ref(), demo, &data_dir, &public_url).await?;
            if channels.all().is_empty() {
                let hint =
                    if demo { "" } else { "; a demo database's merchants are the simulator: add --demo (with serve --demo running)" };
                return Err(format!("no school has a merchant configured, so there is no statement to read{hint}").into());
            }
            let ctx = campuspay_app::Context::new(store, &Config::default().settings()).with_channels(channels);
            let r = campuspay_app::payment::reconcile::reconcile_day(&ctx, &date).await?;
            println!(
                "{}: {} statements, {} payments, {} matched, {} settled now, {} unknown, {} failed",
                r.date,
                r.statements,
                r.payment_lines,
                r.matched,
                r.settled_now.len(),
                r.unknown.len(),
                r.failures.len()
            );
            for (no, txn) in &r.settled_now {
                println!("settled now: {no} {txn}");
            }
            for no in &r.unknown {
                println!("unknown trade: {no}");
            }
            for (school, e) in &r.failures {
                println!("statement failed (school {school}): {e}");
            }
            if !r.failures.is_empty() {
                return Err(format!(
                    "{} of {} statements could not be read (see above)",
                    r.failures.len(),
                    r.failures.len() + r.statements
                )
                .into());
            }
        }
        Command::LatePayments { school, database_url } => {
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            let rows = store.unapplied_payments(school.as_deref()).await?;
            println!("学校\t学号\t订单号\t渠道\t交易流水号\t金额\t处理\t原因\t退款状态\t时间");
            for p in &rows {
                let what = if p.disposition == Disposition::Refund { "原路退款" } else { "转入余额" };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{what}\t{}\t{}\t{}",
                    p.school_code,
                    p.student_no,
                    p.order_no,
                    p.provider,
                    p.txn_id,
                    p.amount,
                    p.reason.map_or("", |r| r.as_str()),
                    p.refund_status.map_or("-", |r| r.as_str()),
                    campuspay_domain::time::format_shanghai(p.created_at)
                );
            }
            println!("{} 笔", rows.len());
        }
        #[cfg(feature = "demo")]
        Command::Sandbox { listen, data_dir, time_scale, ccb_ebs_listen } => {
            let sandbox = Sandbox::open(&data_dir.join("sandbox"))?.with_time_scale(time_scale);
            let ebs = sandbox.serve_ccb_ebs(&ccb_ebs_listen).await?;
            tracing::info!("CCB 外联平台 (simulated) listening on tcp://{ebs}");
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let addr = listener.local_addr()?;
            tracing::info!("provider simulator listening on http://{addr}/sandbox/ (WeChat Pay v3 also at http://{addr}/v3/)");
            axum::serve(listener, sandbox.standalone_router())
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        Command::Staff { action: StaffCommand::Add { school, login, role, name, database_url } } => {
            let role: campuspay_domain::office::Role =
                role.parse().map_err(|_| format!("unknown role {role:?}: school_admin, accountant, cashier, auditor or platform_admin"))?;
            let store = Store::connect(&database_url).await?;
            store.migrate().await?;
            let ctx = campuspay_app::Context::new(store, &Config::default().settings());
            let name = if name.is_empty() { login.clone() } else { name };
            let (_, password) = campuspay_app::office::auth::add_staff(&ctx, None, &school, &login, &name, role).await?;
            println!("{school}/{login} ({}): one-time password {password}", role.label_zh());
            println!("it must be changed at the first login");
        }
        #[cfg(not(feature = "demo"))]
        Command::Sandbox { .. } | Command::SandboxCredentials { .. } => return Err(WITHOUT_DEMO.into()),
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

/// Where `serve --demo` writes its simulated 外联平台's address, in DATA_DIR/sandbox.
#[cfg(feature = "demo")]
const CCB_EBS_ADDR_FILE: &str = "ccb_ebs.addr";

/// How long a refund stays processing at the demo's simulator, in seconds.
#[cfg(feature = "demo")]
const DEMO_REFUND_DELAY_S: u64 = 10;

/// `serve --demo`: the provider simulator kept in `data_dir`, mounted at `/sandbox/…`, and every
/// school without its own merchant configuration paying through it.
#[cfg(feature = "demo")]
async fn mount_simulator(
    state: AppState,
    data_dir: &std::path::Path,
    origin: &str,
    ccb_ebs_listen: &str,
) -> Result<AppState, Box<dyn std::error::Error>> {
    // One journal per database: every `serve --demo` on it (sharing --data-dir, as they share
    // the simulator's keys) sees the same trades, and a new database starts with none.
    let journal = campuspay_server::simulator::journal_path(&data_dir.join("sandbox"), &state.store.installation_id().await?);
    let sandbox = Sandbox::open(&data_dir.join("sandbox"))?.with_journal(&journal)?;
    // Refunds stay processing for a while, as the providers' do, but in the demo for seconds
    // rather than the simulator's default two minutes: an office trying one sees it end.
    use campuspay_domain::payment::Provider;
    for p in [Provider::Wechatpay, Provider::Alipay, Provider::Unionpay, Provider::Allinpay] {
        sandbox.set_behaviour(p, &BehaviourPatch { refund_delay_s: Some(DEMO_REFUND_DELAY_S), ..BehaviourPatch::default() });
    }
    let ebs = sandbox.serve_ccb_ebs(ccb_ebs_listen).await?;
    std::fs::write(data_dir.join("sandbox").join(CCB_EBS_ADDR_FILE), ebs.to_string())?;
    let channels = campuspay_server::simulator::channels_with_sandbox(&state.store, state.secret_keys.as_ref(), &sandbox, origin).await?;
    Ok(state.with_channels(channels).with_sandbox(Some(sandbox)))
}

/// The channels a worker uses: with `--demo`, the simulator of the `serve --demo` at `public_url`.
#[cfg(feature = "demo")]
async fn worker_channels(
    store: &Store,
    keys: Option<&SecretKeys>,
    demo: bool,
    data_dir: &std::path::Path,
    public_url: &str,
) -> Result<Channels, Box<dyn std::error::Error>> {
    if !demo {
        return Ok(Channels::load(store, keys).await?);
    }
    let sandbox = Sandbox::open(&data_dir.join("sandbox"))?;
    // The 外联平台 of the `serve --demo` on this data folder (refunds go to it).
    if let Some(addr) = std::fs::read_to_string(data_dir.join("sandbox").join(CCB_EBS_ADDR_FILE)).ok().and_then(|a| a.trim().parse().ok()) {
        sandbox.use_ccb_ebs(addr);
    }
    Ok(campuspay_server::simulator::channels_with_sandbox(store, keys, &sandbox, public_url).await?)
}

#[cfg(not(feature = "demo"))]
async fn worker_channels(
    store: &Store,
    keys: Option<&SecretKeys>,
    _: bool,
    _: &std::path::Path,
    _: &str,
) -> Result<Channels, Box<dyn std::error::Error>> {
    Ok(Channels::load(store, keys).await?)
}

/// The key merchant secrets are sealed with: `CAMPUSPAY_SECRET_KEY`, or the file named by
/// `CAMPUSPAY_SECRET_KEY_FILE`; in demo mode, else `DATA_DIR/secret.key`, made if absent (so
/// `serve --demo` and `worker --demo` on one data folder share it).
fn secret_keys(demo: bool, data_dir: &std::path::Path) -> Result<Option<SecretKeys>, Box<dyn std::error::Error>> {
    if let Some(keys) = SecretKeys::from_env()? {
        return Ok(Some(keys));
    }
    if !demo {
        return Ok(None);
    }
    let path = data_dir.join("secret.key");
    if !path.exists() {
        std::fs::create_dir_all(data_dir)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut f) => {
                use std::io::Write;
                writeln!(f, "{}", campuspay_app::secrets::generate_key_hex())?;
                tracing::info!(path = %path.display(), "demo: made a secret key for merchant configurations");
            }
            // Another demo process made it first.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(SecretKeys::from_file(&path)?))
}

/// Built without the `demo` feature: `serve --demo` is refused before it gets here.
#[cfg(not(feature = "demo"))]
async fn mount_simulator(_: AppState, _: &std::path::Path, _: &str, _: &str) -> Result<AppState, Box<dyn std::error::Error>> {
    Err(WITHOUT_DEMO.into())
}

/// What `serve --demo`, `sandbox` and `sandbox-credentials` answer in a build without the
/// provider simulator.
#[cfg(not(feature = "demo"))]
const WITHOUT_DEMO: &str = "this binary was built without the `demo` feature, so it has no provider simulator: \
                            `serve --demo`, `sandbox` and `sandbox-credentials` need a build with default features \
                            (or `--features demo`)";
