//! Tracking that proves itself: every Buy Shipping label is watched until its parcel is
//! delivered. The carrier's first scan moves the order to Shipped; a parcel with no scan a day
//! after its label was bought raises one alert (it is what Amazon's Valid Tracking Rate
//! counts); delivery moves the order to Delivered with the carrier's time, which anchors the
//! PII purge: the order's date and its sealed items' dates are brought forward to it, even when
//! no notification from Amazon says the order was delivered.

use super::error::ShippingError;
use super::ports::Shipping;
use super::worker::{JobError, revise};
use crate::kernel::{AmazonOrderId, Clock, PackageId, SellerId, StoreError};
use crate::orders::{OrderStatus, OrderStore, announce};
use crate::pii::{PiiState, RetentionPolicy, SealedItems};
use crate::stock::{StockChangeKind, StockEvents};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A parcel is due at the carrier within this of its label being bought.
pub const FIRST_SCAN_DUE: Duration = Duration::days(1);

/// The carrier events that mean it has the parcel in hand (Shipping v2 `EventCode`).
const SCANS: [&str; 10] = [
    "PickupDone",
    "Departed",
    "ArrivedAtCarrierFacility",
    "OutForDelivery",
    "DeliveryAttempted",
    "Delivered",
    "AvailableForPickup",
    "RecipientRequestedAlternateDeliveryTiming",
    "Rejected",
    "Undeliverable",
];

/// What a parcel's tracking says so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingReport {
    pub first_scan_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Amazon's summary (`PreTransit`, `InTransit`, `Delivered`, ...).
    pub status: String,
}

impl TrackingReport {
    /// From the carrier's events, `(code, time)`, in any order.
    pub fn from_events<'e>(
        events: impl IntoIterator<Item = (&'e str, DateTime<Utc>)>,
        status: String,
    ) -> Self {
        let mut report = Self {
            first_scan_at: None,
            delivered_at: None,
            status,
        };
        for (code, at) in events {
            if SCANS.contains(&code) {
                report.first_scan_at = Some(report.first_scan_at.map_or(at, |t| t.min(at)));
            }
            if code == "Delivered" {
                report.delivered_at = Some(report.delivered_at.map_or(at, |t| t.max(at)));
            }
        }
        report
    }
}

/// A bought label whose parcel is watched until it is delivered (ids and the carrier's
/// references only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedParcel {
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    /// The Amazon shipping business that sold the label (tracking asks the same).
    pub business: String,
    pub carrier_id: String,
    pub tracking_id: String,
    pub labeled_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_scan_at: Option<DateTime<Utc>>,
    /// When the missing first scan was alerted (once per parcel).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub no_scan_alerted_at: Option<DateTime<Utc>>,
}

/// The parcels being watched, in the control table.
#[async_trait]
pub trait TrackingWatch: Send + Sync {
    /// Start watching `parcel` (a repeat keeps what is on record).
    async fn watch(&self, parcel: &WatchedParcel) -> Result<(), StoreError>;
    /// Every parcel watched.
    async fn watched(&self) -> Result<Vec<WatchedParcel>, StoreError>;
    /// What has been learnt of it (first scan, alert).
    async fn update(&self, parcel: &WatchedParcel) -> Result<(), StoreError>;
    async fn unwatch(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
    ) -> Result<(), StoreError>;
}

/// What one run came to (ids only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrackingRun {
    pub checked: u32,
    pub first_scans: u32,
    pub delivered: u32,
    /// Parcels found without a first scan a day after their label (alerted once each).
    pub no_scan_alerts: Vec<String>,
    /// Parcels whose tracking could not be read this run (tried again next run).
    pub failed: u32,
}

pub struct ShipmentTracker<'a> {
    pub shipping: &'a dyn Shipping,
    pub watch: &'a dyn TrackingWatch,
    pub orders: &'a dyn OrderStore,
    pub sealed: &'a dyn SealedItems,
    pub clock: &'a dyn Clock,
    pub retention: RetentionPolicy,
    /// Where a shipped order's departure is announced (the stock queue).
    pub stock: &'a dyn StockEvents,
}

