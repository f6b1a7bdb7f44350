//! The first morning of term, played over HTTP: N students log in, open home, order one
//! charge, pay it at the simulator and wait until it shows paid — ramped up, bounded in time.
//! Prints per step req/s, p50/p95/p99, errors by code and 429s, whether every order was paid
//! exactly once, the server's peak RSS and CPU, and — measured in the same run at the same
//! concurrency — the limits each step is held to: the raw argon2id rate, the `/healthz`
//! ceiling and the database's raw commit rate, with each step's ratio to its limit.
//!
//! ```sh
//! cargo run --release -p campuspay-server --example loadtest                       # SQLite, 10,000 students
//! cargo run --release -p campuspay-server --example loadtest -- --students 300 --duration 60
//! cargo run --release -p campuspay-server --example loadtest -- --database-url postgres://postgres@127.0.0.1/load --instances 2
//! cargo run --release -p campuspay-server --example loadtest -- --students 3000 --phase order    # one step alone
//! cargo run --release -p campuspay-server --example loadtest -- --students 3000 --phase settle
//! cargo run --release -p campuspay-server --example loadtest -- --students 2000 --phase flood --concurrency 200 --flood 128 --duration 40
//! ```
//! `--phase flood` opens the home page from `--concurrency` logged-in students while, from
//! 10 s after the last of them logged in, `--flood` more clients send logins as fast as they are answered, waiting
//! a refusal's `Retry-After` as a student does (`--flood-retry ignore`: not waiting): it prints
//! the home page's figures before and during the flood side by side.
//! The server runs in this process on 127.0.0.1 (one or more instances on one database, each
//! its own pool and job runner, paying through the first one's simulator); RSS and CPU are
//! read from the first instance's `/metrics`, so they include the load generator's share.

use campuspay_domain::Fen;
use campuspay_sandbox::Sandbox;
use campuspay_server::{AppState, Config, app, demo};
use campuspay_store::charges::NewFeeItem;
use campuspay_store::students::NewStudent;
use campuspay_store::{Store, db_now};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod flood;
mod phases;

const PASSWORD: &str = "Term#Start2026";
/// The home page's step while logins flood (`--phase flood`).
const HOME_IN_FLOOD: &str = "home, logins flood";
const STEPS: [&str; 5] = ["login", "home", "create order", "start payment", "paid → shown paid"];

struct Args {
    students: usize,
    concurrency: usize,
    duration_s: u64,
    ramp_s: u64,
    database_url: Option<String>,
    instances: usize,
    /// `journey` (every step in turn), or one step alone at the concurrency: `login`, `home`,
    /// `order` (creating orders), `settle` (payments notified and settled), `flood` (home
    /// while logins flood).
    phase: String,
    /// Login clients of the `flood` phase.
    flood: usize,
    /// Whether they wait a refusal's `Retry-After` (`honour`, as the login page's student
    /// does) or send the next login at once (`ignore`).
    flood_honours_retry: bool,
}

