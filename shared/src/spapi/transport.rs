//! One transport for every SP-API call. A request goes through the layers once on the way out
//! and once on the way back:
//!
//! ```text
//! retry ─▶ LWA ─▶ rate budget ─▶ HTTP ─▶ Amazon
//! retry ◀─ LWA ◀─ rate budget ◀─ HTTP ◀─┘
//! ```
//!
//! retry: 429, 5xx, transport failures and garbled bodies, jittered backoff; LWA: the access
//! token out, a 403 back drops it and tries once more; rate budget: a place in the shared
//! budget out, Amazon's reported rate back. It logs each response's operation, seller, status,
//! `x-amzn-RequestId` and latency; never a body, never a query string.

use super::Operation;
use super::budget::{BudgetLayer, Place};
use super::error::CallError;
use super::lwa::LwaTokens;
use crate::kernel::{SellerId, serde_reason};
use crate::rate::RateBudget;
use crate::sellers::Credentials;
use backon::{ExponentialBuilder, Retryable};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use url::Url;

pub use reqwest::Method;

const USER_AGENT: &str = concat!(
    "fbm-fulfillment/",
    env!("CARGO_PKG_VERSION"),
    " (Language=Rust)"
);

/// Jittered exponential backoff for 429, 5xx, transport failures and garbled bodies.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The longest wait for a rate-budget place the function sleeps out itself; a longer one
    /// returns `BudgetExhausted` so the caller can defer the work.
    pub max_budget_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_budget_wait: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
    }
}

/// One SP-API request, as an API module describes it. Its `Debug` shows the operation, method,
/// path, query names and header names only: bodies and values can carry what no log may.
#[derive(Clone)]
pub struct Request {
    pub operation: Operation,
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    /// A JSON body, already encoded (ids and what Amazon needs; the caller keeps PII out of
    /// logs, the transport never logs a body).
    pub body: Option<bytes::Bytes>,
    /// Extra headers (`x-amzn-IdempotencyKey`, ...).
    pub headers: Vec<(&'static str, String)>,
    /// The first attempt's place in the rate budget; retries always take a new one.
    pub place: Place,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "query",
                &self.query.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.as_ref().map(bytes::Bytes::len))
            .field("place", &self.place)
            .finish()
    }
}

impl Request {
    pub fn new(operation: Operation, method: Method, path: impl Into<String>) -> Self {
        Self {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            place: Place::Take,
        }
    }

    pub fn get(operation: Operation, path: impl Into<String>) -> Self {
        Self::new(operation, Method::GET, path)
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn json<T: serde::Serialize>(mut self, body: &T) -> Self {
        // Bytes: every attempt sends the same body without copying it.
        self.body = Some(
            serde_json::to_vec(body)
                .expect("request models always encode")
                .into(),
        );
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Spend a place set aside earlier instead of taking one on the first attempt.
    pub fn reserved(mut self, reserved: bool) -> Self {
        self.place = if reserved {
            Place::Reserved
        } else {
            Place::Take
        };
        self
    }
}

#[derive(Deserialize, Default)]
struct ErrorList {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    code: String,
    #[serde(default)]
    message: String,
}

/// What came back from one HTTP exchange.
struct Exchange {
    status: u16,
    body: bytes::Bytes,
}

pub struct Transport {
    http: reqwest::Client,
    endpoint: Url,
    lwa: LwaTokens,
    budget: BudgetLayer,
    retry: RetryPolicy,
}

impl Transport {
    /// Set `count` places of `op` aside in the shared budget at once, for requests sent later
    /// with `Request::reserved(true)`: per place, the wait before it (short enough to sleep
    /// out) or, when it is further off, what to put the work off with. The access token comes
    /// first, as in [`Self::call`]: a place spent late (here, behind a token exchange and a
    /// secret read) lets Amazon's bucket sit full meanwhile and takes the lost refill from the
    /// places after it; and a seller whose authorization fails sets none aside.
    pub async fn reserve_places(
        &self,
        seller: &SellerId,
        op: Operation,
        count: usize,
    ) -> Result<Vec<Result<Duration, super::budget::Later>>, CallError> {
        self.lwa.access_token(seller).await?;
        self.budget.reserve_places(seller, op, count).await
    }

    pub fn new(
        endpoint: Url,
        lwa_token_url: Url,
        credentials: Arc<dyn Credentials>,
        budget: Arc<dyn RateBudget>,
        retry: RetryPolicy,
    ) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("the TLS backend is compiled in");
        Self {
            lwa: LwaTokens::new(http.clone(), lwa_token_url, credentials, retry),
            budget: BudgetLayer::new(budget, retry.max_budget_wait),
            http,
            endpoint,
            retry,
        }
    }

    /// Send `request` for `seller` through every layer and read a 2xx body as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        seller: &SellerId,
        request: &Request,
    ) -> Result<T, CallError> {
        let op = request.operation;
        let attempts = AtomicU32::new(0);
        let result = (|| async {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            let place = if attempt == 1 {
                request.place
            } else {
                Place::Take
            };
            self.attempt(seller, request, place, attempt).await
        })
        .retry(self.retry.backoff())
        .when(CallError::is_retryable)
        .notify(|e, pause| {
            tracing::warn!(
                operation = op.name(),
                seller_id = %seller,
                error = e.kind(),
                pause_ms = pause.as_millis() as u64,
                "sp-api call will be retried"
            )
        })
        .await;
        result.map_err(|e| e.with_attempts(attempts.load(Ordering::Relaxed)))
    }

