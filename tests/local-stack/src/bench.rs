//! Instruments for `make bench`: a minimal Lambda Runtime API (so that the first poll of a
//! function process, its cold start, can be timed and batches fed to it back to back), a
//! counting proxy in front of moto (AWS calls by operation), and process figures from /proc.

use crate::proxy::{LocalServer, Upstream};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// One invocation: the event, and where its answer goes.
type Invocation = (serde_json::Value, oneshot::Sender<serde_json::Value>);

/// The Runtime API side of one function process: invocations in, answers out.
pub struct RuntimeApi {
    server: LocalServer,
    first_poll: Arc<Mutex<Option<Instant>>>,
    invocations: mpsc::Sender<Invocation>,
}

#[derive(Clone)]
struct RuntimeState {
    first_poll: Arc<Mutex<Option<Instant>>>,
    /// The time each invocation gets (Lambda's timeout).
    timeout: std::time::Duration,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>,
    pending: Arc<Mutex<BTreeMap<String, oneshot::Sender<serde_json::Value>>>>,
    next_id: Arc<Mutex<u64>>,
}

async fn next(State(st): State<RuntimeState>) -> Response {
    {
        let mut first = st.first_poll.lock().expect("lock");
        first.get_or_insert_with(Instant::now);
    }
    let Some((event, reply)) = st.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let id = {
        let mut n = st.next_id.lock().expect("lock");
        *n += 1;
        format!("bench-{n:08}")
    };
    st.pending.lock().expect("lock").insert(id.clone(), reply);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d + st.timeout).as_millis() as u64)
        .unwrap_or(0);
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:order-events".to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        event.to_string(),
    )
        .into_response()
}

async fn answer(
    State(st): State<RuntimeState>,
    Path((id, _kind)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    if let Some(reply) = st.pending.lock().expect("lock").remove(&id) {
        let _ = reply.send(value);
    }
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    /// Invocations with a 60-second timeout.
    pub async fn start() -> Result<Self, String> {
        Self::with_timeout(std::time::Duration::from_secs(60)).await
    }

    pub async fn with_timeout(timeout: std::time::Duration) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel(16);
        let first_poll = Arc::new(Mutex::new(None));
        let state = RuntimeState {
            first_poll: first_poll.clone(),
            timeout,
            queue: Arc::new(tokio::sync::Mutex::new(rx)),
            pending: Arc::default(),
            next_id: Arc::default(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
            .route(
                "/2018-06-01/runtime/init/error",
                post(|| async { StatusCode::ACCEPTED }),
            )
            .with_state(state);
        Ok(Self {
            server: LocalServer::start(app).await?,
            first_poll,
            invocations: tx,
        })
    }

    /// What a function process's `AWS_LAMBDA_RUNTIME_API` is set to.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// When the process first asked for work.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.first_poll.lock().expect("lock")
    }

    /// Hand `event` to the function and wait for its answer.
    pub async fn invoke(&self, event: serde_json::Value) -> Result<serde_json::Value, String> {
        let (reply, answer) = oneshot::channel();
        self.invocations
            .send((event, reply))
            .await
            .map_err(|_| "runtime api stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "function gave no answer".to_owned())
    }
}

/// A reverse proxy in front of moto that counts AWS calls by `X-Amz-Target` (DynamoDB, KMS,
/// SQS and Secrets Manager all name their operation there). It also keeps the function's
/// connections open as AWS's endpoints do: moto answers every request with
/// `Connection: close`, which would make each call of the measured process open a new TCP
/// connection and put that cost in its CPU figure. It can hold every call for a fixed time,
/// as a round trip to AWS in the same region would (`set_latency`).
pub struct CountingProxy {
    server: LocalServer,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    latency_us: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: Upstream,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    latency_us: Arc<std::sync::atomic::AtomicU64>,
}

async fn forward(
    State(st): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("other")
        .to_owned();
    *st.counts.lock().expect("lock").entry(target).or_default() += 1;
    let latency = st.latency_us.load(std::sync::atomic::Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_micros(latency)).await;
    }
    st.upstream
        .pass_on(method, &uri, &headers, body)
        .await
        .into_response()
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Result<Self, String> {
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let latency_us = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let app = Router::new().fallback(forward).with_state(ProxyState {
            upstream: Upstream::new(upstream),
            counts: counts.clone(),
            latency_us: latency_us.clone(),
        });
        Ok(Self {
            server: LocalServer::start(app).await?,
            counts,
            latency_us,
        })
    }

    /// Hold every call this long before passing it on (zero: not at all).
    pub fn set_latency(&self, latency: Duration) {
        self.latency_us.store(
            latency.as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Calls so far by operation, and clear.
    pub fn take_counts(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().expect("lock"))
    }
}

/// CPU time (user + system) a process has used, in nanoseconds, from
/// `/proc/<pid>/schedstat` (nanosecond resolution), else `/proc/<pid>/stat` (clock ticks).
pub fn cpu_ns(pid: u32) -> Option<u64> {
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        && let Some(ns) = s.split_whitespace().next().and_then(|v| v.parse().ok())
    {
        return Some(ns);
    }
    let (user, sys) = user_sys_ticks(pid)?;
    Some((user + sys) * 10_000_000)
}

/// Peak resident set size (`VmHWM`) in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User and system clock ticks a process has used, from `/proc/<pid>/stat`.
pub fn user_sys_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?))
}

