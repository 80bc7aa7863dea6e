//! The staff API alone on the local stack, for tools that call it from outside (the
//! schema-based fuzz run): moto, the simulator (one seller), its orders taken in by the real
//! `order-sync`, and the real `api` on the Runtime API emulator behind the stand-in gateway.
//! Prints one JSON line (the gateway's URL, the seller, some order ids, a token per role) and
//! serves until its standard input closes or Ctrl-C; then stops everything it started.

use local_stack::functions::FunctionHost;
use local_stack::gateway::Gateway;
use local_stack::moto::Moto;
use local_stack::resources::{Credentials, provision};
use shared::api::Role;
use spapi_sim::{SimConfig, Simulator};
use tokio::io::AsyncReadExt;

async fn serve() -> Result<(), String> {
    let logs = local_stack::log_dir("api");
    let moto = Moto::start(&logs)?;
    let sdk = moto.sdk_config().await;
    let config = SimConfig::demo(1, 30, 16_016);
    let creds = Credentials::of(&config)?;
    let sim = Simulator::start(config.clone(), "127.0.0.1:0".parse().expect("loopback"))
        .await
        .map_err(|e| format!("starting the SP-API simulator: {e}"))?;
    let stack = provision(&sdk, "fbm-api", &creds).await?;
    let mut host = FunctionHost::start(&logs)?;
    let result = async {
        let mut sync_env = moto.function_env();
        sync_env.extend(stack.order_sync_env(&sim.base_url(), &sim.lwa_token_url()));
        host.start_function("order-sync", &sync_env)?;
        let mut api_env = moto.function_env();
        api_env.extend(stack.api_env());
        host.start_function("api", &api_env)?;
        let event = local_stack::day::read_event("events/order-sync/scheduled.json")?;
        local_stack::day::sweep(&mut host, &event).await?;
        let gateway = Gateway::start(host.invoker(), "api").await?;
        let seller = &config.sellers[0].seller_id;
        let mut orders = sim.orders_in(seller, "UNSHIPPED");
        orders.truncate(5);
        let tokens: serde_json::Map<String, serde_json::Value> = Role::ALL
            .iter()
            .map(|r| {
                let token = gateway.token(&format!("{}-fuzz", r.name()), &[*r]);
                (r.name().to_owned(), token.into())
            })
            .collect();
        let line = serde_json::json!({
            "url": gateway.url(), "seller_id": seller, "order_ids": orders, "tokens": tokens,
        });
        #[allow(clippy::print_stdout)] // the line is this program's output
        {
            println!("{line}");
        }
        let mut sink = Vec::new();
        let mut stdin = tokio::io::stdin();
        tokio::select! {
            _ = stdin.read_to_end(&mut sink) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok::<_, String>(())
    }
    .await;
    host.stop();
    sim.shutdown().await;
    result
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local api failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
