//! The staff and auditor HTTP API, apart from Lambda: who is calling ([`Caller`], their
//! [`Role`]s from the Cognito groups API Gateway's JWT authorizer passed on), what they ask
//! ([`ApiRequest`]), the answer ([`ApiResponse`]), every error as RFC 9457 problem+json
//! ([`Problem`]), and the OpenAPI 3.1 document generated from the routes ([`openapi`]).
//!
//! This first part serves the stock reads ([`stock`]); orders, packing, labels, data-subject
//! requests and the audit report are still to come (issue 16).

pub mod stock;

use crate::stock::StockLedger;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use utoipa::OpenApi;

/// A job in the warehouse, as a Cognito group names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Picker,
    Packer,
    Supervisor,
    Admin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Picker,
        Role::Packer,
        Role::Supervisor,
        Role::Admin,
        Role::Auditor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Picker => "picker",
            Role::Packer => "packer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    fn parse(group: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == group)
    }
}

/// The caller, as API Gateway's JWT authorizer verified them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`: the staff member the ledger names as actor.
    pub subject: String,
    pub roles: BTreeSet<Role>,
}

impl Caller {
    /// From the verified token's claims. API Gateway passes a list claim as one string,
    /// `[picker packer]`; a JSON array is taken too. Groups that are no role are ignored.
    /// `None` without a subject: nobody to answer for.
    pub fn from_claims(claims: &HashMap<String, String>) -> Option<Caller> {
        let subject = claims.get("sub").filter(|s| !s.is_empty())?.clone();
        let groups = claims
            .get("cognito:groups")
            .map(String::as_str)
            .unwrap_or("");
        let listed: Vec<String> =
            serde_json::from_str::<Vec<String>>(groups).unwrap_or_else(|_| {
                groups
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .split([' ', ','])
                    .map(str::to_owned)
                    .collect()
            });
        let roles = listed
            .iter()
            .filter_map(|g| Role::parse(g.trim()))
            .collect();
        Some(Caller { subject, roles })
    }

    fn may(&self, allowed: &[Role]) -> bool {
        allowed.iter().any(|r| self.roles.contains(r))
    }
}

/// One HTTP request as the routes see it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    /// Percent-decoded path segments after the stage (`/stock/A1/SKU-1` → 3 segments).
    pub segments: Vec<String>,
    pub query: BTreeMap<String, String>,
    /// Query parameters given more than once: refused, never one of them picked.
    pub repeated: BTreeSet<String>,
    /// `None`: no verified token reached the function (the authorizer is bypassed or off).
    pub caller: Option<Caller>,
}

/// One HTTP answer: a status and a JSON body (`application/json` or
/// `application/problem+json`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: serde_json::Value,
    /// `Allow`, on a 405.
    pub allow: Option<String>,
}

impl ApiResponse {
    pub fn json(status: u16, body: &impl Serialize) -> ApiResponse {
        match serde_json::to_value(body) {
            Ok(body) => ApiResponse {
                status,
                content_type: "application/json",
                body,
                allow: None,
            },
            Err(_) => Problem::internal().into(),
        }
    }
}

/// A field the request got wrong, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Where: a path parameter, a query parameter, or a JSON pointer into the body.
    pub field: String,
    pub message: String,
}

/// RFC 9457 problem details. `type` is a relative URI naming the problem; `detail` never
/// holds PII (ids only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

