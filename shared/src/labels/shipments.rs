//! After the label: a bought label voided, and a package shipped on the operator's own
//! carrier confirmed to Amazon. Both go through the package's one record in the ledger, so a
//! package is voided once, confirmed under one package reference, and never both bought and
//! confirmed. Every check on the job is made before Amazon is asked anything.

use super::carriers::Carrier;
use super::error::ShippingError;
use super::jobs::{SettleJob, ShipJob, VoidJob};
use super::model::{OwnCarrierShipment, PurchaseEntry, VoidedLabel};
use super::ports::VoidWrite;
use super::purchase::{LEASE, LabelError};
use super::worker::{JobError, JobOutcome, LabelWorker, check_items, refused};
use crate::kernel::{AuditEvent, AuditKind, PiiKind};
use crate::orders::{OrderStatus, Parcel, ShippedBy, StoredOrder, announce};
use crate::pii::PurgeScope;
use crate::stock::StockChangeKind;
use chrono::Duration;

/// A ship date may be this far ahead of the clock (a parcel handed over this evening, sent
/// with tomorrow's date by a station in another time zone), no further.
const SHIP_DATE_AHEAD: Duration = Duration::days(1);

fn shipping(e: ShippingError) -> JobError {
    JobError::Label(LabelError::Shipping(e))
}

