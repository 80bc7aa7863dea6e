//! The staff and auditor HTTP API, apart from Lambda: who is calling ([`Caller`], their
//! [`Role`]s from the Cognito groups API Gateway's JWT authorizer passed on), what they ask
//! ([`ApiRequest`]), the answer ([`ApiResponse`]), every error as RFC 9457 problem+json
//! ([`Problem`]), the ports the routes use ([`Services`]), and the OpenAPI 3.1 document
//! generated from the routes ([`openapi`]).
//!
//! Served so far: stock reads ([`stock`]), orders and their audited ship-to ([`orders`]), the
//! pick list, scan-to-verify and packed ([`packing`]), label documents, voids and own-carrier
//! confirmations ([`labels`]), staff stock movements ([`stock`]), packing slips ([`slip`]),
//! data-subject requests: access, correction, restriction, deletion ([`subject`]); the auditor
//! report, asked for and read back ([`audit`]).

mod audit;
mod http;
pub mod idempotency;
pub mod labels;
pub mod orders;
pub mod packing;
pub mod slip;
pub mod stock;
pub mod subject;

pub use http::*;
pub use idempotency::{IdempotencyKey, IdempotencyKeys, KeptAnswer, KeyStart};

use crate::audit::{ReportArchive, ReportJobs, ReportQueue};
use crate::kernel::Clock;
use crate::labels::{PurchaseLedger, ShipmentJobs};
use crate::orders::{OrderListing, OrderStore, ShipToCorrector};
use crate::pii::{DeletionInbox, DeletionLedger, PiiReader};
use crate::stock::{StockEvents, StockLedger};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
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

    /// The ledger's and the audit log's name for them.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.subject)
    }

    fn may(&self, allowed: &[Role]) -> bool {
        allowed.iter().any(|r| self.roles.contains(r))
    }
}

/// What the routes work with: the stores, the audited PII reader, the queues, the clock.
pub struct Services<'a> {
    pub stock: &'a dyn StockLedger,
    pub orders: &'a dyn OrderStore,
    pub listing: &'a dyn OrderListing,
    pub purchases: &'a dyn PurchaseLedger,
    pub reader: PiiReader<'a>,
    pub keys: &'a dyn IdempotencyKeys,
    pub jobs: &'a dyn ShipmentJobs,
    pub stock_events: &'a dyn StockEvents,
    /// Ship-tos corrected on a buyer's request.
    pub corrector: &'a dyn ShipToCorrector,
    /// Deletion requests handed to the redactor, and its written confirmations.
    pub deletion_inbox: &'a dyn DeletionInbox,
    pub deletions: &'a dyn DeletionLedger,
    /// Auditor reports asked for, their queue, and the bucket that keeps them.
    pub report_jobs: &'a dyn ReportJobs,
    pub report_queue: &'a dyn ReportQueue,
    pub reports: &'a dyn ReportArchive,
    pub clock: &'a dyn Clock,
}

/// One request routed: each route checks the caller's role itself (API Gateway's authorizer
/// only proves who they are).
pub async fn handle(s: &Services<'_>, req: ApiRequest) -> ApiResponse {
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    let answer = match (method, segments.as_slice()) {
        ("GET", ["openapi.json"]) => match serde_json::to_value(openapi()) {
            Ok(doc) => Ok(ApiResponse {
                status: 200,
                content_type: "application/json",
                body: ApiBody::Json(doc),
                allow: None,
            }),
            Err(_) => Err(Problem::internal()),
        },
        ("POST", ["audit-reports"]) => audit::ask_report(s, &req).await,
        ("GET", ["audit-reports", report]) => audit::report(s, &req, report).await,
        ("GET", ["stock", seller, "levels"]) => stock::stock_levels(s.stock, &req, seller).await,
        ("GET", ["stock", seller, "ledger"]) => stock::stock_ledger(s.stock, &req, seller).await,
        ("POST", ["stock", seller, "movements"]) => stock::record_movement(s, &req, seller).await,
        ("GET", ["orders", seller]) => orders::list_orders(s, &req, seller).await,
        ("GET", ["orders", seller, order]) => orders::get_order(s, &req, seller, order).await,
        ("GET", ["orders", seller, order, "ship-to"]) => {
            orders::ship_to(s, &req, seller, order).await
        }
        ("POST", ["orders", seller, order, "picking"]) => {
            orders::start_picking(s, &req, seller, order).await
        }
        ("GET", ["pick-list", seller]) => packing::pick_list(s, &req, seller).await,
        ("POST", ["orders", seller, order, "verify"]) => {
            packing::verify_scans(s, &req, seller, order).await
        }
        ("POST", ["orders", seller, order, "packed"]) => {
            packing::packed(s, &req, seller, order).await
        }
        ("GET", ["orders", seller, order, "data-subject-access"]) => {
            subject::subject_access(s, &req, seller, order).await
        }
        ("POST", ["orders", seller, order, "data-subject-deletion"]) => {
            subject::subject_deletion(s, &req, seller, order).await
        }
        ("POST", ["orders", seller, order, "data-subject-correction"]) => {
            subject::subject_correction(s, &req, seller, order).await
        }
        ("POST", ["orders", seller, order, "data-subject-restriction"]) => {
            subject::subject_restriction(s, &req, seller, order).await
        }
        ("GET", ["data-subject-deletions", request]) => {
            subject::deletion_confirmation(s, &req, request).await
        }
        ("GET", ["orders", seller, order, "packing-slip"]) => {
            slip::packing_slip_document(s, &req, seller, order).await
        }
        ("GET", ["orders", seller, order, "labels", package]) => {
            labels::label_document(s, &req, seller, order, package).await
        }
        ("POST", ["orders", seller, order, "labels", package, "void"]) => {
            labels::void_label(s, &req, seller, order, package).await
        }
        ("POST", ["orders", seller, order, "packages", package, "shipped"]) => {
            labels::own_carrier_shipped(s, &req, seller, order, package).await
        }
        (
            _,
            ["openapi.json"]
            | ["audit-reports", _]
            | ["stock", _, "levels" | "ledger"]
            | ["orders", _]
            | ["orders", _, _]
            | [
                "orders",
                _,
                _,
                "ship-to" | "packing-slip" | "data-subject-access",
            ]
            | ["pick-list", _]
            | ["data-subject-deletions", _]
            | ["orders", _, _, "labels", _],
        ) => return method_not_allowed(&["GET"]),
        (
            _,
            ["stock", _, "movements"]
            | ["audit-reports"]
            | [
                "orders",
                _,
                _,
                "data-subject-deletion" | "data-subject-correction" | "data-subject-restriction",
            ]
            | ["orders", _, _, "picking" | "verify" | "packed"]
            | ["orders", _, _, "labels", _, "void"]
            | ["orders", _, _, "packages", _, "shipped"],
        ) => return method_not_allowed(&["POST"]),
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
    paths(
        stock::stock_levels,
        stock::stock_ledger,
        stock::record_movement,
        orders::list_orders,
        orders::get_order,
        orders::ship_to,
        orders::start_picking,
        packing::pick_list,
        packing::verify_scans,
        packing::packed,
        slip::packing_slip_document,
        subject::subject_access,
        subject::subject_deletion,
        subject::subject_correction,
        subject::subject_restriction,
        subject::deletion_confirmation,
        labels::label_document,
        labels::void_label,
        labels::own_carrier_shipped,
        audit::ask_report,
        audit::report,
    ),
    components(schemas(Problem, FieldProblem, GatewayMessage)),
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
