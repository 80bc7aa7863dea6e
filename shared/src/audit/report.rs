//! The auditor's report for a time range: who opened which orders' PII (CloudTrail's KMS
//! `Decrypt` records of the PII key, joined with the audit log's reads, so that every open
//! shows both the IAM identity KMS saw and the person and purpose the suite recorded), the
//! calls on the PII key that could open PII unseen or end its protection (re-wrap, grant,
//! policy change, disabling, deletion: each also alarms as it happens), purges,
//! deletion requests with their confirmations, credential changes, past-due alerts, and what
//! PII is held now, the oldest item first. JSON, or CSV with one row per line.
//!
//! Ids, names, dates and counts only: nothing here reads PII.

use crate::audit::TrailError;
use crate::audit::{AccessTrail, KeyCall, KeyOpen};
use crate::kernel::StoreError;
use crate::kernel::{AuditEvent, AuditKind, SubjectRequestId};
use crate::kernel::{AuditLog, Clock};
use crate::pii::DeletionScope;
use crate::pii::VaultError;
use crate::pii::{DeletionLedger, HeldPiiSummary, SealedItems};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The audit table keeps 400 days; a longer range could not be answered in full.
pub const MAX_RANGE_DAYS: i64 = 400;
/// An audited read and its key open belong together when the open follows the read by up to
/// this much (the read is recorded first, then the vault calls KMS)...
const OPEN_AFTER_READ: Duration = Duration::minutes(5);
/// ...or precedes it by up to this much (clocks of Lambda and KMS differ slightly).
const OPEN_BEFORE_READ: Duration = Duration::seconds(30);

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("invalid report range: {0}")]
    Range(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Trail(#[from] TrailError),
    #[error(
        "the report is {bytes} bytes, more than a Lambda answer carries (6 MB): ask for a shorter range"
    )]
    TooLarge { bytes: usize },
}

/// `[from, to)`, checked: from before to, at most [`MAX_RANGE_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReportRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl ReportRange {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, ReportError> {
        if from >= to {
            return Err(ReportError::Range("from must be before to".into()));
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(ReportError::Range(format!(
                "at most {MAX_RANGE_DAYS} days (the audit log's retention)"
            )));
        }
        Ok(Self { from, to })
    }
}

/// One KMS open of an order's data key, with the audited read it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PiiOpen {
    pub at: DateTime<Utc>,
    pub seller_id: Option<String>,
    pub order_id: Option<String>,
    /// The IAM identity KMS saw.
    pub principal: String,
    pub source_ip: Option<String>,
    /// `opened`, or `refused:<errorCode>`.
    pub outcome: String,
    /// The person or function the audit log names for this read, and why. `None`: no audited
    /// read matches this open; someone reached the key outside the suite's reader.
    pub actor: Option<String>,
    pub purpose: Option<String>,
    pub audited_at: Option<DateTime<Utc>>,
    pub cloudtrail_event_id: String,
}

impl PiiOpen {
    pub fn accounted(&self) -> bool {
        self.actor.is_some()
    }
}

/// An audit log event, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub actor: String,
    pub purpose: String,
    pub seller_id: Option<String>,
    pub order_id: Option<String>,
    pub request_id: Option<String>,
    pub count: Option<u64>,
}

impl From<&AuditEvent> for Entry {
    fn from(e: &AuditEvent) -> Self {
        Self {
            at: e.at,
            kind: e.kind,
            actor: e.actor.clone(),
            purpose: e.purpose.clone(),
            seller_id: e.seller_id.as_ref().map(ToString::to_string),
            order_id: e.order_id.as_ref().map(ToString::to_string),
            request_id: e.request_id.as_ref().map(ToString::to_string),
            count: e.count,
        }
    }
}

/// A deletion request seen in the range, with its written confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionEntry {
    pub request_id: String,
    /// `completed`, `in_progress` (taken up, not finished), or `no_confirmation`.
    pub status: &'static str,
    pub scope: Option<&'static str>,
    pub seller_id: Option<String>,
    pub order_id: Option<String>,
    pub requested_by: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub orders_purged: u64,
    pub pii_items_deleted: u64,
    pub refresh_token_deleted: bool,
    pub registry_entry_removed: bool,
}

