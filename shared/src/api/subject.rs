//! Data-subject requests for an order, as a seller's privacy policy promises them: access
//! (what the suite holds of the order's buyer, as JSON, with its written confirmation), every
//! part opened for it on the audit log, with the request's id, before the PII key is used; and
//! deletion (handed to the redactor, which deletes and confirms in writing; the confirmation
//! read back here).

use super::GatewayMessage;
use super::orders::{OrderView, ShipTo, reader_problem, seller_and_order, shown, stored};
use super::{
    ApiRequest, ApiResponse, FieldProblem, Problem, Role, Services, authorize, json_body,
    only_query, path_param,
};
use crate::kernel::{AmazonOrderId, DeletionRequestId, PackageId, PiiKind, SellerId, StoreError};
use crate::pii::{
    DeletionConfirmation, DeletionRequest, DeletionScope, DeletionStart, OpenedPii, PiiState,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who answers a data-subject request: a supervisor, a role that may see PII (the office's
/// admins do not).
pub const SUBJECT_ANSWERERS: [Role; 1] = [Role::Supervisor];
/// Who reads a deletion's confirmation (ids, dates and counts): supervisors and auditors.
pub const CONFIRMATION_READERS: [Role; 2] = [Role::Supervisor, Role::Auditor];

/// The buyer as Amazon gave them to the suite. PII: no `Debug`, never logged.
#[derive(Serialize, ToSchema)]
pub struct BuyerView {
    pub name: Option<String>,
    pub email: Option<String>,
    pub company_name: Option<String>,
}

/// The written confirmation of an access request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Confirmation {
    pub request_id: String,
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub answered_at: DateTime<Utc>,
    pub answered_by: String,
    /// What the answer holds and when the rest goes, in words for the requester.
    pub statement: String,
}

/// Everything the suite holds of the order's buyer. PII: no `Debug`, never logged.
#[derive(Serialize, ToSchema)]
pub struct SubjectAccess {
    pub confirmation: Confirmation,
    /// The order as the warehouse keeps it (no PII: lines, dates, status, parcels).
    pub order: OrderView,
    /// `None`: not held (never, or purged).
    pub buyer: Option<BuyerView>,
    pub ship_to: Option<ShipTo>,
    /// Packages whose label document (it prints the ship-to) is held sealed until the purge.
    pub label_documents: Vec<PackageId>,
}

/// The request's id as the seller's ticket names it: 1 to 128 of `A-Z a-z 0-9 . _ -`.
fn request_id(req: &ApiRequest) -> Result<String, FieldProblem> {
    match req.query.get("request_id") {
        None => Err(FieldProblem::new("query.request_id", "required")),
        Some(id)
            if (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
        {
            Ok(id.clone())
        }
        Some(_) => Err(FieldProblem::new(
            "query.request_id",
            "1 to 128 of A-Z a-z 0-9 . _ -",
        )),
    }
}

/// A data-subject access request for the order's buyer: the order, the buyer and ship-to as
/// held, the label documents held, and a confirmation saying so and when they go. Each part
/// opened is audited (`data-subject access: <request_id>`) before the key is used.
#[utoipa::path(
    get,
    path = "/orders/{seller_id}/{order_id}/data-subject-access",
    tag = "data-subject requests",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
        ("request_id" = String, Query, description = "The request's id, as the seller's ticket names it", min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]{1,128}$"),
    ),
    responses(
        (status = 200, description = "What the suite holds, with its confirmation", body = SubjectAccess),
        (status = 400, description = "A bad id, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A read could not be put on record, or a store failed: nothing was opened", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn subject_access(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &SUBJECT_ANSWERERS)?;
    only_query(req, &["request_id"])?;
    let ((seller, order), request) = match (seller_and_order(seller, order), request_id(req)) {
        (Ok(ids), Ok(r)) => (ids, r),
        (ids, r) => {
            let mut errors = ids.err().map(|p| p.errors).unwrap_or_default();
            errors.extend(r.err());
            return Err(Problem::invalid(errors));
        }
    };
    let stored = stored(s, &seller, &order).await?;
    let purpose = format!("data-subject access: {request}");
    let (mut buyer, mut ship_to) = (None, None);
    if matches!(stored.pii.state, PiiState::Held) {
        for kind in PiiKind::CUSTOMER {
            let opened = s
                .reader
                .open(&caller.actor(), &purpose, &seller, &order, kind)
                .await
                .map_err(reader_problem)?;
            match opened {
                Some(OpenedPii::Buyer(b)) => {
                    buyer = Some(BuyerView {
                        name: shown(&b.name),
                        email: shown(&b.email),
                        company_name: shown(&b.company_name),
                    });
                }
                Some(OpenedPii::Recipient(a)) => ship_to = Some(ShipTo::of(order.clone(), &a)),
                _ => {}
            }
        }
    }
    // What was opened decides, not the record read before: a purge in between leaves nothing.
    let opened_any = buyer.is_some() || ship_to.is_some();
    let label_documents: Vec<PackageId> = if opened_any {
        stored
            .pii
            .sealed_kinds
            .iter()
            .filter_map(|k| match k {
                PiiKind::Label(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let day = |d: DateTime<Utc>| d.format("%Y-%m-%d").to_string();
    let statement = match &stored.pii.state {
        PiiState::Held if !opened_any => format!(
            "The fulfillment suite holds no personal data of order {order}'s buyer now: it was \
             deleted as this request was answered. The order's lines, dates and parcels are \
             kept without personal data."
        ),
        PiiState::Held => format!(
            "The fulfillment suite holds, for order {order}, the personal data given here (the \
             buyer and the ship-to as Amazon sent them{labels}), sealed under a key only the \
             staff whose work needs them may use, each use recorded. They are deleted on {} \
             (the end of the retention the seller set after delivery) or sooner on a deletion \
             request. The order's lines, dates and parcels are kept without personal data.",
            day(stored.pii.purge_at),
            labels = if label_documents.is_empty() {
                String::new()
            } else {
                format!(
                    ", and {} shipping label(s) printing it",
                    label_documents.len()
                )
            },
        ),
        PiiState::Purged { at, .. } => format!(
            "The fulfillment suite holds no personal data of order {order}'s buyer: it was \
             deleted on {}. The order's lines, dates and parcels are kept without personal data.",
            day(*at)
        ),
        PiiState::None => format!(
            "The fulfillment suite never held personal data of order {order}'s buyer. The \
             order's lines, dates and parcels are kept without personal data."
        ),
    };
    Ok(ApiResponse::json(
        200,
        &SubjectAccess {
            confirmation: Confirmation {
                request_id: request,
                seller_id: seller,
                order_id: order,
                answered_at: s.clock.now(),
                answered_by: caller.actor(),
                statement,
            },
            order: OrderView::from(stored),
            buyer,
            ship_to,
            label_documents,
        },
    ))
}

/// A deletion request for one order's buyer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionAsked {
    /// The request's id, as the seller's ticket names it: asking again with it is the same
    /// request.
    pub request_id: DeletionRequestId,
}

/// Where a deletion request stands, as its written confirmation says (ids, dates, counts).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionView {
    pub request_id: DeletionRequestId,
    /// `in_progress` (taken, handed to the redactor) or `completed`.
    pub status: &'static str,
    /// `order` or `seller`.
    pub scope: &'static str,
    pub seller_id: SellerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<AmazonOrderId>,
    pub requested_by: String,
    pub received_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    pub orders_purged: u64,
    pub pii_items_deleted: u64,
    /// Where to read the confirmation.
    pub confirmation: String,
}

impl DeletionView {
    fn of(c: &DeletionConfirmation) -> DeletionView {
        let (scope, seller_id, order_id) = scope_of(&c.request.scope);
        DeletionView {
            request_id: c.request.request_id.clone(),
            status: if c.completed_at.is_some() {
                "completed"
            } else {
                "in_progress"
            },
            scope,
            seller_id,
            order_id,
            requested_by: c.request.requested_by.clone(),
            received_at: c.received_at,
            completed_at: c.completed_at,
            orders_purged: c.orders_purged,
            pii_items_deleted: c.pii_items_deleted,
            confirmation: confirmation_path(&c.request.request_id),
        }
    }
}

fn scope_of(scope: &DeletionScope) -> (&'static str, SellerId, Option<AmazonOrderId>) {
    match scope {
        DeletionScope::Order {
            seller_id,
            order_id,
        } => ("order", seller_id.clone(), Some(order_id.clone())),
        DeletionScope::Seller { seller_id } => ("seller", seller_id.clone(), None),
    }
}

fn confirmation_path(id: &DeletionRequestId) -> String {
    format!("/data-subject-deletions/{id}")
}

fn ledger_problem(e: StoreError) -> Problem {
    tracing::warn!(error = %e, "deletion ledger failed");
    Problem::unavailable()
}

/// A deletion request for the order's buyer: handed to the redactor, which deletes every
/// sealed item of the order (buyer, ship-to, label documents) and confirms in writing. The
/// request's id makes it once: asking again answers where it stands.
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/data-subject-deletion",
    tag = "data-subject requests",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
    ),
    request_body(content = DeletionAsked, content_type = "application/json"),
    responses(
        (status = 200, description = "Asked before: where it stands", body = DeletionView),
        (status = 202, description = "Handed to the redactor; read the confirmation at `confirmation`", body = DeletionView),
        (status = 400, description = "A bad id or body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request id names another deletion", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger or the queue failed for now (ask again with the same id)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn subject_deletion(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &SUBJECT_ANSWERERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let asked: DeletionAsked = json_body(req)?;
    stored(s, &seller, &order).await?;
    let now = s.clock.now();
    let request = DeletionRequest {
        request_id: asked.request_id.clone(),
        scope: DeletionScope::Order {
            seller_id: seller.clone(),
            order_id: order.clone(),
        },
        requested_by: caller.actor(),
        received_at: Some(now),
    };
    // The id is taken here, conditionally, as the redactor takes it: two requests under one id
    // can never both be handed in.
    match s
        .deletions
        .begin(&request, now)
        .await
        .map_err(ledger_problem)?
    {
        DeletionStart::Conflict => Err(Problem::conflict(
            "request-id-reused",
            "The request id names another deletion",
            format!("request {}: use a new id", asked.request_id),
        )),
        DeletionStart::Completed(c) => Ok(ApiResponse::json(200, &DeletionView::of(&c))),
        // New, or handed in before and not yet done: (again) to the redactor, which carries
        // out a request id once.
        DeletionStart::Proceed(c) => {
            s.deletion_inbox.submit(&c.request).await.map_err(|e| {
                tracing::warn!(error = %e, "deletion request not handed in");
                Problem::unavailable()
            })?;
            Ok(ApiResponse::json(202, &DeletionView::of(&c)))
        }
    }
}

/// A deletion request's written confirmation, as the redactor keeps it.
#[utoipa::path(
    get,
    path = "/data-subject-deletions/{request_id}",
    tag = "data-subject requests",
    params(
        ("request_id" = String, Path, description = "The deletion request's id", min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]{1,128}$"),
    ),
    responses(
        (status = 200, description = "In progress or completed", body = DeletionView),
        (status = 400, description = "A bad id, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a supervisor or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No deletion request of this id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deletion_confirmation(
    s: &Services<'_>,
    req: &ApiRequest,
    request: &str,
) -> Result<ApiResponse, Problem> {
    authorize(req, &CONFIRMATION_READERS)?;
    only_query(req, &[])?;
    let id = path_param("request_id", request, DeletionRequestId::parse)
        .map_err(|e| Problem::invalid(vec![e]))?;
    match s
        .deletions
        .confirmation(&id)
        .await
        .map_err(ledger_problem)?
    {
        Some(c) => Ok(ApiResponse::json(200, &DeletionView::of(&c))),
        None => Err(Problem::not_found(format!("no deletion request {id}"))),
    }
}
