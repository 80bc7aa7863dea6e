//! Data-subject requests for an order, as a seller's privacy policy promises them, each with
//! its written confirmation and on the audit log with the request's id before the PII key is
//! used: access (what the suite holds of the order's buyer, as JSON); correction of the
//! ship-to before its label is bought (sealed anew); restriction (the PII opened for the
//! shipment alone); and deletion (handed to the redactor, which deletes and confirms in
//! writing; the confirmation read back here).

use super::GatewayMessage;
use super::orders::{
    OrderView, ShipTo, reader_problem, seller_and_order, shown, store_problem, stored,
};
use super::packing::{MAX_RACES, status_name};
use super::{
    ApiRequest, ApiResponse, Caller, FieldProblem, Problem, Role, Services, authorize, json_body,
    only_query, path_param,
};
use crate::kernel::{
    Address, AmazonOrderId, AuditEvent, AuditKind, PackageId, Pii, PiiKind, SellerId, StoreError,
    SubjectRequestId,
};
use crate::orders::{Correction, OrderStatus, StoredOrder};
use crate::pii::{
    DeletionConfirmation, DeletionRequest, DeletionScope, DeletionStart, OpenedPii, PiiState,
    SubjectRecord,
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
    pub request_id: SubjectRequestId,
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

/// The request's id as the seller's ticket names it, from the query.
fn request_id(req: &ApiRequest) -> Result<SubjectRequestId, FieldProblem> {
    let id = req
        .query
        .get("request_id")
        .ok_or_else(|| FieldProblem::new("query.request_id", "required"))?;
    SubjectRequestId::parse(id.clone())
        .map_err(|e| FieldProblem::new("query.request_id", e.to_string()))
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
    let statement = match &stored.pii.state {
        PiiState::Held if !opened_any => format!(
            "The fulfillment suite holds no personal data of order {order}'s buyer now: it was \
             deleted as this request was answered. The order's lines, dates and parcels are \
             kept without personal data."
        ),
        PiiState::Held => format!(
            "The fulfillment suite holds, for order {order}, the personal data given here ({held}\
             {labels}), sealed under a key only the \
             staff whose work needs them may use, each use recorded. They are deleted on {} \
             (the end of the retention the seller set after delivery) or sooner on a deletion \
             request. The order's lines, dates and parcels are kept without personal data.",
            day(stored.pii.purge_at),
            held = match &stored.pii.ship_to_corrected {
                None => "the buyer and the ship-to as Amazon sent them".to_owned(),
                Some(c) => format!(
                    "the buyer as Amazon sent it, the ship-to as corrected on {} under request {}",
                    day(c.at),
                    c.request_id
                ),
            },
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
    // Said only of data that was there to restrict.
    let statement = match &stored.pii.restricted {
        Some(r) if opened_any => format!(
            "{statement} Since {} (request {}), that data is used for shipping the order and \
             nothing else.",
            day(r.at),
            r.request_id
        ),
        _ => statement,
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
    pub request_id: SubjectRequestId,
}

/// Where a deletion request stands, as its written confirmation says (ids, dates, counts).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionView {
    pub request_id: SubjectRequestId,
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

fn confirmation_path(id: &SubjectRequestId) -> String {
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
    let id = path_param("request_id", request, SubjectRequestId::parse)
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

/// A correction of the order's ship-to, as the buyer asks it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionAsked {
    pub request_id: SubjectRequestId,
    pub ship_to: CorrectedShipTo,
}

/// The ship-to as the buyer corrected it, in Amazon's fields. PII: no `Debug`, never logged;
/// a field problem names the field, never its value. Each field: 1 to 256 characters, no
/// control characters.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectedShipTo {
    #[schema(min_length = 1, max_length = 256)]
    pub name: String,
    #[schema(min_length = 1, max_length = 256)]
    pub company_name: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    pub address_line1: String,
    #[schema(min_length = 1, max_length = 256)]
    pub address_line2: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    pub address_line3: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    pub city: String,
    #[schema(min_length = 1, max_length = 256)]
    pub district_or_county: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    pub state_or_region: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    pub municipality: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, as Amazon gives it (`US`).
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country_code: String,
    #[schema(min_length = 1, max_length = 256)]
    pub phone: Option<String>,
    /// As Amazon's Orders API names it: `RESIDENTIAL`, `COMMERCIAL` or `PICKUP_POINT`.
    #[schema(pattern = "^(RESIDENTIAL|COMMERCIAL|PICKUP_POINT)$")]
    pub address_type: Option<String>,
}

impl CorrectedShipTo {
    /// The address to seal, every field checked (and named, never echoed, when refused).
    fn checked(self) -> Result<Address, Problem> {
        let mut errors = Vec::new();
        let mut field = |name: &str, v: Option<String>| -> Option<Pii<String>> {
            let v = v?;
            let v = v.trim();
            if v.is_empty() || v.chars().count() > 256 || v.chars().any(char::is_control) {
                errors.push(FieldProblem::new(
                    format!("body/ship_to/{name}"),
                    "1 to 256 characters, no control characters",
                ));
                return None;
            }
            Some(Pii::new(v.to_owned()))
        };
        let mut address = Address {
            name: field("name", Some(self.name)),
            company_name: field("company_name", self.company_name),
            address_line1: field("address_line1", Some(self.address_line1)),
            address_line2: field("address_line2", self.address_line2),
            address_line3: field("address_line3", self.address_line3),
            city: field("city", Some(self.city)),
            district_or_county: field("district_or_county", self.district_or_county),
            state_or_region: field("state_or_region", self.state_or_region),
            municipality: field("municipality", self.municipality),
            postal_code: field("postal_code", self.postal_code),
            country_code: None,
            phone: field("phone", self.phone),
            address_type: None,
        };
        let country = self.country_code;
        if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
            address.country_code = Some(Pii::new(country));
        } else {
            errors.push(FieldProblem::new(
                "body/ship_to/country_code",
                "two capital letters (ISO 3166-1 alpha-2)",
            ));
        }
        match self.address_type.as_deref() {
            None => {}
            Some(t @ ("RESIDENTIAL" | "COMMERCIAL" | "PICKUP_POINT")) => {
                address.address_type = Some(Pii::new(t.to_owned()));
            }
            Some(_) => errors.push(FieldProblem::new(
                "body/ship_to/address_type",
                "RESIDENTIAL, COMMERCIAL or PICKUP_POINT",
            )),
        }
        if errors.is_empty() {
            Ok(address)
        } else {
            Err(Problem::invalid(errors))
        }
    }
}

/// A correction or restriction answered: its written confirmation and the order as it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectAnswer {
    pub confirmation: Confirmation,
    pub order: OrderView,
}

fn day(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The answer to a correction or restriction carried out (now, or before under `done`).
fn carried_out(
    done: &SubjectRecord,
    caller: &Caller,
    answered_at: DateTime<Utc>,
    now: StoredOrder,
    statement: String,
) -> ApiResponse {
    ApiResponse::json(
        200,
        &SubjectAnswer {
            confirmation: Confirmation {
                request_id: done.request_id.clone(),
                seller_id: now.order.seller_id.clone(),
                order_id: now.order.order_id.clone(),
                answered_at,
                answered_by: caller.actor(),
                statement,
            },
            order: OrderView::from(now),
        },
    )
}

/// On the audit log before anything is written or sealed: a request that cannot be put on
/// record is not carried out.
async fn put_on_record(
    s: &Services<'_>,
    kind: AuditKind,
    caller: &Caller,
    purpose: &str,
    now: &StoredOrder,
    at: DateTime<Utc>,
) -> Result<(), Problem> {
    s.reader
        .audit
        .record(
            &AuditEvent::new(kind, &caller.actor(), purpose, at)
                .order(&now.order.seller_id, &now.order.order_id),
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "data-subject request not put on record");
            Problem::unavailable()
        })
}

