//! One HTTP client for every SP-API call: auth header, retries, logging, error mapping.

use super::Operation;
use super::error::SpApiError;
use super::lwa::LwaTokens;
use super::orders::{
    GetOrderResponse, INCLUDED_DATA, SearchOrdersResponse, read_listed_order, to_fetched_order,
};
use crate::domain::{AmazonOrderId, SellerId, UsagePlan};
use crate::ports::{FetchedOrder, OrderSearch, OrdersPage, RateBudget, Secrets, Slot, SpApiOrders};
use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use chrono::SecondsFormat;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

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
    /// The longest wait for a rate-budget token spent in place; a longer one returns
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

/// Whether a request takes its budget token now or spends one set aside earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Take,
    Reserved,
}

/// How far ahead a `getOrder` token may be set aside: an hour of the default plan is 1,800
/// orders of backlog per seller; beyond it work waits without a slot.
const RESERVATION_HORIZON: chrono::Duration = chrono::Duration::hours(1);

pub struct SpApiClient {
    http: reqwest::Client,
    endpoint: Url,
    tokens: LwaTokens,
    budget: Arc<dyn RateBudget>,
    /// The last rate Amazon reported per seller and operation, to write only changes.
    reported_rates: Mutex<HashMap<(SellerId, Operation), f64>>,
    retry: RetryPolicy,
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

impl SpApiClient {
    pub fn new(
        endpoint: Url,
        lwa_token_url: Url,
        secrets: Arc<dyn Secrets>,
        budget: Arc<dyn RateBudget>,
        retry: RetryPolicy,
    ) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("the TLS backend is compiled in");
        let tokens = LwaTokens::new(http.clone(), lwa_token_url, secrets, retry);
        Self {
            http,
            endpoint,
            tokens,
            budget,
            reported_rates: Mutex::new(HashMap::new()),
            retry,
        }
    }

    /// Wait for the shared budget's token for one request: briefly in place, or give the
    /// work back to the caller with `BudgetExhausted` when the wait is long.
    async fn take_budget(&self, seller: &SellerId, op: Operation) -> Result<(), SpApiError> {
        let (rate, burst) = op.default_quota();
        let plan = UsagePlan::new(rate, burst).with_headroom();
        let store_error = |source| SpApiError::BudgetStore {
            operation: op.name(),
            seller_id: seller.clone(),
            source,
        };
        let exhausted = |wait: Duration, slot| SpApiError::BudgetExhausted {
            operation: op.name(),
            seller_id: seller.clone(),
            retry_after_ms: wait.as_millis() as u64,
            slot,
        };
        if op.reserves() {
            // One read and one write, then a sleep to a slot nobody else will take.
            return match self
                .budget
                .reserve(seller, op.name(), plan, RESERVATION_HORIZON)
                .await
                .map_err(store_error)?
            {
                Slot::Now => Ok(()),
                Slot::At { wait, .. } if wait <= self.retry.max_budget_wait => {
                    tokio::time::sleep(wait).await;
                    Ok(())
                }
                Slot::At { at, wait } => Err(exhausted(wait, Some(at))),
                Slot::Full { wait, .. } => Err(exhausted(wait, None)),
            };
        }
        // Bounded in total, not per wait: under contention each wait is short but many.
        let mut waited = Duration::ZERO;
        loop {
            match self
                .budget
                .take(seller, op.name(), plan)
                .await
                .map_err(store_error)?
            {
                None => return Ok(()),
                Some(w) if waited + w <= self.retry.max_budget_wait => {
                    tokio::time::sleep(w).await;
                    waited += w;
                }
                Some(w) => return Err(exhausted(w, None)),
            }
        }
    }

    /// Amazon's `x-amzn-RateLimit-Limit`: store it for every worker when it changes.
    async fn note_reported_rate(&self, seller: &SellerId, op: Operation, header: &str) {
        let Ok(rate) = header.trim().parse::<f64>() else {
            return;
        };
        let key = (seller.clone(), op);
        let known = self
            .reported_rates
            .lock()
            .map(|m| m.get(&key).copied())
            .unwrap_or(None)
            .unwrap_or(op.default_quota().0);
        if (known - rate).abs() <= f64::EPSILON * rate.abs().max(1.0) {
            return;
        }
        match self
            .budget
            .record_reported_rate(seller, op.name(), rate)
            .await
        {
            Ok(()) => {
                if let Ok(mut m) = self.reported_rates.lock() {
                    m.insert(key, rate);
                }
            }
            Err(e) => tracing::warn!(
                operation = op.name(),
                seller_id = %seller,
                error = %e,
                "could not record the rate Amazon reported; the default stays in use"
            ),
        }
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.endpoint.clone();
        url.set_path(path);
        url
    }

