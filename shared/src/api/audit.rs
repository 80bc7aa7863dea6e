//! The auditor report over HTTP, for auditors. A report reads CloudTrail at 2 requests a second
//! for minutes, longer than API Gateway waits (30 s): so it is asked for (recorded, queued for
//! `audit-report`), then read back once made. It is kept in the encrypted reports bucket: the
//! answer carries a link that reads it for a few minutes, and a JSON report small enough for a
//! Lambda answer inline as well.

use super::GatewayMessage;
use super::idempotency::{fingerprint, key_of};
use super::orders::store_problem;
use super::{
    ApiRequest, ApiResponse, FieldProblem, Problem, Role, Services, authorize, json_body,
    only_query, path_param,
};
use crate::audit::{Format, REPORT_KEPT_DAYS, ReportJob, ReportRange, ReportStatus, Totals};
use crate::kernel::ReportId;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const AUDITORS: [Role; 1] = [Role::Auditor];
/// A JSON report up to this size comes inline too (a Lambda answer carries 6 MB in all).
pub const INLINE_MAX_BYTES: u64 = 4_000_000;
/// How long a report's link reads it.
pub const LINK_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The range asked when `from` is left out: this long before `to`.
const DEFAULT_DAYS: i64 = 30;

/// An auditor report asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportAsked {
    /// Start of the range (RFC 3339); 30 days before `to` when left out.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (RFC 3339, not included); now when left out. At most 400 days after
    /// `from`.
    pub to: Option<DateTime<Utc>>,
    /// `json` (the default) or `csv`.
    pub format: Option<Format>,
}

/// Where an asked report stands; once ready, how to read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub report_id: ReportId,
    pub status: ReportStatus,
    /// Where this view is read again.
    pub location: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub format: Format,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Why it was given up (ids only).
    pub failure: Option<String>,
    /// The report's totals, once ready.
    pub totals: Option<Totals>,
    pub content_type: Option<String>,
    pub bytes: Option<u64>,
    /// Once ready: reads the report, without a token, until `download_expires_at`.
    pub download_url: Option<String>,
    pub download_expires_at: Option<DateTime<Utc>>,
    /// Once ready, a JSON report of at most 4,000,000 bytes: the report itself.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

impl ReportView {
    fn of(job: ReportJob) -> Self {
        Self {
            location: format!("/audit-reports/{}", job.report_id),
            report_id: job.report_id,
            status: job.status,
            from: job.from,
            to: job.to,
            format: job.format,
            requested_by: job.requested_by,
            requested_at: job.requested_at,
            started_at: job.started_at,
            completed_at: job.completed_at,
            failure: job.failure,
            totals: job.totals,
            content_type: job.document.as_ref().map(|d| d.content_type.clone()),
            bytes: job.document.as_ref().map(|d| d.bytes),
            download_url: None,
            download_expires_at: None,
            report: None,
        }
    }
}

/// The report's id: made from who asked and their key, so asking again is the same report.
fn report_id(actor: &str, key: &str) -> ReportId {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(actor.as_bytes());
    ctx.update(b"\n");
    ctx.update(key.as_bytes());
    let hex: String = ctx.finish().as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ReportId::parse(format!("rpt-{hex}")).unwrap_or_else(|_| unreachable!("rpt- and 32 hex digits"))
}