/// Whether the order's ship-to can still be corrected: held, and no label bought from it or
/// being bought (packing sends the label job).
fn correctable(now: &StoredOrder) -> Result<(), Problem> {
    let order = &now.order.order_id;
    let held = now.pii.state == PiiState::Held
        && (now.pii.sealed_kinds.is_empty() || now.pii.sealed_kinds.contains(&PiiKind::Recipient));
    if !held {
        return Err(Problem::gone(format!("order {order}: no ship-to held")));
    }
    match now.order.status {
        OrderStatus::Pending | OrderStatus::Unshipped | OrderStatus::Picking => Ok(()),
        other => Err(Problem::conflict(
            "ship-to-in-use",
            "The ship-to is corrected only before packing: a label is bought for the order",
            format!("order {order} is {}", status_name(other)),
        )),
    }
}

fn correction_statement(
    order: &AmazonOrderId,
    c: &SubjectRecord,
    purge_at: DateTime<Utc>,
) -> String {
    format!(
        "The ship-to of order {order} was corrected on {} as requested (request {}): the \
         address the fulfillment suite held is replaced by the one given, sealed as before. \
         The packing slip and any label the warehouse makes on its own carrier use it; a label \
         bought through Amazon would print Amazon's copy, which this does not change, so the \
         order is not shipped that way. It is deleted on {} with the rest of the order's \
         personal data.",
        day(c.at),
        c.request_id,
        day(purge_at)
    )
}

