//! Child processes that cannot outlive us. Each runs in its own process group under a small
//! shell watchdog: dropping the handle stops the whole group, and if this process dies
//! without dropping it, the watchdog notices and stops the child itself.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// TERM, then KILL if the child has not gone within 5 s: a child that ignores TERM (or hangs in
/// its shutdown) must never outlive the process that started it.
const WATCHDOG: &str = r#"
parent=$1; shift
"$@" & child=$!
stop() {
  kill -TERM $child 2>/dev/null
  i=0
  while kill -0 $child 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL $child 2>/dev/null
  wait $child
}
trap 'stop; exit 0' TERM INT HUP
while kill -0 "$parent" 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
stop
"#;

pub struct Supervised {
    name: String,
    child: Child,
}

impl Supervised {
    /// Start `program args` with `env`, output appended to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
        cwd: &Path,
        log: &Path,
    ) -> std::io::Result<Self> {
        let out = File::options().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        let child = Command::new("setsid")
            .arg("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stop the whole process group and wait for the watchdog.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until && self.is_running() {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.is_running() {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wait until something accepts TCP connections on `127.0.0.1:port`.
pub fn wait_for_port(proc: &mut Supervised, port: u16, timeout: Duration) -> Result<(), String> {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if !proc.is_running() {
            return Err(format!(
                "{} exited before it listened on port {port}; see its log",
                proc.name()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{} did not listen on port {port} within {timeout:?}",
        proc.name()
    ))
}
