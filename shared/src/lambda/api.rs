//! `api`'s wiring: API Gateway's HTTP API event (payload 2.0) into an [`ApiRequest`] (the
//! caller from the JWT authorizer's verified claims), the routes' answer back as HTTP.

use super::env::{ConfigError, Env};
use crate::api::{ApiBody, ApiRequest, ApiResponse, Caller, Services, handle};
use crate::aws::{
    DynamoAuditLog, DynamoControl, DynamoOrderStore, DynamoStockLedger, KmsPiiVault,
    KmsShipToCorrector, PiiTable, S3ReportArchive, SqsQueue,
};
use crate::kernel::{Clock, SystemClock};
use crate::pii::PiiReader;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub stock_table: String,
    pub orders_table: String,
    pub pii_table: String,
    /// Idempotency keys, label purchase records.
    pub control_table: String,
    /// Every PII read is put here before it happens.
    pub audit_table: String,
    /// The PII key: `api` opens ship-tos and label documents for the roles that need them.
    pub pii_key_id: String,
    pub label_jobs_queue_url: String,
    pub stock_queue_url: String,
    /// Data-subject deletion requests, for the redactor.
    pub deletion_queue_url: String,
    /// Auditor reports asked for, for `audit-report` (a FIFO queue).
    pub report_queue_url: String,
    /// Where `audit-report` keeps them: read back and linked.
    pub reports_bucket: String,
}

impl ApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            stock_table: env.required("STOCK_TABLE")?,
            orders_table: env.required("ORDERS_TABLE")?,
            pii_table: env.required("PII_TABLE")?,
            control_table: env.required("CONTROL_TABLE")?,
            audit_table: env.required("AUDIT_TABLE")?,
            pii_key_id: env.required("PII_KEY_ID")?,
            label_jobs_queue_url: env.required("LABEL_JOBS_QUEUE_URL")?,
            stock_queue_url: env.required("STOCK_QUEUE_URL")?,
            deletion_queue_url: env.required("DELETION_QUEUE_URL")?,
            report_queue_url: env.required("REPORT_QUEUE_URL")?,
            reports_bucket: env.required("REPORTS_BUCKET")?,
        })
    }
}

pub struct ApiHandler {
    stock: DynamoStockLedger,
    orders: DynamoOrderStore,
    control: DynamoControl,
    audit: DynamoAuditLog,
    vault: KmsPiiVault,
    corrector: KmsShipToCorrector,
    label_jobs: SqsQueue,
    stock_changes: SqsQueue,
    deletion_requests: SqsQueue,
    report_requests: SqsQueue,
    reports: S3ReportArchive,
    clock: Arc<dyn Clock>,
}

/// The request as the routes see it. The path is API Gateway's `rawPath` as sent, which it has
/// already percent-decoded (so no id the path carries may hold `/`: SKUs come as a query
/// parameter); the query is parsed from `rawQueryString`, each parameter as often as given.
pub fn api_request(event: &Request) -> ApiRequest {
    let segments = event
        .raw_http_path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let headers = event
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = match event.body() {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.as_bytes().to_vec(),
        Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    };
    let params = event.query_string_parameters();
    let mut query = std::collections::BTreeMap::new();
    let mut repeated = std::collections::BTreeSet::new();
    for (k, v) in params.iter() {
        if query.insert(k.to_owned(), v.to_owned()).is_some() {
            repeated.insert(k.to_owned());
        }
    }
    let caller = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| Caller::from_claims(&jwt.claims)),
        _ => None,
    };
    ApiRequest {
        method: event.method().as_str().to_owned(),
        segments,
        query,
        repeated,
        headers,
        body,
        caller,
    }
}

/// The answer as HTTP: a JSON document, or a document as it prints (a label).
pub fn http_response(answer: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(answer.status)
        .header("content-type", answer.content_type)
        .header("cache-control", "no-store");
    if let Some(allow) = &answer.allow {
        builder = builder.header("allow", allow);
    }
    let body = match answer.body {
        ApiBody::Json(v) => Body::Text(v.to_string()),
        ApiBody::Bytes(b) => Body::Binary(b),
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

impl ApiHandler {
    pub fn new(config: ApiConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clock(config, sdk, Arc::new(SystemClock))
    }

    pub fn with_clock(
        config: ApiConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let vault = KmsPiiVault::new(
            aws_sdk_kms::Client::new(sdk),
            PiiTable::new(dynamo.clone(), config.pii_table),
            config.pii_key_id,
        );
        Self {
            stock: DynamoStockLedger::new(dynamo.clone(), config.stock_table),
            orders: DynamoOrderStore::new(dynamo.clone(), config.orders_table.clone()),
            control: DynamoControl::new(dynamo.clone(), config.control_table),
            audit: DynamoAuditLog::new(dynamo, config.audit_table),
            corrector: KmsShipToCorrector {
                vault: vault.clone(),
                orders_table: config.orders_table,
            },
            vault,
            label_jobs: SqsQueue::new(sqs.clone(), config.label_jobs_queue_url),
            stock_changes: SqsQueue::new(sqs.clone(), config.stock_queue_url),
            deletion_requests: SqsQueue::new(sqs.clone(), config.deletion_queue_url),
            // FIFO, one message group: audit-report makes one report at a time.
            report_requests: SqsQueue::fifo(sqs, config.report_queue_url, "audit-reports"),
            reports: S3ReportArchive::new(sdk, config.reports_bucket),
            clock,
        }
    }

    fn services(&self) -> Services<'_> {
        Services {
            stock: &self.stock,
            orders: &self.orders,
            listing: &self.orders,
            purchases: &self.control,
            reader: PiiReader {
                vault: &self.vault,
                audit: &self.audit,
                clock: self.clock.as_ref(),
            },
            keys: &self.control,
            jobs: &self.label_jobs,
            stock_events: &self.stock_changes,
            corrector: &self.corrector,
            deletion_inbox: &self.deletion_requests,
            deletions: &self.control,
            report_jobs: &self.control,
            report_queue: &self.report_requests,
            reports: &self.reports,
            clock: self.clock.as_ref(),
        }
    }

    pub async fn handle(&self, event: Request) -> Result<Response<Body>, lambda_http::Error> {
        let req = api_request(&event);
        let (method, route) = (req.method.clone(), req.segments.first().cloned());
        let answer = handle(&self.services(), req).await;
        // Ids and the route's first segment only: a path may carry a SKU, never PII.
        tracing::info!(method, route, status = answer.status, "api request");
        Ok(http_response(answer))
    }
}