/// A correction of the order's ship-to before its label is bought: the buyer's address sealed
/// anew under a new data key bound to the order, in place of Amazon's, and the order's record
/// marked corrected, in one transaction over the revision read. On the audit log
/// (`data-subject correction: <request_id>`) before the key is used. Amazon's own copy of the
/// order is not changed: a label bought through Amazon prints that copy, so a corrected order
/// is not packed for one (it ships on the operator's own carrier), and intake never seals
/// Amazon's ship-to over the correction. The same request id again: its confirmation, nothing
/// sealed twice.
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/data-subject-correction",
    tag = "data-subject requests",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
    ),
    request_body(content = CorrectionAsked, content_type = "application/json"),
    responses(
        (status = 200, description = "Corrected (now, or before under this request id), with its written confirmation", body = SubjectAnswer),
        (status = 400, description = "A bad id or body; each bad field named, never echoed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is packed or further: a label is bought for it", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "No ship-to is held (purged, deleted, or never sent)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The correction could not be put on record, or a store or KMS failed: ask again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn subject_correction(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &SUBJECT_ANSWERERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let asked: CorrectionAsked = json_body(req)?;
    let ship_to = asked.ship_to.checked()?;
    let mut now = stored(s, &seller, &order).await?;
    let at = s.clock.now();
    let done = SubjectRecord {
        request_id: asked.request_id,
        at,
        by: caller.actor(),
    };
    let mut recorded = false;
    for _ in 0..MAX_RACES {
        if let Some(c) = now
            .pii
            .ship_to_corrected
            .clone()
            .filter(|c| c.request_id == done.request_id)
        {
            let statement = correction_statement(&order, &c, now.pii.purge_at);
            return Ok(carried_out(&c, caller, at, now, statement));
        }
        correctable(&now)?;
        if !recorded {
            let purpose = format!("data-subject correction: {}", done.request_id);
            put_on_record(s, AuditKind::SubjectCorrection, caller, &purpose, &now, at).await?;
            recorded = true;
        }
        let mut corrected = now.clone();
        corrected.pii.ship_to_corrected = Some(done.clone());
        match s.corrector.correct_ship_to(&corrected, &ship_to).await {
            Ok(Correction::Written(revision)) => {
                corrected.revision = revision;
                let statement = correction_statement(&order, &done, corrected.pii.purge_at);
                return Ok(carried_out(&done, caller, at, corrected, statement));
            }
            // The record moved (intake, a picker, packing): decide again on what it says now.
            Ok(Correction::RecordMoved) => now = stored(s, &seller, &order).await?,
            Ok(Correction::ShipToGone) => {
                return Err(Problem::gone(format!("order {order}: no ship-to held")));
            }
            Err(e) => {
                tracing::warn!(error = %e, "ship-to not corrected");
                return Err(Problem::unavailable());
            }
        }
    }
    Err(Problem::unavailable())
}

/// A restriction asked for the order's buyer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionAsked {
    pub request_id: SubjectRequestId,
}

fn restriction_statement(
    order: &AmazonOrderId,
    r: &SubjectRecord,
    purge_at: DateTime<Utc>,
) -> String {
    format!(
        "Since {} (request {}), the personal data of order {order}'s buyer is kept sealed and \
         used for nothing but shipping the order: its label is printed (bought through Amazon, \
         or made for the operator's own carrier, the one use staff are shown the ship-to for) \
         and the packing slip goes without it. It is deleted on {} (or sooner on a deletion \
         request).",
        day(r.at),
        r.request_id,
        day(purge_at)
    )
}

/// A restriction of the buyer's data to the shipment itself: from now the order's PII stays
/// sealed and opens only for its label (bought through Amazon and printed, or made for the
/// operator's own carrier: the ship-to's `own_carrier_label` purpose) and to answer the buyer's
/// own requests; the packing slip prints without it. Kept on the order's
/// record for good; intake keeps it through Amazon's updates. On the audit log
/// (`data-subject restriction: <request_id>`). Asked again (any id): the restriction standing.
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/data-subject-restriction",
    tag = "data-subject requests",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
    ),
    request_body(content = RestrictionAsked, content_type = "application/json"),
    responses(
        (status = 200, description = "Restricted (now or before), with its written confirmation", body = SubjectAnswer),
        (status = 400, description = "A bad id or body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The restriction could not be put on record, or the store failed: ask again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn subject_restriction(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &SUBJECT_ANSWERERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let asked: RestrictionAsked = json_body(req)?;
    let at = s.clock.now();
    let done = SubjectRecord {
        request_id: asked.request_id,
        at,
        by: caller.actor(),
    };
    let mut recorded = false;
    for _ in 0..MAX_RACES {
        let mut now = stored(s, &seller, &order).await?;
        if let Some(r) = now.pii.restricted.clone() {
            let statement = restriction_statement(&order, &r, now.pii.purge_at);
            return Ok(carried_out(&r, caller, at, now, statement));
        }
        if !recorded {
            let purpose = format!("data-subject restriction: {}", done.request_id);
            put_on_record(s, AuditKind::SubjectRestriction, caller, &purpose, &now, at).await?;
            recorded = true;
        }
        now.pii.restricted = Some(done.clone());
        if let Some(revision) = s
            .orders
            .save(&now.order, now.pii.clone(), Some(now.revision))
            .await
            .map_err(store_problem)?
        {
            now.revision = revision;
            let statement = restriction_statement(&order, &done, now.pii.purge_at);
            return Ok(carried_out(&done, caller, at, now, statement));
        }
    }
    Err(Problem::unavailable())
}