    /// Call with retries; `query` is rebuilt per attempt. `first`: whether the first attempt
    /// takes its token now or spends one set aside earlier; retries always take.
    async fn call<T: DeserializeOwned>(
        &self,
        seller: &SellerId,
        op: Operation,
        path: &str,
        query: &[(&str, String)],
        first: Token,
    ) -> Result<T, SpApiError> {
        let attempts = AtomicU32::new(0);
        let result = (|| async {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            let token = if attempt == 1 { first } else { Token::Take };
            self.attempt(seller, op, path, query, attempt, token).await
        })
        .retry(self.retry.backoff())
        .when(SpApiError::is_retryable)
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
        let attempts = attempts.load(Ordering::Relaxed);
        result.map_err(|e| match e {
            SpApiError::Throttled {
                operation,
                seller_id,
                ..
            } => SpApiError::Throttled {
                operation,
                seller_id,
                attempts,
            },
            SpApiError::Server {
                operation,
                seller_id,
                status,
                ..
            } => SpApiError::Server {
                operation,
                seller_id,
                status,
                attempts,
            },
            other => other,
        })
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        seller: &SellerId,
        op: Operation,
        path: &str,
        query: &[(&str, String)],
        attempt: u32,
        token: Token,
    ) -> Result<T, SpApiError> {
        let (status, body) = match self.send(seller, op, path, query, attempt, token).await? {
            // Amazon's token may die before our cache says: fetch a new one and try once more.
            (403, _) => {
                self.tokens.invalidate(seller).await;
                self.send(seller, op, path, query, attempt, Token::Take)
                    .await?
            }
            other => other,
        };
        let name = op.name();
        let error_code = || {
            let list: ErrorList = serde_json::from_slice(&body).unwrap_or_default();
            list.errors
                .into_iter()
                .next()
                .map(|e| (e.code, e.message.chars().take(200).collect::<String>()))
                .unwrap_or_else(|| ("Unknown".into(), String::new()))
        };
        match status {
            200..=299 => serde_json::from_slice(&body).map_err(|e| SpApiError::Decode {
                operation: name,
                seller_id: seller.clone(),
                reason: crate::domain::serde_reason(&e),
            }),
            401 | 403 => Err(SpApiError::Unauthorized {
                operation: name,
                seller_id: seller.clone(),
                status,
                code: error_code().0,
            }),
            404 => Err(SpApiError::NotFound {
                operation: name,
                seller_id: seller.clone(),
            }),
            429 => Err(SpApiError::Throttled {
                operation: name,
                seller_id: seller.clone(),
                attempts: attempt,
            }),
            500..=599 => Err(SpApiError::Server {
                operation: name,
                seller_id: seller.clone(),
                status,
                attempts: attempt,
            }),
            _ => {
                let (code, message) = error_code();
                Err(SpApiError::Rejected {
                    operation: name,
                    seller_id: seller.clone(),
                    status,
                    code,
                    message,
                })
            }
        }
    }

    async fn send(
        &self,
        seller: &SellerId,
        op: Operation,
        path: &str,
        query: &[(&str, String)],
        attempt: u32,
        budget: Token,
    ) -> Result<(u16, bytes::Bytes), SpApiError> {
        let token = self.tokens.access_token(seller).await?;
        if budget == Token::Take {
            self.take_budget(seller, op).await?;
        }
        let transport = |e: reqwest::Error| SpApiError::Transport {
            operation: op.name(),
            seller_id: seller.clone(),
            // Without the URL: query strings can hold ids we would rather keep out of errors.
            message: e.without_url().to_string(),
        };
        let started = Instant::now();
        let resp = self
            .http
            .get(self.url(path))
            .query(query)
            .header("x-amz-access-token", token.expose_secret())
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let request_id = header("x-amzn-RequestId");
        let rate_limit = header("x-amzn-RateLimit-Limit");
        let body = resp.bytes().await.map_err(transport)?;
        if !rate_limit.is_empty() {
            self.note_reported_rate(seller, op, &rate_limit).await;
        }
        tracing::info!(
            operation = op.name(),
            seller_id = %seller,
            status,
            request_id,
            rate_limit,
            attempt,
            latency_ms = started.elapsed().as_millis() as u64,
            "sp-api response"
        );
        Ok((status, body))
    }
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[async_trait]
impl SpApiOrders for SpApiClient {
    async fn search_orders(
        &self,
        seller: &SellerId,
        search: &OrderSearch,
    ) -> Result<OrdersPage, SpApiError> {
        let marketplaces = search
            .marketplace_ids
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let mut query = vec![
            ("lastUpdatedAfter", iso(search.updated_after)),
            ("lastUpdatedBefore", iso(search.updated_before)),
            ("marketplaceIds", marketplaces),
            ("fulfilledBy", "MERCHANT".to_owned()),
            ("maxResultsPerPage", search.page_size.to_string()),
            ("includedData", INCLUDED_DATA.join(",")),
        ];
        if let Some(page) = &search.page {
            query.push(("paginationToken", page.clone()));
        }
        let resp: SearchOrdersResponse = self
            .call(
                seller,
                Operation::SearchOrders,
                "/orders/2026-01-01/orders",
                &query,
                Token::Take,
            )
            .await?;
        let (mut orders, mut unreadable) = (Vec::new(), Vec::new());
        for raw in &resp.orders {
            match read_listed_order(seller, raw) {
                Ok(order) => orders.push(order),
                Err(u) => unreadable.push(u),
            }
        }
        Ok(OrdersPage {
            orders,
            unreadable,
            next_page: resp.pagination.and_then(|p| p.next_token),
        })
    }

    async fn get_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, SpApiError> {
        self.fetch_order(seller, order, Token::Take).await
    }

    async fn get_order_reserved(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, SpApiError> {
        self.fetch_order(seller, order, Token::Reserved).await
    }
}

impl SpApiClient {
    async fn fetch_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        first: Token,
    ) -> Result<FetchedOrder, SpApiError> {
        let query = [("includedData", INCLUDED_DATA.join(","))];
        let path = format!("/orders/2026-01-01/orders/{order}");
        let resp: GetOrderResponse = self
            .call(seller, Operation::GetOrder, &path, &query, first)
            .await?;
        to_fetched_order(seller, resp.order).map_err(|reason| SpApiError::Decode {
            operation: Operation::GetOrder.name(),
            seller_id: seller.clone(),
            reason,
        })
    }
}
