//! The local stack: moto server (DynamoDB, KMS, Secrets Manager), the SP-API simulator, and
//! the real function binaries under the Lambda Runtime API emulator (`cargo lambda watch`),
//! with resources created from `infra/tables.json`, the definitions CDK deploys.
//!
//! Everything binds to 127.0.0.1 on free ports, and every process started here is stopped
//! when its handle drops or when the process that started it dies.

pub mod bench;
pub mod bench_labels;
pub mod bench_order_events;
pub mod bench_purge;
pub mod bench_stock;
pub mod day;
pub mod functions;
pub mod gateway;
pub mod moto;
pub mod packing;
pub mod process;
pub mod proxy;
pub mod queues;
pub mod resources;
pub mod station;
pub mod stocking;
pub mod trail;

use std::path::PathBuf;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// A tool installed by `make setup` into the repository's virtualenv.
pub fn venv_tool(name: &str) -> Result<PathBuf, String> {
    let path = repo_root().join(".venv/bin").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `make setup` first",
            path.display()
        ))
    }
}

/// A free loopback port (asked of the OS, then released for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Where the local stack writes its logs.
pub fn log_dir(run: &str) -> PathBuf {
    let dir = repo_root().join("target/local-stack").join(run);
    std::fs::create_dir_all(&dir).expect("log directory");
    dir
}

/// The simulator's clock as the suite's: suite and "Amazon" agree on the time, and the
/// suite's sleeps and queue delays shrink with a sped-up simulator.
pub struct SimTime(pub std::sync::Arc<spapi_sim::SimClock>);

impl shared::kernel::Clock for SimTime {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }

    /// A stopped clock (speed 0) moves only when a test moves it: its waits take their
    /// nominal time.
    fn real(&self, d: chrono::Duration) -> std::time::Duration {
        let d = d.to_std().unwrap_or_default();
        match self.0.speed() {
            s if s > 0.0 => d.div_f64(s),
            _ => d,
        }
    }
}