    /// One attempt: the access token (LWA), then the request's place in the budget, then the
    /// HTTP exchange; back through the budget (Amazon's rate) and LWA (a 403 drops the token
    /// and tries once more), then the status read into a result. The token comes first so that
    /// a seller whose authorization fails spends no place in the shared budget.
    async fn attempt<T: DeserializeOwned>(
        &self,
        seller: &SellerId,
        request: &Request,
        place: Place,
        attempt: u32,
    ) -> Result<T, CallError> {
        let mut exchange = self.admitted(seller, request, place, attempt).await?;
        if exchange.status == 403 {
            // Amazon's token may die before our cache says: a fresh one, and once more (with
            // its own place in the budget).
            self.lwa.invalidate(seller).await;
            exchange = self.admitted(seller, request, Place::Take, attempt).await?;
        }
        read(exchange, attempt)
    }

    /// The LWA and budget layers on the way out, the HTTP exchange, the budget layer on the way
    /// back.
    async fn admitted(
        &self,
        seller: &SellerId,
        request: &Request,
        place: Place,
        attempt: u32,
    ) -> Result<Exchange, CallError> {
        let token = self.lwa.access_token(seller).await?;
        let op = request.operation;
        self.budget.admit(seller, op, place).await?;
        let transport = |e: reqwest::Error| CallError::Transport {
            // Without the URL: query strings can hold ids we would rather keep out of errors.
            message: e.without_url().to_string(),
            attempts: attempt,
        };
        let mut url = self.endpoint.clone();
        url.set_path(&request.path);
        let mut http = self
            .http
            .request(request.method.clone(), url)
            .query(&request.query)
            .header("x-amz-access-token", token.expose_secret());
        for (name, value) in &request.headers {
            http = http.header(*name, value);
        }
        if let Some(body) = &request.body {
            http = http
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started = Instant::now();
        let resp = http.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("x-amzn-RequestId");
        let rate_limit = header("x-amzn-RateLimit-Limit");
        let body = resp.bytes().await.map_err(transport)?;
        self.budget.observe(seller, op, rate_limit.as_deref()).await;
        tracing::info!(
            operation = op.name(),
            seller_id = %seller,
            status,
            request_id = request_id.as_deref().unwrap_or(""),
            rate_limit = rate_limit.as_deref().unwrap_or(""),
            attempt,
            latency_ms = started.elapsed().as_millis() as u64,
            "sp-api response"
        );
        Ok(Exchange { status, body })
    }
}

impl Transport {
    /// A feed or report document at its pre-signed URL (S3's, not SP-API's): no access token
    /// (S3 would refuse it) and no place in the rate budget. `body`: an upload, with its
    /// content type. Answers the document's bytes.
    pub async fn document(
        &self,
        method: Method,
        url: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<bytes::Bytes, CallError> {
        let transport = |e: reqwest::Error| CallError::Transport {
            // Without the URL: its signature is a credential.
            message: e.without_url().to_string(),
            attempts: 1,
        };
        let mut http = self.http.request(method, url);
        if let Some((content_type, bytes)) = body {
            http = http
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let resp = http.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport)?;
        match status {
            200..=299 => Ok(body),
            404 => Err(CallError::NotFound),
            500..=599 => Err(CallError::Server {
                status,
                attempts: 1,
            }),
            // An expired or refused URL: ask for a new one.
            _ => Err(CallError::Rejected {
                status,
                code: "DocumentUrl".into(),
                message: format!("document URL answered HTTP {status}"),
            }),
        }
    }
}

/// The retry layer's reading of a status: success decoded, the rest as errors (Amazon's
/// first error code and up to 200 characters of its message, never the body).
fn read<T: DeserializeOwned>(exchange: Exchange, attempt: u32) -> Result<T, CallError> {
    let Exchange { status, body } = exchange;
    let error_code = || {
        let list: ErrorList = serde_json::from_slice(&body).unwrap_or_default();
        list.errors
            .into_iter()
            .next()
            .map(|e| (e.code, e.message.chars().take(200).collect::<String>()))
            .unwrap_or_else(|| ("Unknown".into(), String::new()))
    };
    match status {
        // 204 and other empty answers (`confirmShipment`) read as JSON null: `()`.
        200..=299 if body.is_empty() => {
            serde_json::from_value(serde_json::Value::Null).map_err(|e| CallError::Decode {
                reason: serde_reason(&e),
            })
        }
        200..=299 => serde_json::from_slice(&body).map_err(|e| CallError::Decode {
            reason: serde_reason(&e),
        }),
        401 | 403 => Err(CallError::Denied {
            status,
            code: error_code().0,
        }),
        404 => Err(CallError::NotFound),
        429 => Err(CallError::Throttled { attempts: attempt }),
        500..=599 => Err(CallError::Server {
            status,
            attempts: attempt,
        }),
        _ => {
            let (code, message) = error_code();
            Err(CallError::Rejected {
                status,
                code,
                message,
            })
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernel::StoreError;
    use crate::rate::{Reservation, UsagePlan};
    use crate::testkit::MemCredentials;
    use async_trait::async_trait;
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// Every place granted at once, counted; reported rates kept.
    #[derive(Default)]
    pub(crate) struct CountingBudget {
        taken: AtomicU32,
        reserved: AtomicU32,
        reported: std::sync::Mutex<Vec<f64>>,
    }

    #[async_trait]
    impl RateBudget for CountingBudget {
        async fn take(
            &self,
            _: &SellerId,
            _: &'static str,
            _: UsagePlan,
        ) -> Result<Option<Duration>, StoreError> {
            self.taken.fetch_add(1, Ordering::Relaxed);
            Ok(None)
        }

        async fn reserve(
            &self,
            _: &SellerId,
            _: &'static str,
            _: UsagePlan,
            _: chrono::Duration,
        ) -> Result<Reservation, StoreError> {
            self.reserved.fetch_add(1, Ordering::Relaxed);
            Ok(Reservation::Now)
        }

        async fn record_reported_rate(
            &self,
            _: &SellerId,
            _: &'static str,
            rate: f64,
        ) -> Result<(), StoreError> {
            self.reported.lock().unwrap().push(rate);
            Ok(())
        }
    }

    pub(crate) fn seller() -> SellerId {
        SellerId::parse("A1SELLER").unwrap()
    }

    /// A transport against `server` (SP-API and LWA both), retries without real pauses.
    pub(crate) async fn transport(server: &MockServer, budget: Arc<CountingBudget>) -> Transport {
        Mock::given(method("POST"))
            .and(path("/auth/o2/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"access_token": "Atza|fresh", "expires_in": 3600}),
            ))
            .mount(server)
            .await;
        let credentials = MemCredentials::default();
        credentials.add_refresh_token(&seller(), "Atzr|refresh");
        let base = Url::parse(&server.uri()).unwrap();
        Transport::new(
            base.clone(),
            base.join("/auth/o2/token").unwrap(),
            Arc::new(credentials),
            budget,
            RetryPolicy {
                max_retries: 2,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                max_budget_wait: Duration::ZERO,
            },
        )
    }

    /// `GET /orders/1` answers 200 from now on (behind any mock mounted before).
    async fn order_found(server: &MockServer) {
        Mock::given(method("GET"))
            .and(path("/orders/1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(server)
            .await;
    }

    async fn token_requests(server: &MockServer) -> usize {
        let requests = server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|r| r.url.path() == "/auth/o2/token")
            .count()
    }

    #[tokio::test]
    async fn a_throttled_call_is_retried_each_time_with_its_own_place_and_counts_its_attempts() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/orders"))
            .respond_with(ResponseTemplate::new(429))
            .expect(3)
            .mount(&server)
            .await;
        let budget = Arc::new(CountingBudget::default());
        let t = transport(&server, budget.clone()).await;
        let err = t
            .call::<serde_json::Value>(&seller(), &Request::get(Operation::SearchOrders, "/orders"))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Throttled { attempts: 3 }), "{err}");
        assert_eq!(budget.taken.load(Ordering::Relaxed), 3);
        // One access token serves every attempt.
        assert_eq!(token_requests(&server).await, 1);
    }

    #[tokio::test]
    async fn a_403_drops_the_token_and_tries_once_more_with_a_fresh_one() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/orders"))
            .respond_with(ResponseTemplate::new(403).set_body_json(
                serde_json::json!({"errors": [{"code": "Unauthorized", "message": "expired"}]}),
            ))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/orders"))
            .and(header("x-amz-access-token", "Atza|fresh"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
            .mount(&server)
            .await;
        let budget = Arc::new(CountingBudget::default());
        let t = transport(&server, budget.clone()).await;
        let ok: serde_json::Value = t
            .call(&seller(), &Request::get(Operation::SearchOrders, "/orders"))
            .await
            .unwrap();
        assert_eq!(ok["ok"], true);
        assert_eq!(
            token_requests(&server).await,
            2,
            "a fresh token for the second try"
        );
        assert_eq!(
            budget.taken.load(Ordering::Relaxed),
            2,
            "each try has its place"
        );
    }

    #[tokio::test]
    async fn a_reserved_first_attempt_takes_no_place_and_its_retry_sets_one_aside() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/orders/1"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        order_found(&server).await;
        let budget = Arc::new(CountingBudget::default());
        let t = transport(&server, budget.clone()).await;
        let request = Request::get(Operation::GetOrder, "/orders/1").reserved(true);
        t.call::<serde_json::Value>(&seller(), &request)
            .await
            .unwrap();
        assert_eq!(budget.reserved.load(Ordering::Relaxed), 1, "the retry only");
        assert_eq!(budget.taken.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn places_are_set_aside_only_once_the_token_is_in_hand() {
        let server = MockServer::start().await;
        order_found(&server).await;
        let budget = Arc::new(CountingBudget::default());
        let t = transport(&server, budget.clone()).await;

        // A seller we hold no authorization for sets nothing aside.
        let stranger = SellerId::parse("A2STRANGER").unwrap();
        assert!(
            t.reserve_places(&stranger, Operation::GetOrder, 3)
                .await
                .is_err()
        );
        assert_eq!(budget.reserved.load(Ordering::Relaxed), 0);

        // The token is fetched before the places, so the reserved request goes at once.
        let places = t
            .reserve_places(&seller(), Operation::GetOrder, 2)
            .await
            .unwrap();
        assert_eq!(places.len(), 2);
        assert_eq!(token_requests(&server).await, 1);
        let request = Request::get(Operation::GetOrder, "/orders/1").reserved(true);
        t.call::<serde_json::Value>(&seller(), &request)
            .await
            .unwrap();
        assert_eq!(
            token_requests(&server).await,
            1,
            "the token set aside first"
        );
        assert_eq!(budget.taken.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_json_body_and_extra_headers_are_sent_and_the_reported_rate_is_kept_once() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/shipments"))
            .and(header("x-amzn-idempotency-key", "label-1"))
            .and(header("content-type", "application/json"))
            .and(body_json(serde_json::json!({"packages": 1})))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-amzn-RateLimit-Limit", "2.0")
                    .set_body_json(serde_json::json!({})),
            )
            .expect(2)
            .mount(&server)
            .await;
        let budget = Arc::new(CountingBudget::default());
        let t = transport(&server, budget.clone()).await;
        let request = Request::new(Operation::SearchOrders, Method::POST, "/shipments")
            .json(&serde_json::json!({"packages": 1}))
            .header("x-amzn-idempotency-key", "label-1");
        for _ in 0..2 {
            t.call::<serde_json::Value>(&seller(), &request)
                .await
                .unwrap();
        }
        assert_eq!(
            *budget.reported.lock().unwrap(),
            vec![2.0],
            "written when it changes"
        );
    }

    #[test]
    fn a_request_prints_neither_its_body_nor_its_header_values() {
        let request = Request::new(Operation::SearchOrders, Method::POST, "/shipments")
            .json(&serde_json::json!({"shipTo": "4821 Larkspur Crescent"}))
            .header("x-amzn-idempotency-key", "label-1");
        let printed = format!("{request:?}");
        assert!(
            !printed.contains("Larkspur") && !printed.contains("label-1"),
            "{printed}"
        );
        assert!(printed.contains("/shipments"), "{printed}");
    }
}