/// What the trail could answer for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailCoverage {
    /// Opens before this are not in the event history (90 days); the trail's bucket has them.
    pub covered_from: Option<DateTime<Utc>>,
    pub truncated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct Totals {
    pub pii_opens: u64,
    /// Opens with no audited read: to investigate.
    pub pii_opens_unaccounted: u64,
    pub pii_opens_refused: u64,
    /// Re-wraps, grants, policy changes, disabling or deletion of the PII key: each one to
    /// explain.
    pub alarmed_key_calls: u64,
    /// Of those, the ones KMS refused.
    pub alarmed_key_calls_refused: u64,
    /// Audited reads with no open in the trail (nothing to open, or CloudTrail not there yet).
    pub reads_without_key_open: u64,
    pub orders_purged: u64,
    pub pii_items_purged: u64,
    pub orders_deleted_on_request: u64,
    pub deletion_requests: u64,
    pub deletion_requests_completed: u64,
    pub credential_changes: u64,
    pub past_due_alerts: u64,
    /// Ship-tos corrected and orders restricted on a buyer's request.
    pub ship_to_corrections: u64,
    pub restrictions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub totals: Totals,
    pub pii_opens: Vec<PiiOpen>,
    /// Oldest first.
    pub alarmed_key_calls: Vec<KeyCall>,
    pub reads_without_key_open: Vec<Entry>,
    /// Retention purges and deletions on request, one per order.
    pub purges: Vec<Entry>,
    pub deletion_requests: Vec<DeletionEntry>,
    pub credential_changes: Vec<Entry>,
    pub past_due_alerts: Vec<Entry>,
    /// Corrections and restrictions answered, with the request each names (in `purpose`).
    pub subject_requests: Vec<Entry>,
    /// Held now (at `generated_at`), whatever the range.
    pub pii_held: HeldPiiSummary,
    pub cloudtrail: TrailCoverage,
}

/// The report's output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

pub struct AuditReporter<'a> {
    pub audit: &'a dyn AuditLog,
    pub trail: &'a dyn AccessTrail,
    pub ledger: &'a dyn DeletionLedger,
    pub sealed: &'a dyn SealedItems,
    pub clock: &'a dyn Clock,
}

