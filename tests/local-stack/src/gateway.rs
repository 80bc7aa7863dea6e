//! A stand-in for API Gateway's HTTP API in front of `api`: the JWT authorizer's check of a
//! bearer token (tokens issued here, HS256, one per staff member and their roles, as Cognito
//! would give them), then the request as a payload 2.0 event with the verified claims, through
//! the Runtime API emulator's Invoke API to the real function, and its answer back as HTTP.
//! What API Gateway answers itself, this answers the same way: 401 `{"message":"Unauthorized"}`
//! without a valid token, 413 beyond its 10 MB, 500 `{"message":"Internal Server Error"}` when
//! the function fails. It logs nothing of a request but its method, status and latency.

use crate::functions::{Invocation, Invoker};
use crate::proxy::LocalServer;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::api::Role;
use std::sync::Arc;

const ISSUER: &str = "local-stand-in-user-pool";
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The claims of a token, as a Cognito user pool puts them.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
    iss: String,
    exp: i64,
    token_use: String,
}

struct Inner {
    invoker: Invoker,
    function: String,
    key: Vec<u8>,
}

/// The stand-in, serving on a free loopback port until dropped.
pub struct Gateway {
    server: LocalServer,
    inner: Arc<Inner>,
}

impl Gateway {
    /// Serve `function` (started on the emulator behind `invoker`).
    pub async fn start(invoker: Invoker, function: &str) -> Result<Gateway, String> {
        let key: [u8; 32] = rand::random();
        let inner = Arc::new(Inner {
            invoker,
            function: function.to_owned(),
            key: key.to_vec(),
        });
        let app = Router::new().fallback(forward).with_state(inner.clone());
        let server = LocalServer::start(app).await?;
        Ok(Gateway { server, inner })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A token for staff member `subject` in the groups `roles`, valid for 12 hours.
    pub fn token(&self, subject: &str, roles: &[Role]) -> String {
        let claims = Claims {
            sub: subject.to_owned(),
            groups: roles.iter().map(|r| r.name().to_owned()).collect(),
            iss: ISSUER.to_owned(),
            exp: chrono::Utc::now().timestamp() + 12 * 3600,
            token_use: "access".to_owned(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.inner.key),
        )
        .expect("a token signs")
    }
}

fn plain(status: StatusCode, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(json!({ "message": message }).to_string()))
        .expect("a response")
}

fn verified(inner: &Inner, headers: &HeaderMap) -> Option<Claims> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&inner.key), &validation)
        .ok()
        .map(|d| d.claims)
}

/// The event API Gateway sends for this request: the path percent-decoded (as API Gateway
/// hands it over), the raw query and its decoded parameters (a repeated one joined with
/// commas), headers in lower case, a body that is not UTF-8 as base64.
fn event(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes, claims: &Claims) -> Value {
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let raw_query = uri.query().unwrap_or("").to_owned();
    let mut params = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        let joined = match params.get(k.as_ref()).and_then(Value::as_str) {
            Some(before) => format!("{before},{v}"),
            None => v.into_owned(),
        };
        params.insert(k.into_owned(), json!(joined));
    }
    let mut hs = serde_json::Map::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        let joined = match hs.get(name.as_str()).and_then(Value::as_str) {
            Some(before) => format!("{before},{value}"),
            None => value.to_owned(),
        };
        hs.insert(name.as_str().to_owned(), json!(joined));
    }
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now = chrono::Utc::now();
    let mut e = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": raw_query,
        "headers": hs,
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1",
            "domainPrefix": "local", "requestId": format!("local-{}", rand::random::<u64>()),
            "routeKey": "$default", "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "http": {"method": method.as_str(), "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": hs_user_agent(headers)},
            "authorizer": {"jwt": {"claims": {
                "sub": claims.sub, "cognito:groups": format!("[{}]", claims.groups.join(" ")),
                "iss": claims.iss, "token_use": claims.token_use,
            }, "scopes": null}},
        },
        "isBase64Encoded": base64,
    });
    if !params.is_empty() {
        e["queryStringParameters"] = params.into();
    }
    if !body.is_empty() {
        e["body"] = json!(body);
    }
    e
}

fn hs_user_agent(headers: &HeaderMap) -> String {
    headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The function's answer (payload 2.0 response) as HTTP.
fn answer(resp: &Value) -> Result<Response<Body>, String> {
    let status = resp["statusCode"].as_u64().ok_or("no statusCode")? as u16;
    let mut builder = Response::builder().status(status);
    if let Some(headers) = resp["headers"].as_object() {
        for (k, v) in headers {
            if let Some(v) = v.as_str() {
                builder = builder.header(k, v);
            }
        }
    }
    let text = resp["body"].as_str().unwrap_or("");
    let body = if resp["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| e.to_string())?
    } else {
        text.as_bytes().to_vec()
    };
    builder.body(Body::from(body)).map_err(|e| e.to_string())
}

async fn forward(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if body.len() > MAX_BODY {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let Some(claims) = verified(&inner, &headers) else {
        return plain(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let event = event(&method, &uri, &headers, &body, &claims);
    match inner.invoker.invoke(&inner.function, &event).await {
        Ok(Invocation::Ok(resp)) => answer(&resp)
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")),
        Ok(Invocation::FunctionError { .. }) | Err(_) => {
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}