impl Problem {
    fn new(status: u16, kind: &str, title: &str) -> Problem {
        Problem {
            kind: format!("/problems/{kind}"),
            title: title.to_owned(),
            status,
            detail: None,
            errors: Vec::new(),
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
            body: serde_json::to_value(&p).unwrap_or_default(),
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
        .map(|k| FieldProblem {
            field: format!("query.{k}"),
            message: "unknown parameter".into(),
        });
    let repeated = req.repeated.iter().map(|k| FieldProblem {
        field: format!("query.{k}"),
        message: "given more than once".into(),
    });
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
    parse(value.to_owned()).map_err(|e| FieldProblem {
        field: format!("path.{name}"),
        message: e.to_string(),
    })
}

/// A 405 naming the methods the path takes.
pub fn method_not_allowed(allow: &[&str]) -> ApiResponse {
    let mut r: ApiResponse =
        Problem::new(405, "method-not-allowed", "Method not allowed on this path").into();
    r.allow = Some(allow.join(", "));
    r
}

/// One request routed: each route checks the caller's role itself (API Gateway's authorizer
/// only proves who they are).
pub async fn handle(stock: &dyn StockLedger, req: ApiRequest) -> ApiResponse {
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let answer = match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["openapi.json"]) => match serde_json::to_value(openapi()) {
            Ok(doc) => Ok(ApiResponse {
                status: 200,
                content_type: "application/json",
                body: doc,
                allow: None,
            }),
            Err(_) => Err(Problem::internal()),
        },
        ("GET", ["stock", seller, "levels"]) => stock::stock_levels(stock, &req, seller).await,
        ("GET", ["stock", seller, "ledger"]) => stock::stock_ledger(stock, &req, seller).await,
        (_, ["openapi.json"] | ["stock", _, "levels" | "ledger"]) => {
            return method_not_allowed(&["GET"]);
        }
        _ => Err(Problem::not_found("no such route")),
    };
    answer.unwrap_or_else(Into::into)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "FBM fulfillment staff API",
        description = "Warehouse staff, packing stations, the operator's tools and auditors. \
            Every error the API answers is RFC 9457 problem+json; roles come from the caller's \
            Cognito groups. API Gateway itself answers a missing or invalid token (401) and \
            throttling (429) with `{\"message\": ...}` as application/json before the API \
            sees the request. A SKU is a query parameter, never a path segment: API Gateway \
            decodes the path before it arrives, so a SKU holding `/`, `?` or `#` could not be \
            told from the route.",
        license(name = "Apache-2.0")
    ),
    paths(stock::stock_levels, stock::stock_ledger),
    components(schemas(Problem, FieldProblem)),
    modifiers(&BearerAuth),
    security(("cognito" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "cognito",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An ID or access token of the suite's Cognito user pool.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI 3.1 document of the routes, as `GET /openapi.json` serves it and
/// `api/openapi.json` holds it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn roles_come_from_the_cognito_groups_claim_in_either_shape() {
        let c = Caller::from_claims(&claims(&[
            ("sub", "u-1"),
            ("cognito:groups", "[picker packer night-shift]"),
        ]))
        .unwrap();
        assert_eq!(c.roles, [Role::Picker, Role::Packer].into());
        let c = Caller::from_claims(&claims(&[
            ("sub", "u-2"),
            ("cognito:groups", r#"["auditor"]"#),
        ]))
        .unwrap();
        assert_eq!(c.roles, [Role::Auditor].into());
        let none = Caller::from_claims(&claims(&[("sub", "u-3")])).unwrap();
        assert!(none.roles.is_empty());
        assert_eq!(
            Caller::from_claims(&claims(&[("cognito:groups", "[admin]")])),
            None
        );
    }

    #[test]
    fn problems_are_rfc_9457_with_field_errors() {
        let r: ApiResponse = Problem::invalid(vec![FieldProblem {
            field: "query.limit".into(),
            message: "unknown parameter".into(),
        }])
        .into();
        assert_eq!(r.status, 400);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(
            r.body,
            serde_json::json!({
                "type": "/problems/invalid-request",
                "title": "The request is not valid",
                "status": 400,
                "errors": [{"field": "query.limit", "message": "unknown parameter"}],
            })
        );
    }

    /// `UPDATE_OPENAPI=1 cargo test -p shared --lib openapi` writes the document anew.
    #[test]
    fn the_committed_openapi_document_is_the_one_the_code_generates() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/openapi.json");
        let generated = openapi().to_pretty_json().unwrap() + "\n";
        if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "api/openapi.json differs from the code's document: run UPDATE_OPENAPI=1 cargo test -p shared --lib openapi, and commit it"
        );
        let doc: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