impl AuditReporter<'_> {
    pub async fn report(&self, range: ReportRange) -> Result<AuditReport, ReportError> {
        let generated_at = self.clock.now();
        // Reads just before the range can belong to opens just inside it.
        let events = self
            .audit
            .between(range.from - OPEN_AFTER_READ, range.to)
            .await?;
        let trail = self.trail.pii_key_record(range.from, range.to).await?;
        let (pii_opens, unmatched_reads) = join_opens(&trail.opens, &events, range);
        let in_range = |e: &&AuditEvent| e.at >= range.from && e.at < range.to;
        let of = |kinds: &[AuditKind]| -> Vec<Entry> {
            events
                .iter()
                .filter(in_range)
                .filter(|e| kinds.contains(&e.kind))
                .map(Entry::from)
                .collect()
        };
        let purges = of(&[AuditKind::PiiPurge, AuditKind::PiiDeletion]);
        let credential_changes = of(&[AuditKind::CredentialChange]);
        let past_due_alerts = of(&[AuditKind::PiiPastDue]);
        let subject_requests = of(&[AuditKind::SubjectCorrection, AuditKind::SubjectRestriction]);

        let request_ids: BTreeSet<&SubjectRequestId> = events
            .iter()
            .filter(in_range)
            .filter_map(|e| e.request_id.as_ref())
            .collect();
        let mut deletion_requests = Vec::with_capacity(request_ids.len());
        for id in request_ids {
            deletion_requests.push(match self.ledger.confirmation(id).await? {
                Some(c) => {
                    let (scope, order_id) = match &c.request.scope {
                        DeletionScope::Order { order_id, .. } => {
                            ("order", Some(order_id.to_string()))
                        }
                        DeletionScope::Seller { .. } => ("seller", None),
                    };
                    DeletionEntry {
                        request_id: id.to_string(),
                        status: if c.completed_at.is_some() {
                            "completed"
                        } else {
                            "in_progress"
                        },
                        scope: Some(scope),
                        seller_id: Some(c.request.scope.seller_id().to_string()),
                        order_id,
                        requested_by: Some(c.request.requested_by.clone()),
                        received_at: Some(c.received_at),
                        completed_at: c.completed_at,
                        orders_purged: c.orders_purged,
                        pii_items_deleted: c.pii_items_deleted,
                        refresh_token_deleted: c.refresh_token_deleted,
                        registry_entry_removed: c.registry_entry_removed,
                    }
                }
                None => DeletionEntry {
                    request_id: id.to_string(),
                    status: "no_confirmation",
                    scope: None,
                    seller_id: None,
                    order_id: None,
                    requested_by: None,
                    received_at: None,
                    completed_at: None,
                    orders_purged: 0,
                    pii_items_deleted: 0,
                    refresh_token_deleted: false,
                    registry_entry_removed: false,
                },
            });
        }
        let pii_held = self.sealed.held(generated_at).await?;

        let count = |kind: AuditKind| purges.iter().filter(|p| p.kind == kind).count() as u64;
        let totals = Totals {
            pii_opens: pii_opens.len() as u64,
            pii_opens_unaccounted: pii_opens.iter().filter(|o| !o.accounted()).count() as u64,
            pii_opens_refused: pii_opens.iter().filter(|o| o.outcome != "opened").count() as u64,
            alarmed_key_calls: trail.alarmed_calls.len() as u64,
            alarmed_key_calls_refused: trail
                .alarmed_calls
                .iter()
                .filter(|c| c.error_code.is_some())
                .count() as u64,
            reads_without_key_open: unmatched_reads.len() as u64,
            orders_purged: count(AuditKind::PiiPurge),
            pii_items_purged: purges.iter().filter_map(|p| p.count).sum(),
            orders_deleted_on_request: count(AuditKind::PiiDeletion),
            deletion_requests: deletion_requests.len() as u64,
            deletion_requests_completed: deletion_requests
                .iter()
                .filter(|d| d.status == "completed")
                .count() as u64,
            credential_changes: credential_changes.len() as u64,
            past_due_alerts: past_due_alerts.len() as u64,
            ship_to_corrections: subject_requests
                .iter()
                .filter(|e| e.kind == AuditKind::SubjectCorrection)
                .count() as u64,
            restrictions: subject_requests
                .iter()
                .filter(|e| e.kind == AuditKind::SubjectRestriction)
                .count() as u64,
        };
        Ok(AuditReport {
            from: range.from,
            to: range.to,
            generated_at,
            totals,
            pii_opens,
            alarmed_key_calls: trail.alarmed_calls,
            reads_without_key_open: unmatched_reads,
            purges,
            deletion_requests,
            credential_changes,
            past_due_alerts,
            subject_requests,
            pii_held,
            cloudtrail: TrailCoverage {
                covered_from: trail.covered_from,
                truncated: trail.truncated,
            },
        })
    }
}

/// Pair each key open with the audited read of the same order just before it (each read
/// pairs once). Returns the opens, and the reads in the range no open pairs with.
fn join_opens(
    opens: &[KeyOpen],
    events: &[AuditEvent],
    range: ReportRange,
) -> (Vec<PiiOpen>, Vec<Entry>) {
    let mut reads: BTreeMap<(String, String), Vec<(usize, &AuditEvent)>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if e.kind != AuditKind::PiiRead {
            continue;
        }
        if let (Some(s), Some(o)) = (&e.seller_id, &e.order_id) {
            reads
                .entry((s.to_string(), o.to_string()))
                .or_default()
                .push((i, e));
        }
    }
    let mut used = BTreeSet::new();
    let mut joined = Vec::with_capacity(opens.len());
    for open in opens {
        let read = match (&open.seller_id, &open.order_id) {
            (Some(s), Some(o)) => reads.get(&(s.clone(), o.clone())).and_then(|rs| {
                // The latest read before the open (events are oldest first).
                rs.iter()
                    .rfind(|(i, r)| {
                        !used.contains(i)
                            && open.at >= r.at - OPEN_BEFORE_READ
                            && open.at <= r.at + OPEN_AFTER_READ
                    })
                    .copied()
            }),
            _ => None,
        };
        if let Some((i, _)) = read {
            used.insert(i);
        }
        joined.push(PiiOpen {
            at: open.at,
            seller_id: open.seller_id.clone(),
            order_id: open.order_id.clone(),
            principal: open.principal.clone(),
            source_ip: open.source_ip.clone(),
            outcome: match &open.error_code {
                None => "opened".into(),
                Some(code) => format!("refused:{code}"),
            },
            actor: read.map(|(_, r)| r.actor.clone()),
            purpose: read.map(|(_, r)| r.purpose.clone()),
            audited_at: read.map(|(_, r)| r.at),
            cloudtrail_event_id: open.event_id.clone(),
        });
    }
    let unmatched = reads
        .values()
        .flatten()
        .filter(|(i, r)| !used.contains(i) && r.at >= range.from && r.at < range.to)
        .map(|(_, r)| Entry::from(*r))
        .collect();
    (joined, unmatched)
}

