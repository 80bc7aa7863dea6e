//! `api`'s wiring: API Gateway's HTTP API event (payload 2.0) into an [`ApiRequest`] (the
//! caller from the JWT authorizer's verified claims), the routes' answer back as HTTP.

use super::env::{ConfigError, Env};
use crate::api::{ApiRequest, ApiResponse, Caller, handle};
use crate::aws::DynamoStockLedger;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub stock_table: String,
}

impl ApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            stock_table: env.required("STOCK_TABLE")?,
        })
    }
}

pub struct ApiHandler {
    stock: DynamoStockLedger,
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
        caller,
    }
}

/// The answer as HTTP. Bodies are small JSON documents.
pub fn http_response(answer: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(answer.status)
        .header("content-type", answer.content_type)
        .header("cache-control", "no-store");
    if let Some(allow) = &answer.allow {
        builder = builder.header("allow", allow);
    }
    builder
        .body(Body::Text(answer.body.to_string()))
        .unwrap_or_else(|_| {
            let mut r = Response::new(Body::Empty);
            *r.status_mut() = lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

impl ApiHandler {
    pub fn new(config: ApiConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            stock: DynamoStockLedger::new(aws_sdk_dynamodb::Client::new(sdk), config.stock_table),
        }
    }

    pub async fn handle(&self, event: Request) -> Result<Response<Body>, lambda_http::Error> {
        let req = api_request(&event);
        let (method, route) = (req.method.clone(), req.segments.first().cloned());
        let answer = handle(&self.stock, req).await;
        // Ids and the route's first segment only: a path may carry a SKU, never PII.
        tracing::info!(method, route, status = answer.status, "api request");
        Ok(http_response(answer))
    }
}
