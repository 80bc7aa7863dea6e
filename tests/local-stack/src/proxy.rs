//! Plumbing the local stack's HTTP stand-ins share: serving a router on a free loopback port,
//! and passing a request on to moto as a reverse proxy would.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use tokio::sync::oneshot;

/// A router served on a free loopback port until this handle drops.
pub struct LocalServer {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
}

impl LocalServer {
    pub async fn start(app: Router) -> Result<Self, String> {
        let (port, stop) = serve(app).await?;
        Ok(Self {
            port,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serve `app` on a free loopback port until the returned sender is dropped or fired.
async fn serve(app: Router) -> Result<(u16, oneshot::Sender<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok((port, stop))
}

/// Where a proxy sends what it does not answer itself (moto).
#[derive(Clone)]
pub struct Upstream {
    url: String,
    http: reqwest::Client,
}

impl Upstream {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Send the request on and hand back the answer. The caller's connection stays open as
    /// with AWS's endpoints: moto answers every request with `Connection: close`, which would
    /// make each call open a new TCP connection.
    pub async fn pass_on(
        &self,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, Bytes) {
        pass_on(&self.http, &self.url, method, uri, headers, body).await
    }
}

async fn pass_on(
    http: &reqwest::Client,
    upstream: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    let url = format!(
        "{upstream}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut req = http.request(method, url).body(body);
    for (k, v) in headers {
        if k != "host" && !is_hop_by_hop(k.as_str()) {
            req = req.header(k, v);
        }
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let mut out = HeaderMap::new();
            for (k, v) in resp.headers() {
                if !is_hop_by_hop(k.as_str()) {
                    out.insert(k.clone(), v.clone());
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            (status, out, bytes)
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            HeaderMap::new(),
            Bytes::from(e.to_string()),
        ),
    }
}

/// Headers about one connection, not the message (RFC 9110, 7.6.1), and the length, which the
/// proxy sets itself: not passed on.
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}