/// The release binary `cargo lambda build --release --bin <function> --output-format zip`
/// leaves, and the size of its deploy zip. `BENCH_BINARY` names another build of the same
/// function (with symbols, for a profiler; the per-order baseline), whose zip size is 0.
pub fn release_artifact(function: &str) -> Result<(std::path::PathBuf, u64), String> {
    let (binary, size) = match std::env::var_os("BENCH_BINARY") {
        // Another build of the function (the per-order baseline): no zip of its own.
        Some(binary) => (std::path::PathBuf::from(binary), 0),
        None => {
            let zip = crate::repo_root()
                .join("target/lambda")
                .join(function)
                .join("bootstrap.zip");
            let size = std::fs::metadata(&zip)
                .map_err(|e| {
                    format!(
                        "{}: {e} (run `cargo lambda build --release --bin {function} --output-format zip`)",
                        zip.display()
                    )
                })?
                .len();
            let binary = crate::repo_root()
                .join("target/x86_64-unknown-linux-gnu/release")
                .join(function);
            (binary, size)
        }
    };
    if !binary.exists() {
        return Err(format!("{} is missing", binary.display()));
    }
    Ok((binary, size))
}

/// The function binary itself, not under a wrapper, so that its start and its /proc figures
/// are its own. Killed when the handle drops.
pub fn spawn_function(
    binary: &std::path::Path,
    env: &[(String, String)],
    log: &std::path::Path,
) -> Result<tokio::process::Child, String> {
    let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    tokio::process::Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))
}

/// `v` to `digits` decimals, for figures meant to be read.
/// The environment of a function process under the harness: moto's (its AWS endpoint
/// through `proxy_url`), the function's own (`function_env`), and Lambda's variables for
/// `function` at 256 MB with JSON logs at WARN.
pub fn process_env(
    moto_env: Vec<(String, String)>,
    proxy_url: &str,
    function_env: Vec<(String, String)>,
    function: &str,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = moto_env
        .into_iter()
        .map(|(k, v)| {
            if k == "AWS_ENDPOINT_URL" {
                (k, proxy_url.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    env.extend(function_env);
    env.extend(
        [
            ("AWS_LAMBDA_FUNCTION_NAME", function),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    // Warnings only, as measured; BENCH_LOG_LEVEL=INFO to look into a run.
    env.push((
        "AWS_LAMBDA_LOG_LEVEL".into(),
        std::env::var("BENCH_LOG_LEVEL").unwrap_or_else(|_| "WARN".into()),
    ));
    env
}

/// `runs` cold starts of `binary`: exec to its first Runtime API poll, in ms, and their
/// median. Each process is killed once it has polled.
pub async fn cold_starts(
    binary: &std::path::Path,
    env: &[(String, String)],
    logs: &std::path::Path,
    runs: usize,
    function: &str,
) -> Result<(Vec<f64>, f64), String> {
    let mut cold = Vec::new();
    for i in 0..runs {
        let runtime = RuntimeApi::start().await?;
        let mut env = env.to_vec();
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), runtime.url()));
        let started = Instant::now();
        let mut process = spawn_function(binary, &env, &logs.join(format!("cold-start-{i}.log")))?;
        let polled = loop {
            if let Some(t) = runtime.first_poll() {
                break t;
            }
            if started.elapsed() > std::time::Duration::from_secs(30)
                || process.try_wait().ok().flatten().is_some()
            {
                return Err(format!("{function} never polled the Runtime API"));
            }
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        };
        cold.push((polled - started).as_secs_f64() * 1000.0);
        let _ = process.kill().await;
    }
    let mut sorted = cold.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    Ok((cold, median))
}

pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}
