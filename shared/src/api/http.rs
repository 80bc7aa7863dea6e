//! The API's HTTP vocabulary, apart from Lambda: the request as the routes see it, the answer,
//! every error as RFC 9457 problem+json with field-level messages, and the checks every route
//! shares (roles, query parameters, path ids, JSON bodies).

use super::packing::SkuCount;
use super::{Caller, Role};
use crate::kernel::serde_reason;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};

/// The largest request body any route takes. A packing station's job is a few KiB; API
/// Gateway itself would take 10 MB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One HTTP request as the routes see it.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    /// Path segments after the stage (`/stock/A1/levels` → 3 segments).
    pub segments: Vec<String>,
    pub query: BTreeMap<String, String>,
    /// Query parameters given more than once: refused, never one of them picked.
    pub repeated: BTreeSet<String>,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body as sent (empty: none).
    pub body: Vec<u8>,
    /// `None`: no verified token reached the function (the authorizer is bypassed or off).
    pub caller: Option<Caller>,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// An answer's body.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiBody {
    /// `application/json` or `application/problem+json`.
    Json(serde_json::Value),
    /// A document (a label, a packing slip) as it prints.
    Bytes(Vec<u8>),
}

/// One HTTP answer: a status, its content type and body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: ApiBody,
    /// `Allow`, on a 405.
    pub allow: Option<String>,
}

impl ApiResponse {
    pub fn json(status: u16, body: &impl Serialize) -> ApiResponse {
        match serde_json::to_value(body) {
            Ok(body) => ApiResponse {
                status,
                content_type: "application/json",
                body: ApiBody::Json(body),
                allow: None,
            },
            Err(_) => Problem::internal().into(),
        }
    }

    pub fn bytes(content_type: &'static str, body: Vec<u8>) -> ApiResponse {
        ApiResponse {
            status: 200,
            content_type,
            body: ApiBody::Bytes(body),
            allow: None,
        }
    }

    /// The JSON body, if it is one.
    pub fn json_body(&self) -> Option<&serde_json::Value> {
        match &self.body {
            ApiBody::Json(v) => Some(v),
            ApiBody::Bytes(_) => None,
        }
    }
}

/// A field the request got wrong, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Where: `path.<name>`, `query.<name>`, `header.<name>`, or `body` and a JSON pointer
    /// into it (`body/packages/0/weight_grams`).
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What API Gateway answers itself, before the function runs (a missing or invalid token:
/// 401; throttling: 429).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GatewayMessage {
    pub message: String,
}

/// RFC 9457 problem details. `type` is a relative URI naming the problem; `detail` never
/// holds PII (ids only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `/problems/<kind>`.
    #[serde(rename = "type", serialize_with = "problem_uri")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// Scan mismatches only: units of the order not scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Box<Vec<SkuCount>>>,
    /// Scan mismatches only: units scanned that the order does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Box<Vec<SkuCount>>>,
}

fn problem_uri<S: serde::Serializer>(kind: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("/problems/{kind}"))
}

impl Problem {
    pub fn new(status: u16, kind: &'static str, title: &'static str) -> Problem {
        Problem {
            kind,
            title,
            status,
            detail: None,
            errors: Vec::new(),
            missing: None,
            extra: None,
        }
    }

    /// The scans of a parcel do not match its order: what is missing, what is extra.
    pub fn scan_mismatch(order: &str, missing: Vec<SkuCount>, extra: Vec<SkuCount>) -> Problem {
        Problem {
            missing: Some(Box::new(missing)),
            extra: Some(Box::new(extra)),
            ..Problem::new(422, "scan-mismatch", "The scans do not match the order")
                .with_detail(format!("order {order}"))
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    pub fn invalid(errors: Vec<FieldProblem>) -> Problem {
        Problem {
            errors,
            ..Problem::new(400, "invalid-request", "The request is not valid")
        }
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem::invalid(vec![FieldProblem::new(field, message)])
    }

    pub fn unauthenticated() -> Problem {
        Problem::new(401, "unauthenticated", "No verified caller")
    }

    pub fn forbidden(allowed: &[Role]) -> Problem {
        let names: Vec<&str> = allowed.iter().map(|r| r.name()).collect();
        Problem::new(403, "forbidden", "Your role may not do this")
            .with_detail(format!("allowed roles: {}", names.join(", ")))
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(404, "not-found", "Not found").with_detail(detail)
    }

    /// The order (or package) is not where the request needs it to be.
    pub fn conflict(kind: &'static str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(409, kind, title).with_detail(detail)
    }

    /// The PII asked for is no longer held (purged, deleted on request) or never was.
    pub fn gone(detail: impl Into<String>) -> Problem {
        Problem::new(410, "pii-gone", "No longer held").with_detail(detail)
    }

    /// A store or a service that failed for now: no detail (it could name internals).
    pub fn unavailable() -> Problem {
        Problem::new(503, "unavailable", "Try again shortly")
    }

    pub fn internal() -> Problem {
        Problem::new(500, "internal", "Internal error")
    }
}

impl From<Problem> for ApiResponse {
    fn from(p: Problem) -> ApiResponse {
        ApiResponse {
            status: p.status,
            content_type: "application/problem+json",
            body: ApiBody::Json(serde_json::to_value(&p).unwrap_or_default()),
            allow: None,
        }
    }
}

/// The query parameters a route takes; any other is refused, each one named.
pub fn only_query(req: &ApiRequest, known: &[&str]) -> Result<(), Problem> {
    let unknown = req
        .query
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| FieldProblem::new(format!("query.{k}"), "unknown parameter"));
    let repeated = req
        .repeated
        .iter()
        .map(|k| FieldProblem::new(format!("query.{k}"), "given more than once"));
    let unknown: Vec<FieldProblem> = unknown.chain(repeated).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Problem::invalid(unknown))
    }
}

