//! Labels: a package's label document (opened on the audit log first), its void, and a
//! package shipped on the operator's own carrier, each job sent once per idempotency key.

use super::GatewayMessage;
use super::idempotency::{key_of, once};
use super::orders::{reader_problem, seller_and_order, store_problem, stored};
use super::packing::{PACKERS, status_name};
use super::{
    ApiRequest, ApiResponse, FieldProblem, Problem, Services, authorize, json_body, only_query,
    path_param,
};
use crate::kernel::{AmazonOrderId, PackageId, PiiKind, SellerId};
use crate::labels::{
    Carrier, LabelFormat, PackageItem, PurchaseEntry, ShipJob, ShipmentJob, VoidJob,
};
use crate::orders::{Order, OrderStatus};
use crate::pii::OpenedPii;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A job sent to `label-worker`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobSent {
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    pub job_id: String,
    /// `void` or `ship`.
    pub kind: &'static str,
}

fn ids(
    seller: &str,
    order: &str,
    package: &str,
) -> Result<(SellerId, AmazonOrderId, PackageId), Problem> {
    let package = path_param("package_id", package, PackageId::parse);
    match (seller_and_order(seller, order), package) {
        (Ok((s, o)), Ok(p)) => Ok((s, o, p)),
        (ids, p) => {
            let mut errors = ids.err().map(|p| p.errors).unwrap_or_default();
            errors.extend(p.err());
            Err(Problem::invalid(errors))
        }
    }
}

fn content_type(format: LabelFormat) -> &'static str {
    match format {
        LabelFormat::Pdf => "application/pdf",
        LabelFormat::Png => "image/png",
        LabelFormat::Zpl => "application/x-zpl",
    }
}

/// A package's label as it prints (PDF, PNG or ZPL, as the seller's printers take it). It
/// names the recipient: the open is on the audit log, with its purpose, before the PII key is
/// used.
#[utoipa::path(
    get,
    path = "/orders/{seller_id}/{order_id}/labels/{package_id}",
    tag = "labels",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
        ("package_id" = String, Path, description = "The package's id, as packed"),
        ("purpose" = String, Query, description = "`print` (the first time) or `reprint`", pattern = "^(print|reprint)$"),
    ),
    responses(
        (status = 200, description = "The label document", content(
            ("application/pdf"), ("image/png"), ("application/x-zpl"))),
        (status = 400, description = "A bad id or purpose, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a packer or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or no label bought for the package", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The document is no longer held (voided, purged)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read could not be put on record, or a store failed: nothing was opened", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn label_document(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
    package: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &PACKERS)?;
    only_query(req, &["purpose"])?;
    let purpose = match req.query.get("purpose").map(String::as_str) {
        Some(p @ ("print" | "reprint")) => Ok(p),
        Some(_) => Err(FieldProblem::new("query.purpose", "print or reprint")),
        None => Err(FieldProblem::new("query.purpose", "required")),
    };
    let ((seller, order, package), purpose) = match (ids(seller, order, package), purpose) {
        (Ok(ids), Ok(p)) => (ids, p),
        (ids, p) => {
            let mut errors = ids.err().map(|p| p.errors).unwrap_or_default();
            errors.extend(p.err());
            return Err(Problem::invalid(errors));
        }
    };
    stored(s, &seller, &order).await?;
    let format = match s
        .purchases
        .load(&seller, &order, &package)
        .await
        .map_err(store_problem)?
    {
        Some(PurchaseEntry::Purchased(label)) => label.format,
        Some(PurchaseEntry::Voided(_)) => {
            return Err(Problem::gone(format!(
                "package {package} of order {order}: its label was voided"
            )));
        }
        _ => {
            return Err(Problem::not_found(format!(
                "no label bought for package {package} of order {order}"
            )));
        }
    };
    let opened = s
        .reader
        .open(
            &caller.actor(),
            &format!("label: {purpose}"),
            &seller,
            &order,
            PiiKind::Label(package.clone()),
        )
        .await
        .map_err(reader_problem)?;
    match opened {
        Some(OpenedPii::Label(document)) => Ok(ApiResponse::bytes(
            content_type(format),
            document.expose().clone(),
        )),
        _ => Err(Problem::gone(format!(
            "package {package} of order {order}: no label document held"
        ))),
    }
}

/// A route that takes no body refuses one (rather than ignore what the caller meant).
fn no_body(req: &ApiRequest) -> Result<(), Problem> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(())
    } else {
        Err(Problem::invalid_field("body", "this route takes no body"))
    }
}