impl ShipmentTracker<'_> {
    /// Check every watched parcel once.
    pub async fn run(&self) -> Result<TrackingRun, JobError> {
        let mut run = TrackingRun::default();
        let watched = self.watch.watched().await?;
        // Parcels taken off the watch by this run (delivered): an order is delivered with
        // its last parcel, whichever order the run meets them in.
        let mut done: Vec<&WatchedParcel> = Vec::new();
        for parcel in &watched {
            run.checked += 1;
            let report = match self.shipping.track(&parcel.seller_id, parcel).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(seller_id = %parcel.seller_id, order_id = %parcel.order_id, package_id = %parcel.package_id, error_kind = tracking_error_kind(&e), error = %e, "tracking not read");
                    run.failed += 1;
                    continue;
                }
            };
            let in_transit = watched.iter().any(|p| {
                p.seller_id == parcel.seller_id
                    && p.order_id == parcel.order_id
                    && p.package_id != parcel.package_id
                    && !done.contains(&p)
            });
            // One parcel's failure (its order's record, the watch) is its own: the run goes
            // on with the others and this one is checked again next run.
            match self.learn(parcel, &report, in_transit, &mut run).await {
                Ok(delivered) => {
                    if delivered {
                        done.push(parcel);
                    }
                }
                Err(e) => {
                    tracing::warn!(seller_id = %parcel.seller_id, order_id = %parcel.order_id, package_id = %parcel.package_id, error_kind = "tracking_not_recorded", error = %e, "tracking not recorded");
                    run.failed += 1;
                }
            }
        }
        Ok(run)
    }

    /// What `report` says of `parcel`, recorded. `true`: delivered and off the watch.
    async fn learn(
        &self,
        parcel: &WatchedParcel,
        report: &TrackingReport,
        others_in_transit: bool,
        run: &mut TrackingRun,
    ) -> Result<bool, JobError> {
        let now = self.clock.now();
        if let Some(delivered_at) = report.delivered_at {
            if !others_in_transit {
                self.delivered(parcel, delivered_at).await?;
            }
            self.watch
                .unwatch(&parcel.seller_id, &parcel.order_id, &parcel.package_id)
                .await?;
            run.delivered += 1;
            return Ok(true);
        }
        let mut learnt = parcel.clone();
        if let Some(at) = report
            .first_scan_at
            .filter(|_| parcel.first_scan_at.is_none())
        {
            learnt.first_scan_at = Some(at);
            let shipped = std::sync::Mutex::new(None);
            revise(
                self.orders,
                &parcel.seller_id,
                &parcel.order_id,
                None,
                |order, _| {
                    if order.status == OrderStatus::Labeled {
                        order.status = OrderStatus::Shipped;
                    }
                    *shipped.lock().expect("not poisoned") =
                        Some(order.clone()).filter(|o| o.status == OrderStatus::Shipped);
                },
            )
            .await?;
            // The carrier has it: its units leave on hand (once, whoever announces it).
            if let Some(order) = shipped.into_inner().expect("not poisoned") {
                self.stock
                    .publish(&announce(&order, StockChangeKind::Ship, None))
                    .await
                    .map_err(JobError::Stock)?;
            }
            run.first_scans += 1;
        }
        if learnt.first_scan_at.is_none()
            && learnt.no_scan_alerted_at.is_none()
            && now >= parcel.labeled_at + FIRST_SCAN_DUE
        {
            tracing::warn!(seller_id = %parcel.seller_id, order_id = %parcel.order_id, package_id = %parcel.package_id, labeled_at = %parcel.labeled_at, error_kind = "no_first_scan", "no carrier scan a day after the label was bought");
            learnt.no_scan_alerted_at = Some(now);
            run.no_scan_alerts.push(format!(
                "{}/{}/{}",
                parcel.seller_id, parcel.order_id, parcel.package_id
            ));
        }
        if learnt != *parcel {
            self.watch.update(&learnt).await?;
        }
        Ok(false)
    }

    /// The order Delivered at the carrier's time; its purge date (and its sealed items'
    /// dates) brought forward to 30 days from then.
    async fn delivered(
        &self,
        parcel: &WatchedParcel,
        delivered_at: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let now = self.clock.now();
        let retention = self.retention;
        let new_date = std::sync::Mutex::new(None);
        let delivered_order = std::sync::Mutex::new(None);
        revise(
            self.orders,
            &parcel.seller_id,
            &parcel.order_id,
            None,
            |order, pii| {
                order.status = order.status.with_amazon(OrderStatus::Delivered);
                if order.status != OrderStatus::Delivered {
                    return;
                }
                *delivered_order.lock().expect("not poisoned") = Some(order.clone());
                order.delivered_at = Some(
                    order
                        .delivered_at
                        .map_or(delivered_at, |d| d.max(delivered_at)),
                );
                let due = retention.purge_at(&order.retention_facts(now));
                if pii.state == PiiState::Held && due < pii.purge_at {
                    pii.purge_at = due;
                    *new_date.lock().expect("not poisoned") = Some((due, pii.sealed_kinds.clone()));
                }
            },
        )
        .await?;
        // Delivered without a scan on record (or its announcement lost): it left all the same.
        if let Some(order) = delivered_order.into_inner().expect("not poisoned") {
            self.stock
                .publish(&announce(&order, StockChangeKind::Ship, None))
                .await
                .map_err(JobError::Stock)?;
        }
        let brought_forward = new_date.into_inner().expect("not poisoned");
        if let Some((due, kinds)) = brought_forward {
            self.sealed
                .bring_forward(&parcel.seller_id, &parcel.order_id, &kinds, due)
                .await
                .map_err(|e| JobError::Label(e.into()))?;
        }
        Ok(())
    }
}

fn tracking_error_kind(e: &ShippingError) -> &'static str {
    if e.is_retryable() {
        "tracking_unavailable"
    } else {
        "tracking_refused"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_scan_is_the_carriers_first_event_with_the_parcel_in_hand() {
        let t =
            |h: i64| "2026-12-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(h);
        let created = TrackingReport::from_events([("ReadyForReceive", t(0))], "PreTransit".into());
        assert_eq!((created.first_scan_at, created.delivered_at), (None, None));
        let moving = TrackingReport::from_events(
            [
                ("ArrivedAtCarrierFacility", t(9)),
                ("ReadyForReceive", t(0)),
                ("PickupDone", t(4)),
            ],
            "InTransit".into(),
        );
        assert_eq!(moving.first_scan_at, Some(t(4)));
        let done = TrackingReport::from_events(
            [
                ("PickupDone", t(4)),
                ("OutForDelivery", t(50)),
                ("Delivered", t(53)),
            ],
            "Delivered".into(),
        );
        assert_eq!(done.delivered_at, Some(t(53)));
        let canceled = TrackingReport::from_events(
            [("ReadyForReceive", t(0)), ("PickupCancelled", t(1))],
            "PickupCancelled".into(),
        );
        assert_eq!(canceled.first_scan_at, None);
    }
}