/// One CSV line: every section of the report in one flat table, `section` first.
#[derive(Serialize)]
struct Row {
    section: &'static str,
    at: Option<DateTime<Utc>>,
    seller_id: Option<String>,
    order_id: Option<String>,
    actor: Option<String>,
    principal: Option<String>,
    purpose: Option<String>,
    request_id: Option<String>,
    count: Option<u64>,
    status: Option<String>,
    detail: Option<String>,
}

impl Row {
    fn new(section: &'static str, at: Option<DateTime<Utc>>) -> Self {
        Self {
            section,
            at,
            seller_id: None,
            order_id: None,
            actor: None,
            principal: None,
            purpose: None,
            request_id: None,
            count: None,
            status: None,
            detail: None,
        }
    }

    fn entry(section: &'static str, e: &Entry) -> Self {
        Self {
            seller_id: e.seller_id.clone(),
            order_id: e.order_id.clone(),
            actor: Some(e.actor.clone()),
            purpose: Some(e.purpose.clone()),
            request_id: e.request_id.clone(),
            count: e.count,
            status: Some(
                serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ),
            ..Self::new(section, Some(e.at))
        }
    }

    /// A cell a spreadsheet would run as a formula gets a leading quote (CSV injection).
    fn defused(mut self) -> Self {
        for cell in [
            &mut self.seller_id,
            &mut self.order_id,
            &mut self.actor,
            &mut self.principal,
            &mut self.purpose,
            &mut self.request_id,
            &mut self.status,
            &mut self.detail,
        ]
        .into_iter()
        .flatten()
        {
            if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                cell.insert(0, '\'');
            }
        }
        self
    }
}

