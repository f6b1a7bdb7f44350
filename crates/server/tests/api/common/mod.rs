//! A real campuspay on port 0 with a fresh database, SQLite or PostgreSQL. It runs no job
//! runner: a test runs the jobs that are due with `run_pending_jobs()`, moving the app's
//! clock forward to make later ones due, and fails if a job is left failed.
#![allow(dead_code)]

use campuspay_app::clock::{Clock, OffsetClock};
use campuspay_app::secrets::SecretKeys;
use campuspay_sandbox::Sandbox;
use campuspay_server::{AppState, Config, app, demo};
use campuspay_store::Store;
use serde_json::{Value, json};
use std::net::SocketAddr;

pub const NEW_PASSWORD: &str = "Campus#Pay2026!";

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub state: AppState,
    /// The database URL, for a second instance on the same database.
    pub database_url: String,
    /// The jobs' clock (shared with a second instance): `advance` it to make jobs due.
    pub clock: OffsetClock,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Whether dropping the app checks that no job was left failed (once per database).
    check_jobs: bool,
    _dir: Option<TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        // Like crates.io's test apps: a test whose background work failed fails, even if it
        // never looked. Not while already panicking (that would abort the test binary).
        if self.check_jobs
            && !std::thread::panicking()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
            && rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            let ctx = self.state.ctx.clone();
            let failed = tokio::task::block_in_place(|| rt.block_on(campuspay_app::jobs::failed(&ctx))).expect("reading jobs");
            assert!(failed.is_empty(), "jobs left failed:\n{}", failed.join("\n"));
        }
    }
}

/// The simulator's keys, generated once per test binary and shared (read-only) by every app.
fn sandbox_keys() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("campuspay-test-sandbox-{}", unique()));
        Sandbox::open(&dir).expect("generating the simulator's keys");
        dir
    })
}

/// A temporary folder removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> String {
    campuspay_app::crypto::random_token(9).to_lowercase().replace(['-', '_'], "x")
}

/// A fresh, empty database: a SQLite file in a temporary folder, or a new PostgreSQL
/// database on the server at `CAMPUSPAY_TEST_DATABASE_URL`.
pub async fn fresh_database(db: Db) -> (String, Option<TempDir>) {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("campuspay-test-{}", unique()));
            std::fs::create_dir_all(&dir).unwrap();
            (format!("sqlite://{}/campuspay.db", dir.display()), Some(TempDir(dir)))
        }
        Db::Postgres => {
            let base = std::env::var("CAMPUSPAY_TEST_DATABASE_URL").expect(
                "CAMPUSPAY_TEST_DATABASE_URL is not set: the PostgreSQL half of the suite needs it \
                 (run scripts/test, which sets it to the local server)",
            );
            let admin = Store::connect(&base).await.expect("PostgreSQL at CAMPUSPAY_TEST_DATABASE_URL is unreachable");
            let name = format!("cp_test_{}", unique());
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(admin.pool()).await.unwrap();
            let (prefix, _) = base.rsplit_once('/').expect("a database URL ends in /dbname");
            (format!("{prefix}/{name}"), None)
        }
    }
}