impl LabelWorker<'_> {
    async fn stored(
        &self,
        job_order: (&crate::kernel::SellerId, &crate::kernel::AmazonOrderId),
    ) -> Result<StoredOrder, JobError> {
        let (seller, order_id) = job_order;
        self.orders
            .load(seller, order_id)
            .await?
            .ok_or_else(|| JobError::OrderNotStored {
                order_id: order_id.to_string(),
            })
    }

    /// Void the package's label on Amazon, delete its sealed document, audit it, and take the
    /// order back to Packed when no label of it remains. A repeat finishes what a first run
    /// left and asks Amazon nothing more; a job that names its label's shipment never voids a
    /// label bought after it.
    pub async fn void(&self, job: &VoidJob) -> Result<JobOutcome, JobError> {
        let (seller, order_id, package) = (&job.seller_id, &job.order_id, &job.package_id);
        self.stored((seller, order_id)).await?;
        let ledger = self.purchase.ledger;
        let now_voided = match ledger.load(seller, order_id, package).await? {
            None | Some(PurchaseEntry::Abandoned { .. }) => {
                return Ok(refused(
                    "no_label",
                    format!("order {order_id} package {package} has no label to void"),
                ));
            }
            Some(PurchaseEntry::OwnCarrier(_)) => {
                return Ok(refused(
                    "own_carrier",
                    format!(
                        "order {order_id} package {package} ships on the operator's own carrier: no label to void"
                    ),
                ));
            }
            // Being bought: voided once it is on record (the job waits).
            Some(PurchaseEntry::InProgress(a)) => {
                return Err(JobError::Label(LabelError::Busy {
                    order_id: order_id.to_string(),
                    package_id: package.to_string(),
                    key: a.idempotency_key,
                }));
            }
            // The label the job names is gone already; the one on record (bought since) is
            // not this job's to void.
            Some(
                PurchaseEntry::Voided(VoidedLabel { label, .. }) | PurchaseEntry::Purchased(label),
            ) if job
                .shipment_id
                .as_deref()
                .is_some_and(|named| named != label.shipment_id) =>
            {
                return Ok(JobOutcome::Voided { now: false });
            }
            // Voided before: what the first run left is finished below.
            Some(PurchaseEntry::Voided(_)) => {
                self.clear_label(job).await?;
                false
            }
            Some(PurchaseEntry::Purchased(label)) => {
                match self.purchase.shipping.cancel(seller, &label).await {
                    Ok(()) => {}
                    Err(ShippingError::Refused { code, .. }) => {
                        return Ok(refused(
                            "void_refused",
                            format!(
                                "Amazon refused to void shipment {} of order {order_id} package {package} ({code}): \
                                 a label the carrier has collected can no longer be voided",
                                label.shipment_id
                            ),
                        ));
                    }
                    Err(e) => return Err(shipping(e)),
                }
                // Off the watch and its document gone before the record says voided, so that
                // a label bought after the void never finds the old document in its place.
                self.clear_label(job).await?;
                let at = self.purchase.clock.now();
                match ledger
                    .void(seller, order_id, package, &label.idempotency_key, at)
                    .await?
                {
                    // Audited by the one process whose write voided it (copies of the job
                    // that ran alongside find it voided and audit nothing).
                    VoidWrite::Voided => {
                        let event = AuditEvent::new(
                            AuditKind::LabelVoided,
                            &job.requested_by,
                            "label voided",
                            at,
                        )
                        .order(seller, order_id)
                        .count(1);
                        self.audit.record(&event).await?;
                        true
                    }
                    VoidWrite::AlreadyVoided => false,
                    VoidWrite::Other => {
                        return Err(JobError::Contended {
                            order_id: order_id.to_string(),
                        });
                    }
                }
            }
        };
        let kind = PiiKind::Label(package.clone());
        let labels_left = ledger
            .entries(seller, order_id)
            .await?
            .iter()
            .any(|(_, e)| {
                matches!(
                    e,
                    PurchaseEntry::Purchased(_) | PurchaseEntry::InProgress(_)
                )
            });
        self.revise(seller, order_id, |order, pii| {
            pii.sealed_kinds.retain(|k| *k != kind);
            order.parcels.retain(|p| p.package_id != *package);
            if !labels_left {
                order.status = order.status.unlabel();
            }
        })
        .await?;
        Ok(JobOutcome::Voided { now: now_voided })
    }

    /// A voided label's parcel off the tracker's watch and its sealed document deleted.
    async fn clear_label(&self, job: &VoidJob) -> Result<(), JobError> {
        let (seller, order_id, package) = (&job.seller_id, &job.order_id, &job.package_id);
        self.watch.unwatch(seller, order_id, package).await?;
        self.sealed
            .purge(
                seller,
                order_id,
                PurgeScope::Kinds(vec![PiiKind::Label(package.clone())]),
            )
            .await
            .map_err(|e| JobError::Label(LabelError::Vault(e)))?;
        Ok(())
    }

    /// Settle a purchase left unresolved, as the operator found it at Amazon: bought (the
    /// document fetched, sealed and recorded, the order Labeled) or not (the attempt given up).
    /// Only the attempt named, only while it is the one on record and nobody is sending it.
    pub async fn settle(&self, job: &SettleJob) -> Result<JobOutcome, JobError> {
        let (seller, order_id, package) = (&job.seller_id, &job.order_id, &job.package_id);
        let stored = self.stored((seller, order_id)).await?;
        let ledger = self.purchase.ledger;
        let attempt = match ledger.load(seller, order_id, package).await? {
            Some(PurchaseEntry::InProgress(a)) if a.idempotency_key == job.idempotency_key => a,
            Some(PurchaseEntry::Purchased(r))
                if r.idempotency_key == job.idempotency_key
                    && job.shipment_id.as_deref() == Some(r.shipment_id.as_str()) =>
            {
                return Ok(JobOutcome::Settled { bought: true });
            }
            Some(PurchaseEntry::Abandoned { key, .. })
                if key == job.idempotency_key && job.shipment_id.is_none() =>
            {
                return Ok(JobOutcome::Settled { bought: false });
            }
            _ => {
                return Ok(refused(
                    "nothing_to_settle",
                    format!(
                        "order {order_id} package {package}: attempt {} is not the purchase in progress on record",
                        job.idempotency_key
                    ),
                ));
            }
        };
        if attempt.sent_at.is_none() {
            return Ok(refused(
                "not_sent",
                format!(
                    "attempt {} was never sent: a label job finishes it, nothing to settle",
                    attempt.idempotency_key
                ),
            ));
        }
        if attempt.lease_until > self.purchase.clock.now() {
            return Err(JobError::Label(LabelError::Busy {
                order_id: order_id.to_string(),
                package_id: package.to_string(),
                key: attempt.idempotency_key,
            }));
        }
        let Some(shipment_id) = &job.shipment_id else {
            if !ledger
                .abandon(seller, order_id, package, &attempt.idempotency_key)
                .await?
            {
                return Err(JobError::Contended {
                    order_id: order_id.to_string(),
                });
            }
            tracing::warn!(seller_id = %seller, order_id = %order_id, package_id = %package, key = %attempt.idempotency_key, requested_by = %job.requested_by, "unresolved purchase settled: nothing was bought");
            return Ok(JobOutcome::Settled { bought: false });
        };
        let record = match self
            .purchase
            .settle_bought(
                seller,
                order_id,
                package,
                &attempt,
                shipment_id,
                stored.pii.purge_at,
            )
            .await
        {
            Ok(r) => r,
            Err(LabelError::Shipping(ShippingError::Refused { code, .. })) => {
                return Ok(refused(
                    "settle_refused",
                    format!(
                        "Amazon has no label document for shipment {shipment_id} package {package} ({code})"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        tracing::warn!(seller_id = %seller, order_id = %order_id, package_id = %package, key = %attempt.idempotency_key, shipment_id = %shipment_id, requested_by = %job.requested_by, "unresolved purchase settled: bought");
        self.labeled(
            seller,
            order_id,
            Some(stored),
            vec![(package.clone(), record)],
        )
        .await?;
        Ok(JobOutcome::Settled { bought: true })
    }

    /// Confirm a package shipped on the operator's own carrier: the carrier code, tracking
    /// number, ship date and items checked against Amazon's list and the stored order first,
    /// the package's record (with its package reference) written before Amazon is told, so
    /// a repeat sends the same reference and a package is confirmed once.
    pub async fn ship(&self, job: &ShipJob) -> Result<JobOutcome, JobError> {
        let (seller, order_id, package) = (&job.seller_id, &job.order_id, &job.package_id);
        let stored = self.stored((seller, order_id)).await?;
        let order = &stored.order;
        match order.status {
            OrderStatus::Canceled => {
                return Ok(refused("canceled", format!("order {order_id} is canceled")));
            }
            status if status.ship().is_err() => {
                return Ok(refused(
                    "not_open",
                    format!("order {order_id} is {status:?}: nothing of it is shipped now"),
                ));
            }
            _ => {}
        }
        let Some(marketplace) = order.marketplace_id.clone() else {
            return Ok(refused(
                "no_marketplace",
                format!("order {order_id} has no marketplace"),
            ));
        };
        let carrier = match Carrier::parse(&job.carrier_code, job.carrier_name.as_deref()) {
            Ok(c) => c,
            Err(reason) => return Ok(refused("bad_carrier", reason)),
        };
        let tracking = job.tracking_number.trim();
        if tracking.is_empty()
            || tracking.len() > 64
            || !tracking
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Ok(refused(
                "bad_tracking",
                "tracking_number: 1 to 64 letters, digits or dashes, as the carrier prints it",
            ));
        }
        let now = self.purchase.clock.now();
        if job.ship_date > now + SHIP_DATE_AHEAD || job.ship_date < order.created_at {
            return Ok(refused(
                "bad_ship_date",
                format!(
                    "ship_date: between the order's creation ({}) and a day from now",
                    order.created_at.to_rfc3339()
                ),
            ));
        }
        let ledger = self.purchase.ledger;
        let entries = ledger.entries(seller, order_id).await?;
        // Units in the order's other own-carrier packages count against what was ordered.
        let others: Vec<_> = entries
            .iter()
            .filter(|(p, _)| p != package)
            .filter_map(|(p, e)| match e {
                PurchaseEntry::OwnCarrier(s) => Some((p, s.items.as_slice())),
                _ => None,
            })
            .collect();
        let mut contents = others.clone();
        contents.push((package, job.items.as_slice()));
        if let Err(reason) = check_items(order, &contents, "items") {
            // The job's own package is the last one checked; others were accepted before.
            let reason = reason.replacen(&format!("items[{}]", others.len()), "package", 1);
            return Ok(refused("bad_items", reason));
        }
        let here = entries.iter().find(|(p, _)| p == package).map(|(_, e)| e);
        let (shipment, replacing) = match here {
            Some(PurchaseEntry::Purchased(_) | PurchaseEntry::InProgress(_)) => {
                return Ok(refused(
                    "bought_label",
                    format!(
                        "order {order_id} package {package} has a Buy Shipping label, which Amazon confirms itself; \
                         void it first to ship the package on your own carrier"
                    ),
                ));
            }
            Some(PurchaseEntry::OwnCarrier(s)) if s.confirmed_at.is_some() => {
                // Announced again: the first copy may have stopped before it could.
                if order.status == OrderStatus::Shipped {
                    self.stock
                        .publish(&announce(order, StockChangeKind::Ship, None))
                        .await
                        .map_err(JobError::Stock)?;
                }
                return Ok(JobOutcome::Confirmed { now: false });
            }
            // On its way, sent by another process whose lease runs: the job waits.
            Some(PurchaseEntry::OwnCarrier(s))
                if s.holder != self.purchase.holder && now - s.started_at < LEASE =>
            {
                return Err(JobError::Label(LabelError::Busy {
                    order_id: order_id.to_string(),
                    package_id: package.to_string(),
                    key: format!("own#{}", s.package_reference_id),
                }));
            }
            // Begun and never taken (a process that died, a refusal): under the same package
            // reference, as it was begun or as this job corrects it.
            Some(PurchaseEntry::OwnCarrier(s)) => {
                let fresh = self
                    .own_shipment(job, carrier, &entries, order, Some(s))
                    .await?;
                let replacing =
                    (!fresh.same_as(s)).then(|| format!("own#{}", s.package_reference_id));
                (fresh, replacing)
            }
            Some(PurchaseEntry::Voided(v)) => (
                self.own_shipment(job, carrier, &entries, order, None)
                    .await?,
                Some(v.label.idempotency_key.clone()),
            ),
            Some(PurchaseEntry::Abandoned { key, .. }) => (
                self.own_shipment(job, carrier, &entries, order, None)
                    .await?,
                Some(key.clone()),
            ),
            None => (
                self.own_shipment(job, carrier, &entries, order, None)
                    .await?,
                None,
            ),
        };
        // The same confirmation already on record is sent again as it stands.
        let resend = matches!(here, Some(PurchaseEntry::OwnCarrier(_))) && replacing.is_none();
        if !resend
            && !ledger
                .start_own_carrier(seller, order_id, package, &shipment, replacing.as_deref())
                .await?
        {
            return Err(JobError::Contended {
                order_id: order_id.to_string(),
            });
        }
        match self
            .confirmations
            .confirm(seller, &marketplace, order_id, &shipment)
            .await
        {
            Ok(()) => {}
            Err(ShippingError::Refused { code, message, .. }) => {
                return Ok(refused(
                    "confirm_refused",
                    format!(
                        "Amazon refused the confirmation of order {order_id} package {package} ({code}: {message})"
                    ),
                ));
            }
            Err(e) => return Err(shipping(e)),
        }
        ledger
            .own_carrier_confirmed(seller, order_id, package, self.purchase.clock.now())
            .await?;
        // Every unit in a package Amazon has confirmed (this one, and the order's other
        // own-carrier packages it took): the order is Shipped.
        let confirmed = entries
            .iter()
            .filter(|(p, _)| p != package)
            .filter_map(|(_, e)| match e {
                PurchaseEntry::OwnCarrier(s) if s.confirmed_at.is_some() => {
                    Some(s.items.as_slice())
                }
                _ => None,
            })
            .chain([shipment.items.as_slice()]);
        let mut shipped: std::collections::BTreeMap<String, u32> = Default::default();
        for items in confirmed {
            for i in items {
                *shipped.entry(i.order_item_id.to_string()).or_default() += i.quantity;
            }
        }
        let all_shipped = order.lines.iter().all(|l| {
            shipped.get(l.order_item_id.as_str()).copied().unwrap_or(0) >= l.quantity_ordered
        });
        self.revise(seller, order_id, |order, _| {
            order.record_parcel(Parcel {
                package_id: package.clone(),
                carrier: shipment
                    .carrier
                    .name
                    .clone()
                    .unwrap_or_else(|| shipment.carrier.code.clone()),
                service: shipment.shipping_method.clone(),
                tracking_id: Some(shipment.tracking_number.clone()),
                shipped_by: ShippedBy::OwnCarrier {
                    package_reference_id: shipment.package_reference_id.clone(),
                    ship_date: shipment.ship_date,
                },
            });
            if all_shipped {
                order.status = order.status.ship().unwrap_or(order.status);
            }
        })
        .await?;
        // Every unit confirmed: they leave on hand (announced once per order; a repeat is the
        // same change).
        if all_shipped {
            self.stock
                .publish(&announce(order, StockChangeKind::Ship, None))
                .await
                .map_err(JobError::Stock)?;
        }
        Ok(JobOutcome::Confirmed { now: true })
    }

    /// The job's package as Amazon is told it: under the reference it was begun with, or a
    /// new one from the order's counter, which starts above every number Amazon already shows
    /// for the order or the ledger holds, so that two packages never share one.
    async fn own_shipment(
        &self,
        job: &ShipJob,
        carrier: Carrier,
        entries: &[(crate::kernel::PackageId, PurchaseEntry)],
        order: &crate::orders::Order,
        begun: Option<&OwnCarrierShipment>,
    ) -> Result<OwnCarrierShipment, JobError> {
        let package_reference_id = match begun {
            Some(b) => b.package_reference_id.clone(),
            None => {
                let taken = entries
                    .iter()
                    .filter_map(|(_, e)| match e {
                        PurchaseEntry::OwnCarrier(s) => s.package_reference_id.parse::<u64>().ok(),
                        _ => None,
                    })
                    .chain(
                        order
                            .packages
                            .iter()
                            .filter_map(|p| p.package_reference_id.parse::<u64>().ok()),
                    )
                    .max()
                    .unwrap_or(0);
                self.purchase
                    .ledger
                    .next_package_reference(&job.seller_id, &job.order_id, taken)
                    .await?
                    .to_string()
            }
        };
        Ok(OwnCarrierShipment {
            package_reference_id,
            carrier,
            shipping_method: job.shipping_method.clone(),
            tracking_number: job.tracking_number.trim().to_owned(),
            ship_date: job.ship_date,
            items: job.items.clone(),
            holder: self.purchase.holder.to_owned(),
            started_at: self.purchase.clock.now(),
            confirmed_at: None,
        })
    }
}