impl AuditReport {
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut rows = Vec::new();
        for o in &self.pii_opens {
            rows.push(Row {
                seller_id: o.seller_id.clone(),
                order_id: o.order_id.clone(),
                actor: o.actor.clone(),
                principal: Some(o.principal.clone()),
                purpose: o.purpose.clone(),
                status: Some(o.outcome.clone()),
                detail: Some(format!(
                    "cloudtrail event {}{}",
                    o.cloudtrail_event_id,
                    if o.accounted() {
                        ""
                    } else {
                        "; no audited read"
                    }
                )),
                ..Row::new("pii_open", Some(o.at))
            });
        }
        for c in &self.alarmed_key_calls {
            rows.push(Row {
                seller_id: c.seller_id.clone(),
                order_id: c.order_id.clone(),
                principal: Some(c.principal.clone()),
                status: Some(match &c.error_code {
                    None => "done".into(),
                    Some(code) => format!("refused:{code}"),
                }),
                detail: Some(format!(
                    "{} (cloudtrail event {}){}",
                    c.call.event_name(),
                    c.event_id,
                    c.detail
                        .as_deref()
                        .map(|d| format!("; {d}"))
                        .unwrap_or_default()
                )),
                ..Row::new("alarmed_key_call", Some(c.at))
            });
        }
        for e in &self.reads_without_key_open {
            rows.push(Row::entry("read_without_key_open", e));
        }
        for e in &self.purges {
            rows.push(Row::entry("purge", e));
        }
        for d in &self.deletion_requests {
            rows.push(Row {
                seller_id: d.seller_id.clone(),
                order_id: d.order_id.clone(),
                actor: d.requested_by.clone(),
                purpose: d.scope.map(|s| format!("deletion by {s}")),
                request_id: Some(d.request_id.clone()),
                count: Some(d.pii_items_deleted),
                status: Some(d.status.into()),
                detail: Some(format!(
                    "received {}; completed {}; orders {}; refresh token deleted {}; registry entry removed {}",
                    d.received_at.map_or("-".into(), |t| t.to_rfc3339()),
                    d.completed_at.map_or("-".into(), |t| t.to_rfc3339()),
                    d.orders_purged,
                    d.refresh_token_deleted,
                    d.registry_entry_removed
                )),
                ..Row::new("deletion_request", d.completed_at.or(d.received_at))
            });
        }
        for e in &self.credential_changes {
            rows.push(Row::entry("credential_change", e));
        }
        for e in &self.past_due_alerts {
            rows.push(Row::entry("pii_past_due", e));
        }
        for e in &self.subject_requests {
            let line = match e.kind {
                AuditKind::SubjectCorrection => "subject_correction",
                _ => "subject_restriction",
            };
            rows.push(Row::entry(line, e));
        }
        let held = &self.pii_held;
        rows.push(Row {
            seller_id: held.oldest.as_ref().map(|o| o.seller_id.to_string()),
            order_id: held.oldest.as_ref().map(|o| o.order_id.to_string()),
            count: Some(held.items),
            detail: Some(match &held.oldest {
                Some(o) => format!(
                    "{} items of {} orders held, {} past due; oldest: {} item sealed {}, purge {}",
                    held.items,
                    held.orders,
                    held.items_past_due,
                    o.kind.name(),
                    o.sealed_at.to_rfc3339(),
                    o.purge_at.to_rfc3339()
                ),
                None => "no PII held".into(),
            }),
            ..Row::new("pii_held", Some(self.generated_at))
        });
        rows.push(Row {
            status: Some(if self.cloudtrail.truncated {
                "truncated".into()
            } else {
                "complete".into()
            }),
            detail: self
                .cloudtrail
                .covered_from
                .filter(|c| *c > self.from)
                .map(|c| {
                    format!(
                        "KMS opens before {} are not in CloudTrail's event history; see the trail's bucket",
                        c.to_rfc3339()
                    )
                }),
            ..Row::new("cloudtrail_coverage", self.cloudtrail.covered_from)
        });
        let mut out = csv::Writer::from_writer(Vec::new());
        for row in rows {
            out.serialize(row.defused())?;
        }
        let bytes = out.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{AmazonOrderId, SellerId};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn read(at: &str, order: &str, actor: &str) -> AuditEvent {
        AuditEvent::new(AuditKind::PiiRead, actor, "label print", t(at)).order(
            &SellerId::parse("A1SELLER").unwrap(),
            &AmazonOrderId::parse(order).unwrap(),
        )
    }

    fn open(id: &str, at: &str, order: Option<&str>, error: Option<&str>) -> KeyOpen {
        KeyOpen {
            event_id: id.into(),
            at: t(at),
            principal: "arn:aws:sts::111122223333:assumed-role/api/api".into(),
            source_ip: None,
            seller_id: order.map(|_| "A1SELLER".into()),
            order_id: order.map(str::to_owned),
            error_code: error.map(str::to_owned),
        }
    }

    const O1: &str = "113-0000000-0000001";
    const O2: &str = "113-0000000-0000002";

    #[test]
    fn each_open_pairs_with_the_read_of_its_order_just_before_it() {
        let range = ReportRange::new(t("2026-11-20T00:00:00Z"), t("2026-11-21T00:00:00Z")).unwrap();
        let events = vec![
            read("2026-11-20T09:00:00Z", O1, "alice"),
            read("2026-11-20T10:00:00Z", O1, "bob"),
            read("2026-11-20T10:00:01Z", O2, "carol"),
            // Recorded, but nothing was opened (the item was gone).
            read("2026-11-20T12:00:00Z", O2, "dave"),
        ];
        let opens = vec![
            open("e1", "2026-11-20T09:00:00.400Z", Some(O1), None),
            open("e2", "2026-11-20T10:00:00.300Z", Some(O1), None),
            open(
                "e3",
                "2026-11-20T10:00:01.200Z",
                Some(O2),
                Some("AccessDenied"),
            ),
            // An hour after the last read of O1: nobody recorded it.
            open("e4", "2026-11-20T11:00:00Z", Some(O1), None),
            open("e5", "2026-11-20T11:30:00Z", None, None),
        ];
        let (joined, unmatched) = join_opens(&opens, &events, range);
        let actors: Vec<_> = joined.iter().map(|o| o.actor.as_deref()).collect();
        assert_eq!(
            actors,
            [Some("alice"), Some("bob"), Some("carol"), None, None]
        );
        assert_eq!(joined[2].outcome, "refused:AccessDenied");
        assert_eq!(unmatched.len(), 1);
        assert_eq!(unmatched[0].actor, "dave");
    }