/// A temporary folder for a test's files.
pub fn temp_dir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("campuspay-test-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        TestApp::spawn_with(db, |_| {}).await
    }

    /// Like `spawn`, with the configuration changed by `configure` (e.g. an SMTP server).
    pub async fn spawn_with(db: Db, configure: impl FnOnce(&mut Config)) -> TestApp {
        let (url, dir) = fresh_database(db).await;
        Self::start(&url, None, dir, configure, OffsetClock::default()).await
    }

    /// A second instance on this one's database, paying through this one's simulator (one
    /// provider, two merchants' servers), on the same clock.
    pub async fn second_instance(&self) -> TestApp {
        let mut b = Self::start(&self.database_url, Some(&self.base), None, |_| {}, self.clock.clone()).await;
        // The first instance checks the shared database's jobs.
        b.check_jobs = false;
        b
    }

    /// Drives a campuspay that runs elsewhere (another process) at `base` on `database_url`:
    /// the same helpers, with this process's own view of the database.
    pub async fn attach(base: &str, database_url: &str) -> TestApp {
        let store = Store::connect(database_url).await.unwrap();
        let state = AppState::new(store.clone(), Config { public_url: base.to_string(), ..Config::default() });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestApp {
            base: base.to_string(),
            store,
            http,
            state,
            database_url: database_url.to_string(),
            clock: OffsetClock::default(),
            tasks: Vec::new(),
            check_jobs: true,
            _dir: None,
        }
    }

    async fn start(
        url: &str,
        provider_origin: Option<&str>,
        dir: Option<TempDir>,
        configure: impl FnOnce(&mut Config),
        clock: OffsetClock,
    ) -> TestApp {
        let store = Store::connect(url).await.unwrap();
        store.migrate().await.unwrap();
        demo::seed_if_empty(&store).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = format!("http://{addr}");
        // Provider time runs 100 times faster: retries after 15 s come after 0.15 s.
        let sandbox = Sandbox::open(sandbox_keys()).unwrap().with_time_scale(0.01);
        // CCB refunds go to the simulated 外联平台 on a port of its own.
        sandbox.serve_ccb_ebs("127.0.0.1:0").await.unwrap();
        // Every test instance seals merchant secrets with a key of its own, as a deployment would.
        let mut config = Config { public_url: origin.clone(), secret_keys: Some(SecretKeys::generate()), ..Config::default() };
        configure(&mut config);
        let keys = config.secret_keys.as_ref();
        let channels = match provider_origin {
            None => campuspay_server::simulator::channels_with_sandbox(&store, keys, &sandbox, &origin).await.unwrap(),
            Some(p) => campuspay_server::simulator::channels_via_sandbox(&store, &sandbox, p, &origin).await.unwrap(),
        };
        let mounted = provider_origin.is_none().then_some(sandbox);
        let mut state = AppState::new(store.clone(), config).with_channels(channels).with_sandbox(mounted);
        state.ctx = state.ctx.with_clock(Clock::new(clock.clone()));
        let router = app::router(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestApp { base: origin, store, http, state, database_url: url.to_string(), clock, tasks: vec![server], check_jobs: true, _dir: dir }
    }

    /// Runs every job due by the app's clock until none is, then fails the test if any job
    /// is left failed; returns how many ran.
    pub async fn run_pending_jobs(&self) -> usize {
        let ran = campuspay_app::jobs::run_pending(&self.state.ctx).await.expect("running jobs");
        self.assert_no_failed_jobs().await;
        ran
    }

    pub async fn assert_no_failed_jobs(&self) {
        let failed = campuspay_app::jobs::failed(&self.state.ctx).await.unwrap();
        assert!(failed.is_empty(), "jobs left failed:\n{}", failed.join("\n"));
    }

    /// Stops this instance at once, as a killed process would: its requests end mid-way.
    pub fn kill(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A fresh captcha and its answer (read from the database, as only a test may).
    pub async fn solved_captcha(&self) -> (String, String) {
        let (_, c) = self.get_json("/api/v1/captcha", None).await;
        let id = c["captcha_id"].as_str().unwrap().to_string();
        let answer = self.store.peek_captcha(&id).await.unwrap().unwrap();
        (id, answer)
    }

    /// Logs in, solving a captcha when asked for one.
    pub async fn login(&self, school: &str, login: &str, password: &str) -> (u16, Value) {
        let body = json!({"school": school, "login": login, "password": password});
        let (status, v) = self.post_json("/api/v1/student/login", body.clone(), None).await;
        if status == 401 && v["error"]["code"] == "captcha_required" {
            let (id, answer) = self.solved_captcha().await;
            let mut body = body;
            body["captcha_id"] = id.into();
            body["captcha"] = answer.into();
            return self.post_json("/api/v1/student/login", body, None).await;
        }
        (status, v)
    }

    /// Logs in as `login` and changes the initial password where the school demands it;
    /// returns a token that may do everything.
    pub async fn session(&self, school: &str, login: &str) -> String {
        let initial = self.initial_password_of(school, login).await;
        let (mut status, mut v) = self.login(school, login, &initial).await;
        if status == 401 {
            // Logged in before in this test: the initial password was changed then.
            (status, v) = self.login(school, login, NEW_PASSWORD).await;
        }
        assert_eq!(status, 200, "{school} login: {v}");
        let token = v["token"].as_str().unwrap().to_string();
        if v["must_change_password"] == true {
            let (s, v) = self
                .post_json("/api/v1/student/password", json!({"old_password": initial, "new_password": NEW_PASSWORD}), Some(&token))
                .await;
            assert_eq!(s, 200, "{v}");
        }
        token
    }
}

impl TestApp {
    /// A demo student's initial password, by the school's rule and the student's ID card.
    pub async fn initial_password_of(&self, school: &str, student_no: &str) -> String {
        let s = self.store.school_by_code(school).await.unwrap().unwrap();
        let st = self.store.student_by_no(s.id, student_no).await.unwrap().unwrap();
        s.policy.initial_password.for_id_card(&st.id_card)
    }
}

pub fn initial_password(school: &str) -> &'static str {
    match school {
        "qdou" => "01111X",
        "ejt" => "123456",
        "cqjzc" => "111111",
        "czie" => "01111XCzgc",
        "lut" => "0101111X",
        _ => panic!("no demo school {school}"),
    }
}

pub const SCHOOLS: [&str; 5] = ["qdou", "ejt", "cqjzc", "czie", "lut"];

/// Runs a test body once on SQLite and once on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::TestApp::spawn($crate::common::Db::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::TestApp::spawn($crate::common::Db::Postgres).await).await
            }
        }
    )*};
}
