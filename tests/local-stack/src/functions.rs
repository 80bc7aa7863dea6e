//! The function binaries under the Lambda Runtime API emulator. `cargo lambda watch
//! --only-lambda-apis` serves the Runtime API (to the binaries) and the Invoke API (to us) on
//! loopback; each function is the real binary the workspace build produced, started here
//! with its environment and pointed at the emulator, its output in `<function>.log`.
//! (Starting prebuilt binaries avoids the emulator's own `cargo run`, which would resolve
//! features for one package and rebuild every dependency a second time.)

use crate::process::{Supervised, wait_for_port};
use crate::{free_port, repo_root, venv_tool};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct FunctionHost {
    port: u16,
    http: reqwest::Client,
    log_dir: PathBuf,
    functions: Vec<Supervised>,
    emulator: Supervised,
}

/// A function's answer: its result, or the error the runtime reported.
#[derive(Debug)]
pub enum Invocation {
    Ok(serde_json::Value),
    FunctionError { error_type: String, message: String },
}

/// The debug build of a function binary (`cargo build --workspace --bins` makes it).
pub fn function_binary(name: &str) -> Result<PathBuf, String> {
    let path = repo_root().join("target/debug").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --workspace --bins` first",
            path.display()
        ))
    }
}

impl FunctionHost {
    pub fn start(log_dir: &Path) -> Result<Self, String> {
        let program = venv_tool("cargo-lambda")?;
        let port = free_port();
        let args = [
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
            "--timeout",
            "900",
        ]
        .map(String::from);
        let mut emulator = Supervised::spawn(
            "cargo lambda watch",
            &program,
            &args,
            &[],
            &repo_root(),
            &log_dir.join("lambda-emulator.log"),
        )
        .map_err(|e| format!("starting cargo lambda watch: {e}"))?;
        wait_for_port(&mut emulator, port, Duration::from_secs(60))?;
        Ok(Self {
            port,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(900))
                .build()
                .map_err(|e| e.to_string())?,
            log_dir: log_dir.to_owned(),
            functions: Vec::new(),
            emulator,
        })
    }

    /// Start the function's binary against the emulator's Runtime API, as Lambda would.
    pub fn start_function(&mut self, name: &str, env: &[(String, String)]) -> Result<(), String> {
        let binary = function_binary(name)?;
        let mut full_env = env.to_vec();
        full_env.extend(
            [
                (
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("http://127.0.0.1:{}/.rt/{name}", self.port),
                ),
                ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        let process = Supervised::spawn(
            name,
            &binary,
            &[],
            &full_env,
            &repo_root(),
            &self.log_dir.join(format!("{name}.log")),
        )
        .map_err(|e| format!("starting {name}: {e}"))?;
        self.functions.push(process);
        Ok(())
    }

    /// Invoke `function` synchronously through the Invoke API.
    pub async fn invoke(
        &mut self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<Invocation, String> {
        if let Some(f) = self.functions.iter_mut().find(|f| f.name() == function)
            && !f.is_running()
        {
            return Err(format!("{function} is not running; see {function}.log"));
        }
        self.invoker().invoke(function, payload).await
    }

    /// A handle that invokes functions without borrowing the host (for event-source loops).
    pub fn invoker(&self) -> Invoker {
        Invoker {
            port: self.port,
            http: self.http.clone(),
        }
    }

    /// Stop the functions and the emulator (flushes their logs).
    pub fn stop(&mut self) {
        for f in &mut self.functions {
            f.stop();
        }
        self.emulator.stop();
    }
}

/// Invokes functions through the emulator's Invoke API.
#[derive(Clone)]
pub struct Invoker {
    port: u16,
    http: reqwest::Client,
}

impl Invoker {
    pub async fn invoke(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<Invocation, String> {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.port
        );
        let resp = self
            .http
            .post(url)
            .json(payload)
            .send()
            .await
            .map_err(|e| format!("invoking {function}: {e}"))?;
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| format!("reading {function}'s answer: {e}"))?;
        Ok(match body.get("errorType").and_then(|v| v.as_str()) {
            Some(t) => Invocation::FunctionError {
                error_type: t.to_owned(),
                message: body
                    .get("errorMessage")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned(),
            },
            None => Invocation::Ok(body),
        })
    }
}