/// The caller, if their roles include one of `allowed`.
pub fn authorize<'a>(req: &'a ApiRequest, allowed: &[Role]) -> Result<&'a Caller, Problem> {
    let caller = req.caller.as_ref().ok_or_else(Problem::unauthenticated)?;
    if caller.may(allowed) {
        Ok(caller)
    } else {
        Err(Problem::forbidden(allowed))
    }
}

/// A path parameter parsed into its newtype, or a field-level problem naming it.
pub fn path_param<T, E: std::fmt::Display>(
    name: &str,
    value: &str,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, FieldProblem> {
    parse(value.to_owned()).map_err(|e| FieldProblem::new(format!("path.{name}"), e.to_string()))
}

/// Every field problem of a request's parts together, or all the parts.
pub fn all_or_problems<A, B>(
    a: Result<A, FieldProblem>,
    b: Result<B, FieldProblem>,
) -> Result<(A, B), Problem> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(Problem::invalid(
            [a.err(), b.err()].into_iter().flatten().collect(),
        )),
    }
}

/// A 405 naming the methods the path takes.
pub fn method_not_allowed(allow: &[&str]) -> ApiResponse {
    let mut r: ApiResponse =
        Problem::new(405, "method-not-allowed", "Method not allowed on this path").into();
    r.allow = Some(allow.join(", "));
    r
}

/// The JSON body of a route that takes one: `application/json`, at most [`MAX_BODY_BYTES`],
/// every field known (the types refuse unknown fields). The problem names the field by JSON
/// pointer and never repeats a value that was sent (it may be PII).
pub fn json_body<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, Problem> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(Problem::new(413, "body-too-large", "The body is too large")
            .with_detail(format!("at most {MAX_BODY_BYTES} bytes")));
    }
    let json = req
        .header("content-type")
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(
            Problem::new(415, "unsupported-media-type", "The body must be JSON")
                .with_detail("content-type: application/json"),
        );
    }
    let mut de = serde_json::Deserializer::from_slice(&req.body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let pointer: String = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
            .collect();
        // A tagged union is read whole before its fields (serde buffers it): the path stops
        // at the union, and a field it misses or does not know is named only in the message.
        let reason = serde_reason(e.inner());
        let named = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|p| reason.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .filter(|name| !pointer.ends_with(&format!("/{name}")))
            .map(|name| format!("/{}", name.replace('~', "~0").replace('/', "~1")))
            .unwrap_or_default();
        Problem::invalid_field(format!("body{pointer}{named}"), reason)
    })?;
    de.end()
        .map_err(|e| Problem::invalid_field("body", serde_reason(&e)))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Job {
        packages: Vec<Pkg>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Pkg {
        weight_grams: u32,
    }

    fn with_body(body: &str, content_type: &str) -> ApiRequest {
        ApiRequest {
            method: "POST".into(),
            headers: [("content-type".to_owned(), content_type.to_owned())].into(),
            body: body.as_bytes().to_vec(),
            ..ApiRequest::default()
        }
    }

    fn field_of(p: &Problem) -> (&str, &str) {
        (p.errors[0].field.as_str(), p.errors[0].message.as_str())
    }

    #[test]
    fn a_body_is_refused_by_field_without_repeating_what_was_sent() {
        let r = with_body(
            r#"{"packages":[{"weight_grams":"Harriet Okafor"}]}"#,
            "application/json",
        );
        let p = json_body::<Job>(&r).unwrap_err();
        let (field, message) = field_of(&p);
        assert_eq!(field, "body/packages/0/weight_grams");
        assert!(!message.contains("Harriet"), "{message}");
        let r = with_body(
            r#"{"packages":[],"ship_to":"x"}"#,
            "application/json; charset=utf-8",
        );
        let p = json_body::<Job>(&r).unwrap_err();
        assert_eq!(p.status, 400);
        assert!(field_of(&p).1.contains("unknown field `ship_to`"), "{p:?}");
        assert_eq!(
            json_body::<Job>(&with_body("{}", "text/plain"))
                .unwrap_err()
                .status,
            415
        );
        let big = format!(
            r#"{{"packages":[],"pad":"{}"}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(
            json_body::<Job>(&with_body(&big, "application/json"))
                .unwrap_err()
                .status,
            413
        );
        assert!(json_body::<Job>(&with_body(r#"{"packages":[]}"#, "application/json")).is_ok());
    }

    #[test]
    fn problems_are_rfc_9457_with_field_errors() {
        let r: ApiResponse = Problem::invalid_field("query.limit", "unknown parameter").into();
        assert_eq!(r.status, 400);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(
            r.json_body().unwrap(),
            &serde_json::json!({
                "type": "/problems/invalid-request",
                "title": "The request is not valid",
                "status": 400,
                "errors": [{"field": "query.limit", "message": "unknown parameter"}],
            })
        );
    }
}
