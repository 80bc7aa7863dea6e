//! One transport for every SP-API call. A request goes through the layers once on the way out
//! and once on the way back:
//!
//! ```text
//! retry ─▶ rate budget ─▶ LWA ─▶ HTTP ─▶ Amazon
//! retry ◀─ rate budget ◀─ LWA ◀─ HTTP ◀─┘
//! ```
//!
//! retry: 429, 5xx, transport failures and garbled bodies, jittered backoff; rate budget: a
//! place in the shared budget out, Amazon's reported rate back; LWA: the access token out, a
//! 403 back drops it and tries once more. It logs each response's operation, seller, status,
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
    /// The longest wait for a rate-budget place spent in place; a longer one returns
    /// `BudgetExhausted` so the caller can defer the work.
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

/// One SP-API request, as an API module describes it.
#[derive(Debug, Clone)]
pub struct Request {
    pub operation: Operation,
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    /// A JSON body, already encoded (ids and what Amazon needs; the caller keeps PII out of
    /// logs, the transport never logs a body).
    pub body: Option<Vec<u8>>,
    /// Extra headers (`x-amzn-idempotency-key`, ...).
    pub headers: Vec<(&'static str, String)>,
    /// The first attempt's place in the rate budget; retries always take a new one.
    pub place: Place,
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
        self.body = Some(serde_json::to_vec(body).expect("request models always encode"));
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

    /// One attempt: the budget layer, then the LWA layer around the HTTP exchange, then the
    /// status read into a result.
    async fn attempt<T: DeserializeOwned>(
        &self,
        seller: &SellerId,
        request: &Request,
        place: Place,
        attempt: u32,
    ) -> Result<T, CallError> {
        let op = request.operation;
        self.budget.admit(seller, op, place).await?;
        let mut exchange = self.authorized(seller, request, attempt).await?;
        if exchange.status == 403 {
            // Amazon's token may die before our cache says: a fresh one, and once more (with
            // its own place in the budget).
            self.lwa.invalidate(seller).await;
            self.budget.admit(seller, op, Place::Take).await?;
            exchange = self.authorized(seller, request, attempt).await?;
        }
        read(exchange, attempt)
    }

    /// The LWA layer and the HTTP exchange; the budget layer sees the response on its way back.
    async fn authorized(
        &self,
        seller: &SellerId,
        request: &Request,
        attempt: u32,
    ) -> Result<Exchange, CallError> {
        let token = self.lwa.access_token(seller).await?;
        let op = request.operation;
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
