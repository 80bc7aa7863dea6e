//! `cargo run --release -p local-stack --bin bench-sdk-call`: what one AWS call costs the
//! calling process in CPU, the floor under `order-events`' CPU per order. Each call kind runs
//! `CALLS` times in sequence on a current-thread runtime (as a function does) against moto;
//! the thread's CPU time is read from `/proc/thread-self/schedstat`. Twice: `kept_*` through
//! the bench's proxy, which keeps connections open as AWS does, and `new_conn_*` straight to
//! moto, which closes every connection (each call then opens a TCP connection).
//! `raw_http_*` sends the same DynamoDB request through a plain HTTP client, unsigned (moto
//! does not check signatures): the transport's share without the SDK. Readable lines on
//! stderr; the last line on stdout is one JSON object.

use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::bench::CountingProxy;
use local_stack::moto::Moto;
use local_stack::resources::{Credentials, Provisioned, provision};
use std::collections::BTreeMap;

const CALLS: usize = 1000;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Run `call` `CALLS` times after 50 unmeasured ones; CPU µs per call.
async fn measure<F, Fut>(mut call: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..50 {
        call(i).await;
    }
    let start = thread_cpu_ns();
    for i in 0..CALLS {
        call(i).await;
    }
    (thread_cpu_ns() - start) as f64 / 1000.0 / CALLS as f64
}

fn main() -> std::process::ExitCode {
    let setup = tokio::runtime::Runtime::new().expect("runtime");
    let logs = local_stack::log_dir("bench-sdk-call");
    let moto = match Moto::start(&logs) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("bench-sdk-call failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let (sdk, stack) = setup.block_on(async {
        let sdk = moto.sdk_config().await;
        let config = spapi_sim::SimConfig::demo(1, 0, 1);
        let creds = Credentials::of(&config).expect("credentials");
        let stack = provision(&sdk, "bench-sdk-call", &creds)
            .await
            .expect("provision");
        (sdk, stack)
    });
    let proxy = setup
        .block_on(CountingProxy::start(&moto.endpoint))
        .expect("proxy");
    let mut figures = BTreeMap::new();
    for (name, endpoint) in [("kept", proxy.url()), ("new_conn", moto.endpoint.clone())] {
        let sdk = sdk.to_builder().endpoint_url(&endpoint).build();
        for (k, v) in measure_calls(sdk, stack.clone(), endpoint) {
            figures.insert(format!("{name}_{k}"), v);
        }
    }
    for (k, v) in &figures {
        eprintln!("{k:<36}: {v:.1} µs CPU per call");
    }
    let mut json = serde_json::Map::new();
    json.insert("bench".into(), "sdk-call".into());
    json.insert("calls_each".into(), CALLS.into());
    for (k, v) in figures {
        json.insert(k, ((v * 10.0).round() / 10.0).into());
    }
    #[allow(clippy::print_stdout)] // the figures line is this program's output
    {
        println!("{}", serde_json::Value::Object(json));
    }
    std::process::ExitCode::SUCCESS
}

/// CPU µs per call of each kind, measured on a thread and current-thread runtime of its own
/// (nothing else runs there).
fn measure_calls(
    sdk: aws_config::SdkConfig,
    stack: Provisioned,
    endpoint: String,
) -> BTreeMap<&'static str, f64> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let ddb = aws_sdk_dynamodb::Client::new(&sdk);
            let kms = aws_sdk_kms::Client::new(&sdk);
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let table = stack.table("control").to_owned();
            let key = stack.pii_key_arn.clone();
            let queue = stack.queue("stock").to_owned();
            let mut out = BTreeMap::new();
            let item_key = |i: usize| {
                [
                    ("pk".to_owned(), AttributeValue::S(format!("bench#{}", i % 100))),
                    ("sk".to_owned(), AttributeValue::S("bench".into())),
                ]
            };
            out.insert(
                "dynamodb_put_item_us",
                measure(|i| {
                    let (ddb, table) = (&ddb, &table);
                    async move {
                        let [k1, k2] = item_key(i);
                        ddb.put_item()
                            .table_name(table)
                            .item(k1.0, k1.1)
                            .item(k2.0, k2.1)
                            .item("n", AttributeValue::N(i.to_string()))
                            .send()
                            .await
                            .expect("put");
                    }
                })
                .await,
            );
            out.insert(
                "dynamodb_get_item_us",
                measure(|i| {
                    let (ddb, table) = (&ddb, &table);
                    async move {
                        let [k1, k2] = item_key(i);
                        ddb.get_item()
                            .table_name(table)
                            .key(k1.0, k1.1)
                            .key(k2.0, k2.1)
                            .consistent_read(true)
                            .send()
                            .await
                            .expect("get");
                    }
                })
                .await,
            );
            out.insert(
                "kms_generate_data_key_us",
                measure(|i| {
                    let (kms, key) = (&kms, &key);
                    async move {
                        kms.generate_data_key()
                            .key_id(key)
                            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
                            .encryption_context("order_id", i.to_string())
                            .send()
                            .await
                            .expect("data key");
                    }
                })
                .await,
            );
            out.insert(
                "sqs_send_message_us",
                measure(|i| {
                    let (sqs, queue) = (&sqs, &queue);
                    async move {
                        sqs.send_message()
                            .queue_url(queue)
                            .message_body(format!("{{\"n\":{i}}}"))
                            .send()
                            .await
                            .expect("send");
                    }
                })
                .await,
            );
            let http = reqwest::Client::new();
            out.insert(
                "raw_http_get_item_us",
                measure(|i| {
                    let (http, table, endpoint) = (&http, &table, &endpoint);
                    async move {
                        let body = serde_json::json!({
                            "TableName": table,
                            "Key": {"pk": {"S": format!("bench#{}", i % 100)}, "sk": {"S": "bench"}},
                            "ConsistentRead": true,
                        });
                        let resp = http
                            .post(endpoint.as_str())
                            .header("x-amz-target", "DynamoDB_20120810.GetItem")
                            .header("content-type", "application/x-amz-json-1.0")
                            .header(
                                "authorization",
                                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                            )
                            .body(body.to_string())
                            .send()
                            .await
                            .expect("raw get");
                        let _: serde_json::Value = resp.json().await.expect("raw body");
                    }
                })
                .await,
            );
            out
        })
    })
    .join()
    .expect("measuring thread")
}
