//! Idempotency keys on the routes that send jobs (RFC draft `Idempotency-Key`): a packing
//! station that retries after a lost answer gets the first answer again, and the order is
//! packed and its label job sent once. The key is the caller's; its record holds a
//! fingerprint of the request, so the same key on another request is refused.

use super::{ApiBody, ApiRequest, ApiResponse, FieldProblem, Problem};
use crate::kernel::{Clock, SellerId, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How long a key's answer is kept: a station retries within minutes, not days.
pub const KEPT_FOR: Duration = Duration::hours(24);
/// How long a request in progress holds its key: a Lambda that died half way frees it.
pub const LEASE: Duration = Duration::seconds(60);

/// A key as the caller sent it: 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("1 to 128 visible ASCII characters");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An answer kept under its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptAnswer {
    pub status: u16,
    pub body: serde_json::Value,
}

/// What taking a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyStart {
    /// First use (or a request in progress whose lease ran out): carry it out.
    New,
    /// Done before: answer this again.
    Replay(KeptAnswer),
    /// Another request with this key is being carried out.
    InProgress,
    /// The key was used for a different request.
    Reused,
}

/// Keys and their answers, per seller (the control table, with TTL).
#[async_trait]
pub trait IdempotencyKeys: Send + Sync {
    async fn begin(
        &self,
        seller: &SellerId,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyStart, StoreError>;
    /// Keep `answer` under the key (only while this request holds it).
    async fn finish(
        &self,
        seller: &SellerId,
        key: &IdempotencyKey,
        fingerprint: &str,
        answer: &KeptAnswer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The request ended without an answer worth keeping: the key is free again.
    async fn release(
        &self,
        seller: &SellerId,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<(), StoreError>;
}

/// The request's fingerprint: method, path and body, hashed.
pub(super) fn fingerprint(req: &ApiRequest) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(req.method.as_bytes());
    for s in &req.segments {
        ctx.update(b"/");
        ctx.update(s.as_bytes());
    }
    ctx.update(b"\n");
    ctx.update(&req.body);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `Idempotency-Key` header, required.
pub fn key_of(req: &ApiRequest) -> Result<IdempotencyKey, Problem> {
    match req.header("idempotency-key") {
        None => Err(Problem::invalid_field(
            "header.idempotency-key",
            "required on a route that sends a job",
        )),
        Some(k) => IdempotencyKey::parse(k)
            .map_err(|m| Problem::invalid(vec![FieldProblem::new("header.idempotency-key", m)])),
    }
}

/// Carry out `work` once per key: a 2xx answer is kept and given again to a retry; any other
/// answer frees the key (nothing was done that a retry would not do the same way).
pub async fn once<F, Fut>(
    keys: &dyn IdempotencyKeys,
    clock: &dyn Clock,
    req: &ApiRequest,
    seller: &SellerId,
    key: &IdempotencyKey,
    work: F,
) -> Result<ApiResponse, Problem>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<ApiResponse, Problem>>,
{
    let print = fingerprint(req);
    let unavailable = |e: StoreError| {
        tracing::warn!(error = %e, "idempotency store failed");
        Problem::unavailable()
    };
    match keys
        .begin(seller, key, &print, clock.now())
        .await
        .map_err(unavailable)?
    {
        KeyStart::New => {}
        KeyStart::Replay(kept) => {
            return Ok(ApiResponse {
                status: kept.status,
                content_type: "application/json",
                body: ApiBody::Json(kept.body),
                allow: None,
            });
        }
        KeyStart::InProgress => {
            return Err(Problem::conflict(
                "request-in-progress",
                "A request with this key is in progress",
                "retry after it has answered",
            ));
        }
        KeyStart::Reused => {
            return Err(Problem::new(
                422,
                "idempotency-key-reused",
                "This key was used for another request",
            )
            .with_detail("use a new Idempotency-Key for a new request"));
        }
    }
    let answer = work().await;
    match &answer {
        Ok(r) if (200..300).contains(&r.status) => {
            if let ApiBody::Json(body) = &r.body {
                let kept = KeptAnswer {
                    status: r.status,
                    body: body.clone(),
                };
                // Not kept: the work is done and stands; a retry does it again harmlessly.
                if let Err(e) = keys.finish(seller, key, &print, &kept, clock.now()).await {
                    tracing::warn!(error = %e, "idempotency answer not kept");
                }
            }
        }
        _ => {
            if let Err(e) = keys.release(seller, key, &print).await {
                tracing::warn!(error = %e, "idempotency key not released; its lease frees it");
            }
        }
    }
    answer
}
