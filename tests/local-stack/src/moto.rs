//! moto server: DynamoDB, KMS, SQS and Secrets Manager on loopback, started through the
//! project's launcher (`tests/local-stack/moto_server.py`), which makes DynamoDB's writes
//! atomic per item as AWS's are. `LOCAL_STACK_PLAIN_MOTO=1` starts moto as `moto_server`
//! does, without that lock: only to show what the race tests catch.

use crate::process::{Supervised, wait_for_port};
use crate::{free_port, repo_root, venv_tool};
use std::path::Path;
use std::time::Duration;

pub struct Moto {
    pub endpoint: String,
    _process: Supervised,
}

impl Moto {
    pub fn start(log_dir: &Path) -> Result<Self, String> {
        let program = venv_tool("python")?;
        let port = free_port();
        let launcher = repo_root().join("tests/local-stack/moto_server.py");
        let mut args = vec![
            launcher.display().to_string(),
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        if std::env::var("LOCAL_STACK_PLAIN_MOTO").is_ok_and(|v| v == "1") {
            args.push("--plain".into());
        }
        let mut process = Supervised::spawn(
            "moto_server",
            &program,
            &args,
            &[],
            &repo_root(),
            &log_dir.join("moto.log"),
        )
        .map_err(|e| format!("starting moto_server: {e}"))?;
        wait_for_port(&mut process, port, Duration::from_secs(30))?;
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            _process: process,
        })
    }

    /// An SDK configuration pointed at this moto, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        // The functions' call timeouts: the in-process workers are Lambda instances too.
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(shared::aws::call_timeouts())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "local-stack",
            ))
            .load()
            .await
    }

    /// The environment a function needs to reach this moto.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }
}

pub const REGION: &str = "us-east-1";