/// Ask for an auditor report: recorded and queued for `audit-report`, 202 with where to read
/// it. Once per `Idempotency-Key` (and caller): asked again, the same report; one given up
/// (`failed`) is tried afresh.
#[utoipa::path(
    post,
    path = "/audit-reports",
    tag = "audit",
    params(
        ("Idempotency-Key" = String, Header, description = "The caller's key for this report: asked again with the same key and body, the same report", min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$"),
    ),
    request_body(content = ReportAsked, content_type = "application/json"),
    responses(
        (status = 202, description = "Asked (now or before with this key): where it stands", body = ReportView),
        (status = 400, description = "A bad range, format, body or key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not an auditor", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used for another report", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A store or the queue failed for now (ask again with the same key)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ask_report(s: &Services<'_>, req: &ApiRequest) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &AUDITORS)?;
    only_query(req, &[])?;
    let key = key_of(req)?;
    let asked: ReportAsked = json_body(req)?;
    let now = s.clock.now();
    let to = asked.to.unwrap_or(now);
    let from = asked.from.unwrap_or(to - Duration::days(DEFAULT_DAYS));
    if let Err(e) = ReportRange::new(from, to) {
        return Err(Problem::invalid(vec![FieldProblem::new(
            "body/from",
            e.to_string(),
        )]));
    }
    let id = report_id(&caller.actor(), key.as_str());
    let fresh = ReportJob {
        report_id: id.clone(),
        requested_by: caller.actor(),
        requested_at: now,
        request_fingerprint: fingerprint(req),
        from,
        to,
        format: asked.format.unwrap_or_default(),
        status: ReportStatus::Requested,
        attempts: 0,
        started_at: None,
        completed_at: None,
        document: None,
        totals: None,
        failure: None,
    };
    let job = if s.report_jobs.create(&fresh).await.map_err(store_problem)? {
        fresh
    } else {
        let Some(kept) = s.report_jobs.job(&id).await.map_err(store_problem)? else {
            return Err(Problem::unavailable());
        };
        if kept.request_fingerprint != fresh.request_fingerprint {
            return Err(Problem::new(
                422,
                "idempotency-key-reused",
                "This key was used for another request",
            )
            .with_detail("use a new Idempotency-Key for a new report"));
        }
        if kept.status == ReportStatus::Failed {
            // Given up before: asked again, it is tried afresh (most failures pass).
            let again = ReportJob {
                status: ReportStatus::Requested,
                attempts: 0,
                started_at: None,
                completed_at: None,
                failure: None,
                ..kept.clone()
            };
            if !s
                .report_jobs
                .update(&again, &kept)
                .await
                .map_err(store_problem)?
            {
                return Err(Problem::unavailable());
            }
            again
        } else {
            kept
        }
    };
    // Queued while it waits: asked again, it is queued again (a lost send, a crash in
    // between); audit-report makes a report once whatever the copies.
    if job.status == ReportStatus::Requested {
        s.report_queue.submit(&id).await.map_err(|e| {
            tracing::warn!(error = %e, report_id = %id, "report job not queued");
            Problem::unavailable()
        })?;
    }
    Ok(ApiResponse::json(202, &ReportView::of(job)))
}

/// Where an asked report stands; once ready, its totals, a link that reads it for 15 minutes,
/// and a JSON report of at most 4,000,000 bytes inline.
#[utoipa::path(
    get,
    path = "/audit-reports/{report_id}",
    tag = "audit",
    params(
        ("report_id" = String, Path, description = "The report's id, as asking for it answered", min_length = 36, max_length = 36, pattern = "^rpt-[0-9a-f]{32}$"),
    ),
    responses(
        (status = 200, description = "Where the report stands", body = ReportView),
        (status = 400, description = "A bad id, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not an auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report (or expired after 30 days)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The report is no longer kept", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A store failed for now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    s: &Services<'_>,
    req: &ApiRequest,
    report_id: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &AUDITORS)?;
    only_query(req, &[])?;
    let id = path_param("report_id", report_id, ReportId::parse)
        .map_err(|e| Problem::invalid(vec![e]))?;
    let now = s.clock.now();
    // Past its days the record is as good as gone, whenever DynamoDB's TTL removes it.
    let Some(job) = s
        .report_jobs
        .job(&id)
        .await
        .map_err(store_problem)?
        .filter(|j| now < j.requested_at + Duration::days(REPORT_KEPT_DAYS))
    else {
        return Err(Problem::not_found(format!("no report {id}")));
    };
    let document = job
        .document
        .clone()
        .filter(|_| job.status == ReportStatus::Ready);
    let format = job.format;
    let mut view = ReportView::of(job);
    if let Some(d) = document {
        view.download_url = Some(
            s.reports
                .link(&d.key, LINK_VALID_FOR)
                .await
                .map_err(store_problem)?,
        );
        // Who was handed a link, beside the trail's downloads (signed by this function's role).
        tracing::info!(report_id = %id, caller = %caller.actor(), "report link handed out");
        view.download_expires_at = Some(
            now + Duration::from_std(LINK_VALID_FOR).unwrap_or_else(|_| Duration::minutes(15)),
        );
        if format == Format::Json && d.bytes <= INLINE_MAX_BYTES {
            let Some(body) = s.reports.get(&d.key).await.map_err(store_problem)? else {
                return Err(Problem::gone(format!("report {id}: no longer kept")));
            };
            view.report = Some(serde_json::from_slice(&body).map_err(|e| {
                tracing::warn!(error = %e, report_id = %id, "kept report unreadable");
                Problem::unavailable()
            })?);
        }
    }
    Ok(ApiResponse::json(200, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_id_is_the_same_for_the_same_caller_and_key_only() {
        let a = report_id("staff:aud-1", "monthly-2026-11");
        assert_eq!(a, report_id("staff:aud-1", "monthly-2026-11"));
        assert_ne!(a, report_id("staff:aud-2", "monthly-2026-11"));
        assert_ne!(a, report_id("staff:aud-1", "monthly-2026-12"));
        assert!(ReportId::parse(a.to_string()).is_ok());
    }
}