    #[test]
    fn a_read_pairs_with_one_open_only() {
        let range = ReportRange::new(t("2026-11-20T00:00:00Z"), t("2026-11-21T00:00:00Z")).unwrap();
        let events = vec![read("2026-11-20T09:00:00Z", O1, "alice")];
        let opens = vec![
            open("e1", "2026-11-20T09:00:00.100Z", Some(O1), None),
            open("e2", "2026-11-20T09:00:00.200Z", Some(O1), None),
        ];
        let (joined, _) = join_opens(&opens, &events, range);
        assert!(joined[0].accounted());
        assert!(
            !joined[1].accounted(),
            "a second open needs a second audited read"
        );
    }

    #[test]
    fn ranges_are_checked() {
        let now = t("2026-11-20T00:00:00Z");
        assert!(ReportRange::new(now, now).is_err());
        assert!(ReportRange::new(now, now - Duration::hours(1)).is_err());
        assert!(ReportRange::new(now - Duration::days(401), now).is_err());
        assert!(ReportRange::new(now - Duration::days(400), now).is_ok());
    }

    #[test]
    fn csv_has_one_row_per_line_and_defuses_formulas() {
        let at = t("2026-11-20T10:00:00Z");
        let report = AuditReport {
            from: at - Duration::days(1),
            to: at,
            generated_at: at,
            totals: Totals::default(),
            pii_opens: vec![],
            alarmed_key_calls: vec![KeyCall {
                event_id: "e9".into(),
                at,
                call: crate::audit::AlarmedCall::ReEncrypt,
                principal: "arn:aws:iam::111122223333:user/admin".into(),
                source_ip: None,
                seller_id: Some("A1SELLER".into()),
                order_id: Some(O1.into()),
                detail: Some("to arn:aws:kms:us-east-1:111122223333:key/other".into()),
                error_code: Some("AccessDeniedException".into()),
            }],
            reads_without_key_open: vec![],
            purges: vec![Entry {
                at,
                kind: AuditKind::PiiPurge,
                actor: "=HYPERLINK(\"x\")".into(),
                purpose: "retention".into(),
                seller_id: Some("A1SELLER".into()),
                order_id: Some(O1.into()),
                request_id: None,
                count: Some(2),
            }],
            deletion_requests: vec![],
            credential_changes: vec![],
            past_due_alerts: vec![],
            subject_requests: vec![],
            pii_held: HeldPiiSummary::default(),
            cloudtrail: TrailCoverage {
                covered_from: Some(at - Duration::days(1)),
                truncated: false,
            },
        };
        let csv = report.to_csv().unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(&headers[0], "section");
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let sections: Vec<_> = rows.iter().map(|r| r[0].to_owned()).collect();
        assert_eq!(
            sections,
            [
                "alarmed_key_call",
                "purge",
                "pii_held",
                "cloudtrail_coverage"
            ]
        );
        let actor = headers.iter().position(|h| h == "actor").unwrap();
        assert_eq!(&rows[1][actor], "'=HYPERLINK(\"x\")");
        let status = headers.iter().position(|h| h == "status").unwrap();
        assert_eq!(&rows[1][status], "pii_purge");
        assert_eq!(&rows[0][status], "refused:AccessDeniedException");
        let detail = headers.iter().position(|h| h == "detail").unwrap();
        assert_eq!(
            &rows[0][detail],
            "ReEncrypt (cloudtrail event e9); to arn:aws:kms:us-east-1:111122223333:key/other"
        );
    }
}