fn args() -> Args {
    let mut a = Args {
        students: 10_000,
        concurrency: 32,
        duration_s: 300,
        ramp_s: 10,
        database_url: None,
        instances: 1,
        phase: "journey".into(),
        flood: 128,
        flood_honours_retry: true,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--students" => a.students = value.parse().expect("--students N"),
            "--concurrency" => a.concurrency = value.parse().expect("--concurrency N"),
            "--duration" => a.duration_s = value.parse().expect("--duration SECONDS"),
            "--ramp" => a.ramp_s = value.parse().expect("--ramp SECONDS"),
            "--database-url" => a.database_url = Some(value),
            "--instances" => a.instances = value.parse().expect("--instances N"),
            "--phase" => a.phase = value,
            "--flood" => a.flood = value.parse().expect("--flood N"),
            "--flood-retry" => {
                a.flood_honours_retry = match value.as_str() {
                    "honour" => true,
                    "ignore" => false,
                    other => panic!("--flood-retry honour|ignore, not {other}"),
                }
            }
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Latencies and error codes of each step.
#[derive(Default)]
struct Tally {
    lat: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<(&'static str, String), usize>,
    span: BTreeMap<&'static str, (Option<Instant>, Option<Instant>)>,
}

impl Tally {
    fn ok(&mut self, step: &'static str, started: Instant) {
        self.lat.entry(step).or_default().push(started.elapsed());
        let s = self.span.entry(step).or_default();
        s.0 = Some(s.0.map_or(started, |t| t.min(started)));
        s.1 = Some(Instant::now());
    }

    fn err(&mut self, step: &'static str, code: String) {
        *self.errors.entry((step, code)).or_default() += 1;
    }

    /// Requests per second of a step, over the time it was being done.
    fn rate(&self, step: &str) -> f64 {
        let n = self.lat.get(step).map_or(0, Vec::len) as f64;
        match self.span.get(step) {
            Some((Some(a), Some(b))) if *b > *a => n / (*b - *a).as_secs_f64(),
            _ => 0.0,
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// One student's morning; the first refusal ends it (the student would come back later).
async fn journey(http: &reqwest::Client, base: &str, provider_base: &str, no: &str, tally: &Mutex<Tally>) -> bool {
    let step = |name: &'static str, started: Instant, res: &Result<(u16, Value), String>, want: u16| {
        let mut t = tally.lock().unwrap();
        match res {
            Ok((s, _)) if *s == want => {
                t.ok(name, started);
                true
            }
            Ok((s, v)) => {
                t.err(name, format!("{s} {}", v["error"]["code"].as_str().unwrap_or("")));
                false
            }
            Err(e) => {
                t.err(name, e.clone());
                false
            }
        }
    };
    let call = |req: reqwest::RequestBuilder| async move {
        let res = req.send().await.map_err(|e| if e.is_timeout() { "timeout".to_string() } else { "connection".to_string() })?;
        let status = res.status().as_u16();
        Ok::<_, String>((status, res.json::<Value>().await.unwrap_or(Value::Null)))
    };
    let t = Instant::now();
    let r =
        call(http.post(format!("{base}/api/v1/student/login")).json(&json!({"school": "qdou", "login": no, "password": PASSWORD}))).await;
    if !step("login", t, &r, 200) {
        return false;
    }
    let token = r.unwrap().1["token"].as_str().unwrap_or_default().to_string();
    let t = Instant::now();
    let r = call(http.get(format!("{base}/api/v1/student/charges")).bearer_auth(&token)).await;
    if !step("home", t, &r, 200) {
        return false;
    }
    let charges = r.unwrap().1["charges"].clone();
    let Some(charge) = charges.as_array().and_then(|c| c.iter().find(|c| c["item_code"] == "LOAD")) else {
        tally.lock().unwrap().err("home", "no LOAD charge".into());
        return false;
    };
    let t = Instant::now();
    let r = call(http.post(format!("{base}/api/v1/student/orders")).bearer_auth(&token).json(&json!({"charges": [{"id": charge["id"]}]})))
        .await;
    if !step("create order", t, &r, 201) {
        return false;
    }
    let no = r.unwrap().1["order_no"].as_str().unwrap_or_default().to_string();
    let t = Instant::now();
    let r =
        call(http.post(format!("{base}/api/v1/student/orders/{no}/pay")).bearer_auth(&token).json(&json!({"channel": "alipay_qr"}))).await;
    if !step("start payment", t, &r, 200) {
        return false;
    }
    let out = r.unwrap().1["out_trade_no"].as_str().unwrap_or_default().to_string();
    let t = Instant::now();
    if http.post(format!("{provider_base}/sandbox/alipay/orders/{out}/pay")).send().await.map(|r| r.status().as_u16()).ok() != Some(200) {
        tally.lock().unwrap().err("paid → shown paid", "provider refused the payment".into());
        return false;
    }
    // The page polls as a student's phone does, every 500 ms, for at most 30 s.
    while t.elapsed() < Duration::from_secs(30) {
        if let Ok((200, v)) = call(http.get(format!("{base}/api/v1/student/orders/{no}")).bearer_auth(&token)).await
            && v["status"] == "paid"
        {
            tally.lock().unwrap().ok("paid → shown paid", t);
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tally.lock().unwrap().err("paid → shown paid", "not shown paid within 30 s".into());
    false
}

/// One login, timed as the `login` step; answers the session token.
async fn login(http: &reqwest::Client, base: &str, no: &str, tally: &Mutex<Tally>) -> Option<String> {
    match flood::login(http, base, no, "login", tally).await {
        flood::Answer::Token(t) => Some(t),
        _ => None,
    }
}

/// Runs `f` from `n` tasks at once for `for_s` seconds; answers how many times it finished.
async fn hammer<F, Fut>(n: usize, for_s: f64, f: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while t0.elapsed().as_secs_f64() < for_s {
                f().await;
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / t0.elapsed().as_secs_f64()
}

async fn seed(store: &Store, students: usize) -> Result<(), Box<dyn std::error::Error>> {
    let school = store.school_by_code("qdou").await?.expect("demo school qdou");
    let mut tx = store.write_tx().await?;
    let period = store.insert_period(&mut tx, school.id, "LOAD", "开学压测期间", "2099-2100", 99).await?;
    let item = NewFeeItem {
        school_id: school.id,
        code: "LOAD",
        name: "开学压测学费",
        name_en: "Term-start load tuition",
        category: "tuition",
        receipt_type: "非税收入票据",
        mandatory: false,
        parent_id: None,
        instalments: false,
        instalment_min: Fen::ZERO,
        window: None,
        collecting: true,
        sort: 99,
    };
    let item = store.insert_fee_item(&mut tx, &item).await?;
    tx.commit().await?;
    for chunk in (0..students).collect::<Vec<_>>().chunks(1000) {
        let mut tx = store.write_tx().await?;
        for i in chunk {
            let no = format!("L{i:07}");
            let s = NewStudent {
                school_id: school.id,
                student_no: &no,
                name: "开学压测",
                gender: "女",
                id_card: "37020220000101111X",
                phone: "",
                email: "",
                department: "压测学院",
                major: "",
                level: "",
                class_name: "",
                enrol_year: 2026,
            };
            let id = store.insert_student(&mut tx, &s).await?;
            store.insert_charge(&mut tx, school.id, id, item, period, Fen(500_000 + *i as i64), Fen::ZERO).await?;
        }
        tx.commit().await?;
    }
    // One real argon2id hash for everyone: each login verifies it as it would its own.
    let hash = campuspay_app::crypto::Hasher::new(1).hash(PASSWORD).await;
    sqlx::query("UPDATE students SET password_hash = $1, force_password_change = 0 WHERE school_id = $2 AND student_no LIKE 'L%'")
        .bind(hash)
        .bind(school.id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The figures of the first instance's `/metrics` (resident memory, CPU seconds).
async fn server_figures(http: &reqwest::Client, base: &str) -> (f64, f64) {
    let text = http.get(format!("{base}/metrics")).send().await.ok();
    let text = match text {
        Some(r) => r.text().await.unwrap_or_default(),
        None => String::new(),
    };
    let value = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).unwrap_or(0.0);
    (value("process_resident_memory_bytes ") / 1_048_576.0, value("process_cpu_seconds_total "))
}

/// The first instance's write transactions so far and, on SQLite, the seconds its one writer
/// was waited for and held (`/metrics`).
async fn writer_figures(http: &reqwest::Client, base: &str) -> [f64; 3] {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let value = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).unwrap_or(0.0);
    [
        value("campuspay_db_write_transactions_total "),
        value("campuspay_db_writer_seconds_total{state=\"waited\"} "),
        value("campuspay_db_writer_seconds_total{state=\"held\"} "),
    ]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let dir = std::env::temp_dir().join(format!("campuspay-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = a.database_url.clone().unwrap_or_else(|| format!("sqlite://{}/load.db", dir.display()));
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    demo::seed_if_empty(&store).await?;
    let backend = if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    println!(
        "campuspay term-start load ({}) on {backend}: {} students, {} at once, ramp {} s, at most {} s, {} instance(s), {} cores",
        a.phase,
        a.students,
        a.concurrency,
        a.ramp_s,
        a.duration_s,
        a.instances,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let t = Instant::now();
    seed(&store, a.students).await?;
    println!("seeded in {:.1} s", t.elapsed().as_secs_f64());

    // The instances: each its own pool and job runner on the one database; the first mounts
    // the simulator, the others pay through it (one provider, several merchant servers).
    let sandbox = Sandbox::open(&dir.join("sandbox"))?.with_time_scale(0.01);
    let mut bases = Vec::new();
    let mut runners = Vec::new();
    for i in 0..a.instances.max(1) {
        let store = if i == 0 { store.clone() } else { Store::connect(&url).await? };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let provider = bases.first().cloned().unwrap_or_else(|| origin.clone());
        let channels = campuspay_server::simulator::channels_via_sandbox(&store, &sandbox, &provider, &origin).await?;
        let state = AppState::new(store, Config { public_url: origin.clone(), ..Config::default() })
            .with_channels(channels)
            .with_sandbox((i == 0).then(|| sandbox.clone()));
        let router = app::router(state.clone());
        tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await });
        runners.push(campuspay_app::jobs::Runner::new(state.ctx.clone()).spawn());
        bases.push(origin);
    }
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(a.concurrency).build()?;
    let (rss_before, _) = server_figures(&http, &bases[0]).await;

    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak = Arc::new(Mutex::new(rss_before));
    let stop = Instant::now() + Duration::from_secs(a.duration_s);
    let sampler = {
        let (http, base, peak) = (http.clone(), bases[0].clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                let (rss, _) = server_figures(&http, &base).await;
                {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let prepared = if matches!(a.phase.as_str(), "order" | "settle") {
        let t = Instant::now();
        let ready = phases::prepare(&http, &bases, a.students, a.concurrency, a.phase == "settle").await;
        println!("prepared {} students in {:.1} s (not measured)", ready.len(), t.elapsed().as_secs_f64());
        Some(ready)
    } else {
        None
    };
    let (_, cpu0) = server_figures(&http, &bases[0]).await;
    let writer0 = writer_figures(&http, &bases[0]).await;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    let mut settled = None;
    match (a.phase.as_str(), prepared) {
        ("order", Some(ready)) => phases::orders(&http, ready, a.concurrency, &tally).await,
        ("settle", Some(ready)) => settled = Some(phases::settle(&http, &bases[0], &store, ready, a.concurrency, &tally).await),
        _ => {}
    }
    let single_write_step = settled.is_some() || a.phase == "order";
    // The flood's logins begin 10 s after every home client is logged in.
    let flood_start = Arc::new(flood::Start::new(a.concurrency, Duration::from_secs(10)));
    for _ in (0..a.flood).filter(|_| a.phase == "flood") {
        let (http, tally, next, bases, start) = (http.clone(), tally.clone(), next.clone(), bases.clone(), flood_start.clone());
        tasks.push(tokio::spawn(flood::client(http, bases, next, a.students, start, stop, a.flood_honours_retry, tally)));
    }
    for k in (0..a.concurrency).filter(|_| !single_write_step) {
        // The ramp: the k-th of n virtual students' desks opens k/n of the way into it.
        let delay = Duration::from_secs_f64(a.ramp_s as f64 * k as f64 / a.concurrency as f64);
        let (http, tally, next, bases, provider) = (http.clone(), tally.clone(), next.clone(), bases.clone(), bases[0].clone());
        let students = a.students;
        let phase = a.phase.clone();
        let flood_start = flood_start.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            match phase.as_str() {
                "login" => {
                    // Logins alone, as fast as they are answered: the hashing line's capacity.
                    while Instant::now() < stop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % students;
                        let base = &bases[i % bases.len()];
                        login(&http, base, &format!("L{i:07}"), &tally).await;
                    }
                }
                "home" | "flood" => {
                    // One login each, then the home page over and over (a crowded first page).
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % students;
                    let base = &bases[i % bases.len()];
                    // A login answered 429 (the hashing line full at the ramp) is tried again
                    // after its `Retry-After`, as the student would.
                    let token = loop {
                        match flood::login(&http, base, &format!("L{i:07}"), "login", &tally).await {
                            flood::Answer::Token(token) => break token,
                            flood::Answer::Refused(after) => tokio::time::sleep(after.unwrap_or(Duration::from_secs(2))).await,
                            flood::Answer::Failed => tokio::time::sleep(Duration::from_millis(200)).await,
                        }
                        if Instant::now() >= stop {
                            return;
                        }
                    };
                    flood_start.logged_in();
                    while Instant::now() < stop {
                        let t = Instant::now();
                        let step = if phase == "flood" { flood_start.home_step(t, "home", HOME_IN_FLOOD) } else { "home" };
                        match http.get(format!("{base}/api/v1/student/charges")).bearer_auth(&token).send().await {
                            Ok(r) if r.status().as_u16() == 200 => {
                                let _ = r.bytes().await;
                                tally.lock().unwrap().ok(step, t);
                            }
                            Ok(r) => tally.lock().unwrap().err(step, r.status().as_u16().to_string()),
                            Err(_) => tally.lock().unwrap().err(step, "connection".into()),
                        }
                    }
                }
                _ => loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= students || Instant::now() >= stop {
                        break;
                    }
                    let base = &bases[i % bases.len()];
                    journey(&http, base, &provider, &format!("L{i:07}"), &tally).await;
                },
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let wall = t0.elapsed();
    let (rss_after, cpu1) = server_figures(&http, &bases[0]).await;
    let writer1 = writer_figures(&http, &bases[0]).await;
    sampler.abort();
    let peak = peak.lock().unwrap().max(rss_after);

    // The limits, in the same run, at the same concurrency.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let argon2 = {
        let hasher = campuspay_app::crypto::Hasher::new(cores);
        let phc: Arc<str> = hasher.hash(PASSWORD).await.into();
        hammer(a.concurrency, 3.0, move || {
            let (hasher, phc) = (hasher.clone(), phc.clone());
            async move {
                hasher.verify(PASSWORD, Some(&phc)).await;
            }
        })
        .await
    };
    let healthz = {
        let (http, url) = (http.clone(), format!("{}/healthz", bases[0]));
        hammer(a.concurrency, 3.0, move || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let _ = http.get(&url).send().await.map(|r| r.bytes());
            }
        })
        .await
    };
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS load_commits (id BIGINT, at BIGINT)").execute(store.pool()).await?;
    let commits = {
        let store = store.clone();
        hammer(a.concurrency, 3.0, move || {
            let store = store.clone();
            async move {
                let Ok(mut tx) = store.write_tx().await else { return };
                let _ =
                    sqlx::query("INSERT INTO load_commits (id, at) VALUES ($1, $2)").bind(1i64).bind(db_now()).execute(&mut *tx.tx).await;
                let _ = tx.commit().await;
            }
        })
        .await
    };

    let t = std::mem::take(&mut *tally.lock().unwrap());
    println!("\nran {:.1} s; limits at {} in flight:", wall.as_secs_f64(), a.concurrency);
    println!("  raw argon2id verify        {argon2:>9.1} /s  ({cores} cores)");
    println!("  /healthz ceiling           {healthz:>9.1} req/s");
    println!("  raw commit rate            {commits:>9.1} commits/s");
    println!("\n{:<20} {:>7} {:>9} {:>9} {:>9} {:>9}  ratio to its limit", "step", "done", "req/s", "p50 ms", "p95 ms", "p99 ms");
    for step in STEPS.iter().chain(&["provider takes payment", flood::HOME_RAMP, HOME_IN_FLOOD, flood::LOGIN_IN_FLOOD]) {
        let mut lat = t.lat.get(step).cloned().unwrap_or_default();
        if lat.is_empty() {
            continue;
        }
        lat.sort();
        let rate = t.rate(step);
        let (limit, name) = match *step {
            "login" | flood::LOGIN_IN_FLOOD => (argon2, "argon2"),
            "home" | "provider takes payment" | flood::HOME_RAMP | HOME_IN_FLOOD => (healthz, "/healthz"),
            _ => (commits, "commits"),
        };
        println!(
            "{step:<20} {:>7} {rate:>9.1} {:>9.1} {:>9.1} {:>9.1}  {:.2} of {name}",
            lat.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.95),
            pct(&lat, 0.99),
            if limit > 0.0 { rate / limit } else { 0.0 }
        );
    }
    if let Some((n, secs)) = settled {
        let rate = n as f64 / secs;
        println!(
            "{:<20} {n:>7} {rate:>9.1}   (first payment taken → last shown paid: {secs:.2} s)  {:.2} of commits",
            "notified → settled",
            if commits > 0.0 { rate / commits } else { 0.0 }
        );
    }
    let too_many: usize = t.errors.iter().filter(|((_, c), _)| c.starts_with("429")).map(|(_, n)| n).sum();
    println!("\nerrors by step and kind ({too_many} were 429):");
    if t.errors.is_empty() {
        println!("  none");
    }
    for ((step, code), n) in &t.errors {
        println!("  {step:<20} {code:<40} {n}");
    }
    let paid: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o JOIN students s ON s.id = o.student_id WHERE s.student_no LIKE 'L%' AND o.status = 'paid'",
    )
    .fetch_one(store.pool())
    .await?;
    let applied: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM provider_payments p JOIN orders o ON o.id = p.order_id JOIN students s ON s.id = o.student_id \
         WHERE s.student_no LIKE 'L%' AND p.disposition = 'applied'",
    )
    .fetch_one(store.pool())
    .await?;
    let doubled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT order_id FROM provider_payments WHERE disposition = 'applied' GROUP BY order_id HAVING COUNT(*) > 1) d",
    )
    .fetch_one(store.pool())
    .await?;
    println!("\norders paid: {paid}; payments applied: {applied}; orders paid twice: {doubled}");
    println!("server RSS: {rss_before:.0} MB before, peak {peak:.0} MB, {rss_after:.0} MB after; CPU {:.1} s", cpu1 - cpu0);
    let [txs, waited, held] = [0, 1, 2].map(|i| writer1[i] - writer0[i]);
    let per = match settled {
        Some((n, _)) if n > 0 => format!(", {:.1} per payment settled", txs / n as f64),
        _ => String::new(),
    };
    print!("write transactions (first instance): {txs:.0}{per}");
    if held > 0.0 {
        // On SQLite the one writer: held this share of the run, and waited for this long in all.
        print!(
            "; SQLite's writer held {:.0} % of the {:.1} s, {:.1} s waited for in all",
            100.0 * held / wall.as_secs_f64(),
            wall.as_secs_f64(),
            waited
        );
    }
    println!();
    for r in runners {
        r.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if paid != applied || doubled != 0 {
        return Err(format!("payments were not applied exactly once: {paid} paid orders, {applied} applied, {doubled} doubled").into());
    }
    Ok(())
}