/// Void a package's bought label (Amazon refunds it while the carrier does not have the
/// parcel). The job names the label on record now, so it never voids one bought since.
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/labels/{package_id}/void",
    tag = "labels",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
        ("package_id" = String, Path, description = "The package's id, as packed"),
        ("Idempotency-Key" = String, Header, description = "The caller's key for this void", min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$"),
    ),
    responses(
        (status = 202, description = "The void job is on its queue", body = JobSent),
        (status = 400, description = "A bad id or key, or a body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a packer or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No live label for the package, or a request with this key is in progress", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A store or queue failed for now (retry with the same key)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn void_label(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
    package: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &PACKERS)?;
    only_query(req, &[])?;
    let (seller, order, package) = ids(seller, order, package)?;
    let key = key_of(req)?;
    no_body(req)?;
    once(s.keys, s.clock, req, &seller, &key, || async {
        stored(s, &seller, &order).await?;
        let label = match s
            .purchases
            .load(&seller, &order, &package)
            .await
            .map_err(store_problem)?
        {
            Some(PurchaseEntry::Purchased(label)) => label,
            _ => {
                return Err(Problem::conflict(
                    "no-live-label",
                    "The package has no bought label to void",
                    format!("package {package} of order {order}"),
                ));
            }
        };
        let job_id = format!("void-{order}-{package}-{}", key.as_str());
        let job = ShipmentJob::Void(VoidJob {
            job_id: job_id.clone(),
            seller_id: seller.clone(),
            order_id: order.clone(),
            package_id: package.clone(),
            shipment_id: Some(label.shipment_id),
            requested_by: caller.actor(),
        });
        send(s, &job).await?;
        Ok(ApiResponse::json(
            202,
            &JobSent {
                order_id: order.clone(),
                package_id: package.clone(),
                job_id,
                kind: "void",
            },
        ))
    })
    .await
}

async fn send(s: &Services<'_>, job: &ShipmentJob) -> Result<(), Problem> {
    s.jobs.send(job).await.map_err(|e| {
        tracing::warn!(error = %e, "shipment job not sent");
        Problem::unavailable()
    })
}

/// A package the operator shipped on its own carrier account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnCarrierRequest {
    /// One of Amazon's carrier codes, exactly as spelt there (`UPS`, `USPS`, `Other`, ...).
    pub carrier_code: String,
    /// Only with `Other`: the carrier's name.
    #[serde(default)]
    pub carrier_name: Option<String>,
    #[serde(default)]
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    /// When it left; absent: now.
    #[serde(default)]
    pub ship_date: Option<DateTime<Utc>>,
    /// The order items in the package; absent or empty: every unit not yet shipped.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<PackageItem>,
}

fn open_units(order: &Order) -> Vec<PackageItem> {
    order
        .lines
        .iter()
        .filter(|l| l.quantity_ordered > l.quantity_shipped)
        .map(|l| PackageItem {
            order_item_id: l.order_item_id.clone(),
            quantity: l.quantity_ordered - l.quantity_shipped,
        })
        .collect()
}

/// Own-carrier ship confirmation: the package's carrier, tracking number and items, sent to
/// `label-worker`, which confirms it to Amazon once.
#[utoipa::path(
    post,
    path = "/orders/{seller_id}/{order_id}/packages/{package_id}/shipped",
    tag = "labels",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
        ("package_id" = String, Path, description = "The package's id, as packed"),
        ("Idempotency-Key" = String, Header, description = "The caller's key for this confirmation", min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$"),
    ),
    request_body(content = OwnCarrierRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "The confirmation job is on its queue", body = JobSent),
        (status = 400, description = "A bad id, key or body (a carrier code Amazon does not know)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a packer or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is not open, or a request with this key is in progress", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A store or queue failed for now (retry with the same key)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn own_carrier_shipped(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
    package: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &PACKERS)?;
    only_query(req, &[])?;
    let (seller, order, package) = ids(seller, order, package)?;
    let key = key_of(req)?;
    let body: OwnCarrierRequest = json_body(req)?;
    let mut errors = Vec::new();
    if let Err(reason) = Carrier::parse(&body.carrier_code, body.carrier_name.as_deref()) {
        let field = reason
            .split(':')
            .next()
            .unwrap_or("carrier_code")
            .to_owned();
        errors.push(FieldProblem::new(format!("body/{field}"), reason));
    }
    let tracking = body.tracking_number.trim();
    if tracking.is_empty() || tracking.len() > 64 {
        errors.push(FieldProblem::new(
            "body/tracking_number",
            "1 to 64 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    once(s.keys, s.clock, req, &seller, &key, || async {
        let now = stored(s, &seller, &order).await?;
        if !now.order.status.is_open() && now.order.status != OrderStatus::Shipped {
            return Err(Problem::conflict(
                "order-status",
                "The order is not open for shipping",
                format!("order {order} is {}", status_name(now.order.status)),
            ));
        }
        let items = if body.items.is_empty() {
            open_units(&now.order)
        } else {
            body.items.clone()
        };
        let job_id = format!("ship-{order}-{package}-{}", key.as_str());
        let job = ShipmentJob::Ship(ShipJob {
            job_id: job_id.clone(),
            seller_id: seller.clone(),
            order_id: order.clone(),
            package_id: package.clone(),
            carrier_code: body.carrier_code.clone(),
            carrier_name: body.carrier_name.clone(),
            shipping_method: body.shipping_method.clone(),
            tracking_number: tracking.to_owned(),
            ship_date: body.ship_date.unwrap_or_else(|| s.clock.now()),
            items,
            requested_by: caller.actor(),
        });
        send(s, &job).await?;
        Ok(ApiResponse::json(
            202,
            &JobSent {
                order_id: order.clone(),
                package_id: package.clone(),
                job_id,
                kind: "ship",
            },
        ))
    })
    .await
}
