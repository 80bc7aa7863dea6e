//! One label job: the packages of an order as packed, each bought a label once, the order
//! Labeled. Before anything is bought the stored order must still be open and the job's items
//! must be the order's (known order items, quantities within what was ordered); a job that does
//! not fit is refused with its reason and nothing is asked of Amazon.

use super::model::{Charge, LabelRecord};
use super::model::{
    Dimensions, LabelFormat, PackageItem, PackageSpec, RatePolicy, RateRequest, ShipFrom,
};
use super::ports::ShipmentConfirmations;
use super::purchase::{Bought, LabelError, LabelOrder, LabelPurchase};
use super::tracking::{TrackingWatch, WatchedParcel};
use crate::kernel::{AmazonOrderId, AuditLog, PackageId, PiiKind, SellerId, Sku, StoreError};
use crate::orders::{
    LabelBlock, Order, OrderStatus, OrderStore, Parcel, ShippedBy, StoredOrder, announce,
};
use crate::pii::{PiiState, PiiStatus, SealedItems};
use crate::stock::{StockChangeKind, StockEvents};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Record races lost before giving up on the order's write.
const MAX_RACES: usize = 4;

/// A label job as its queue carries it: ids and package facts, no PII.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelJob {
    pub job_id: String,
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub packages: Vec<JobPackage>,
    /// The warehouse location the parcels leave from, one of the seller's `locations`; none:
    /// the seller's main `ship_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Who packed (a station, a person, a tool): for the record.
    pub requested_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobPackage {
    pub package_id: PackageId,
    pub weight_grams: u32,
    pub dimensions: Dimensions,
    pub items: Vec<PackageItem>,
}

/// A seller's label rules, as onboarding writes them: where parcels leave from, how a rate is
/// chosen, the format its printers take, and the catalog that makes the package of a job that
/// names none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelSettings {
    /// The main warehouse.
    pub ship_from: ShipFrom,
    /// The seller's other warehouse locations by name, for jobs that name one.
    #[serde(default)]
    pub locations: BTreeMap<String, ShipFrom>,
    pub policy: RatePolicy,
    /// A fixed carrier and service for packages holding these SKUs (a battery that only one
    /// service takes), in place of `policy`.
    #[serde(default)]
    pub sku_policies: BTreeMap<Sku, RatePolicy>,
    pub format: LabelFormat,
    #[serde(default)]
    pub catalog: BTreeMap<Sku, SkuFacts>,
}

impl LabelSettings {
    /// One warehouse, one rule and one format; no other locations, SKU services or catalog.
    pub fn new(ship_from: ShipFrom, policy: RatePolicy, format: LabelFormat) -> Self {
        Self {
            ship_from,
            locations: BTreeMap::new(),
            policy,
            sku_policies: BTreeMap::new(),
            format,
            catalog: BTreeMap::new(),
        }
    }

    /// Where parcels leave from: the named location, or the main warehouse. The reason names
    /// the field.
    pub fn ship_from_for(&self, location: Option<&str>) -> Result<&ShipFrom, String> {
        match location {
            None => Ok(&self.ship_from),
            Some(name) => self.locations.get(name).ok_or_else(|| {
                format!("location: {name:?} is not one of the seller's warehouse locations")
            }),
        }
    }

    /// The rate policy of a package holding `items`: the fixed one of its SKUs, or the
    /// seller's. Two SKUs that want different services cannot share a parcel.
    pub fn policy_for(&self, order: &Order, items: &[PackageItem]) -> Result<&RatePolicy, String> {
        let mut chosen: Option<(&Sku, &RatePolicy)> = None;
        for item in items {
            let Some(sku) = order
                .lines
                .iter()
                .find(|l| l.order_item_id == item.order_item_id)
                .and_then(|l| l.sku.as_ref())
            else {
                continue;
            };
            let Some(policy) = self.sku_policies.get(sku) else {
                continue;
            };
            match chosen {
                Some((other, p)) if p != policy => {
                    return Err(format!(
                        "SKUs {other} and {sku} each need their own carrier service: pack them apart"
                    ));
                }
                _ => chosen = Some((sku, policy)),
            }
        }
        Ok(chosen.map_or(&self.policy, |(_, p)| p))
    }
}

/// One unit of a SKU as it ships: its weight and its box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkuFacts {
    pub weight_grams: u32,
    pub dimensions: Dimensions,
}

/// The package id of the one parcel made from the catalog: the same for every job of the
/// order, so that a second such job finds its label on record.
pub const CATALOG_PACKAGE_ID: &str = "p1";

#[async_trait]
pub trait LabelSettingsStore: Send + Sync {
    async fn label_settings(&self, seller: &SellerId) -> Result<Option<LabelSettings>, StoreError>;
}

/// What a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Every package has its label; `bought_now` of them were bought by this run.
    Labeled { packages: usize, bought_now: usize },
    /// The package's label is voided and its document gone; `now`: by this run.
    Voided { now: bool },
    /// Amazon has the package's own-carrier confirmation; `now`: sent by this run.
    Confirmed { now: bool },
    /// An unresolved purchase settled as the operator found it: `bought` (recorded, the order
    /// Labeled) or not (the next label job buys under the next key).
    Settled { bought: bool },
    /// Not for labels: the reason (ids only), and nothing was bought.
    Refused {
        reason_kind: &'static str,
        reason: String,
    },
}

pub(super) fn refused(reason_kind: &'static str, reason: impl Into<String>) -> JobOutcome {
    JobOutcome::Refused {
        reason_kind,
        reason: reason.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Label(#[from] LabelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Intake has not stored the order yet: the job waits.
    #[error("order {order_id} is not stored yet")]
    OrderNotStored { order_id: String },
    #[error("order {order_id}: the order's record kept changing")]
    Contended { order_id: String },
    /// The stock change (a pick, a shipment) could not be announced: the job comes back.
    #[error("stock change not announced: {0}")]
    Stock(crate::kernel::QueueError),
}

impl JobError {
    pub fn is_retryable(&self) -> bool {
        match self {
            JobError::Label(e) => e.is_retryable(),
            JobError::Store(e) => !matches!(e, StoreError::Corrupt { .. }),
            JobError::OrderNotStored { .. } | JobError::Contended { .. } | JobError::Stock(_) => {
                true
            }
        }
    }
}

pub struct LabelWorker<'a> {
    pub orders: &'a dyn OrderStore,
    pub settings: &'a dyn LabelSettingsStore,
    pub purchase: LabelPurchase<'a>,
    pub confirmations: &'a dyn ShipmentConfirmations,
    /// Where a voided label's document is deleted.
    pub sealed: &'a dyn SealedItems,
    pub audit: &'a dyn AuditLog,
    /// Where bought labels are watched until delivery.
    pub watch: &'a dyn TrackingWatch,
    /// Where a labeled order's pick is announced (the stock queue).
    pub stock: &'a dyn StockEvents,
}

impl LabelWorker<'_> {
    pub async fn handle(&self, job: &LabelJob) -> Result<JobOutcome, JobError> {
        let (seller, order_id) = (&job.seller_id, &job.order_id);
        let Some(stored) = self.orders.load(seller, order_id).await? else {
            return Err(JobError::OrderNotStored {
                order_id: order_id.to_string(),
            });
        };
        let order = &stored.order;
        match order.status {
            OrderStatus::Canceled => {
                return Ok(refused("canceled", format!("order {order_id} is canceled")));
            }
            status if status.label().is_err() => {
                return Ok(refused(
                    "not_open",
                    format!("order {order_id} is {status:?}: no label is bought for it"),
                ));
            }
            _ => {}
        }
        let Some(settings) = self.settings.label_settings(seller).await? else {
            return Ok(refused(
                "no_label_settings",
                format!("seller {seller} has no label settings (ship-from, rate policy, format)"),
            ));
        };
        let Some(marketplace_id) = order.marketplace_id.clone() else {
            return Ok(refused(
                "no_marketplace",
                format!("order {order_id} has no marketplace"),
            ));
        };
        let packages = if job.packages.is_empty() {
            // Never guessed: a SKU the catalog does not know blocks the order's label.
            match catalog_package(order, &settings.catalog) {
                Ok(p) => vec![p],
                Err(reason) => {
                    // On the order itself, for whoever looks at it, until a label is bought.
                    let since = self.purchase.clock.now();
                    self.revise(seller, order_id, |order, _| {
                        if order
                            .label_blocked
                            .as_ref()
                            .is_none_or(|b| b.reason != reason)
                        {
                            order.label_blocked = Some(LabelBlock {
                                reason: reason.clone(),
                                since,
                            });
                        }
                    })
                    .await?;
                    return Ok(refused("label_blocked", reason));
                }
            }
        } else {
            job.packages.clone()
        };
        if let Some(i) = packages.iter().position(|p| p.weight_grams == 0) {
            return Ok(refused(
                "bad_items",
                format!("packages[{i}].weight_grams: must be above 0"),
            ));
        }
        let contents: Vec<_> = packages
            .iter()
            .map(|p| (&p.package_id, p.items.as_slice()))
            .collect();
        if let Err(reason) = check_items(order, &contents, "packages") {
            return Ok(refused("bad_items", reason));
        }
        let ship_from = match settings.ship_from_for(job.location.as_deref()) {
            Ok(at) => at,
            Err(reason) => return Ok(refused("unknown_location", reason)),
        };
        let mut policies = Vec::new();
        for (i, package) in packages.iter().enumerate() {
            match settings.policy_for(order, &package.items) {
                Ok(p) => policies.push(p),
                Err(reason) => {
                    return Ok(refused(
                        "conflicting_policies",
                        format!("packages[{i}]: {reason}"),
                    ));
                }
            }
        }
        let mut bought_now = 0;
        let mut labels = Vec::new();
        for (package, policy) in packages.iter().zip(policies) {
            let request = RateRequest {
                order_id: order_id.clone(),
                marketplace_id: marketplace_id.clone(),
                ship_from: ship_from.clone(),
                package: PackageSpec {
                    package_id: package.package_id.clone(),
                    weight_grams: package.weight_grams,
                    dimensions: package.dimensions,
                    items: package.items.clone(),
                    declared_value: declared_value(order, &package.items),
                },
            };
            let work = LabelOrder {
                job_id: &job.job_id,
                request: &request,
                policy,
                format: settings.format,
                deliver_by: order.deliver_by,
                purge_at: stored.pii.purge_at,
            };
            match self.purchase.buy_once(seller, &work).await {
                Ok(bought) => {
                    bought_now += usize::from(matches!(bought, Bought::Now(_)));
                    labels.push((package.package_id.clone(), bought.record().clone()));
                }
                Err(LabelError::NoRate { reason, .. }) => return Ok(refused("no_rate", reason)),
                Err(e @ LabelError::VoidedForJob { .. }) => {
                    return Ok(refused("label_voided", e.to_string()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let count = labels.len();
        // The order as read at the start: written over that revision (read again only if
        // someone wrote since), no second read per label.
        self.labeled(seller, order_id, Some(stored.clone()), labels)
            .await?;
        Ok(JobOutcome::Labeled {
            packages: count,
            bought_now,
        })
    }

    /// The order Labeled with `labels` on record: each parcel on the order (carrier, service,
    /// shipment, tracking, cost, promise; Amazon confirms it), their documents among the items
    /// it holds (so the redactor deletes them by key), any label block lifted, and each parcel
    /// watched until it is delivered.
    pub(super) async fn labeled(
        &self,
        seller: &SellerId,
        order_id: &AmazonOrderId,
        read: Option<StoredOrder>,
        labels: Vec<(PackageId, LabelRecord)>,
    ) -> Result<(), JobError> {
        let labeled_order = std::sync::Mutex::new(None);
        revise(self.orders, seller, order_id, read, |order, pii| {
            *labeled_order.lock().expect("not poisoned") = Some(order.clone());
            // Canceled meanwhile, or moved on: the labels stand, the status is not ours.
            order.status = order.status.label().unwrap_or(order.status);
            order.label_blocked = None;
            for (package_id, label) in &labels {
                order.record_parcel(Parcel {
                    package_id: package_id.clone(),
                    carrier: label.carrier_id.clone(),
                    service: Some(label.service_id.clone()),
                    tracking_id: label.tracking_id.clone(),
                    shipped_by: ShippedBy::BuyShipping {
                        shipment_id: label.shipment_id.clone(),
                        cost_minor: label.charge.minor,
                        currency: label.charge.currency.clone(),
                        promise: label.delivery_window,
                    },
                });
            }
            if pii.state == PiiState::Held {
                for (package_id, _) in &labels {
                    let kind = PiiKind::Label(package_id.clone());
                    if !pii.sealed_kinds.contains(&kind) {
                        pii.sealed_kinds.push(kind);
                    }
                }
            }
        })
        .await?;
        // Its units come off the shelves now: the pick, announced once per order (a repeat
        // is the same change, applied once by stock).
        if let Some(order) = labeled_order.into_inner().expect("not poisoned")
            && order.status != OrderStatus::Canceled
        {
            self.stock
                .publish(&announce(&order, StockChangeKind::Pick, None))
                .await
                .map_err(JobError::Stock)?;
        }
        for (package_id, label) in labels {
            let Some(tracking_id) = label.tracking_id else {
                tracing::warn!(seller_id = %seller, order_id = %order_id, package_id = %package_id, error_kind = "no_tracking_id", "label bought without a tracking id: not tracked");
                continue;
            };
            self.watch
                .watch(&WatchedParcel {
                    seller_id: seller.clone(),
                    order_id: order_id.clone(),
                    package_id,
                    business: label.business,
                    carrier_id: label.carrier_id,
                    tracking_id,
                    labeled_at: label.purchased_at,
                    first_scan_at: None,
                    no_scan_alerted_at: None,
                })
                .await?;
        }
        Ok(())
    }

    pub(super) async fn revise(
        &self,
        seller: &SellerId,
        order_id: &AmazonOrderId,
        change: impl Fn(&mut Order, &mut PiiStatus),
    ) -> Result<(), JobError> {
        revise(self.orders, seller, order_id, None, change).await
    }
}

/// `change` applied to the stored order and its PII status, written over the revision read
/// (read again and applied again when another writer came first). `read`: the order as this
/// job read it already, tried first instead of reading again. No change, no write.
pub(super) async fn revise(
    orders: &dyn OrderStore,
    seller: &SellerId,
    order_id: &AmazonOrderId,
    mut read: Option<StoredOrder>,
    change: impl Fn(&mut Order, &mut PiiStatus),
) -> Result<(), JobError> {
    for _ in 0..MAX_RACES {
        let stored = match read.take() {
            Some(s) => Some(s),
            None => orders.load(seller, order_id).await?,
        };
        let Some(stored) = stored else {
            return Err(JobError::OrderNotStored {
                order_id: order_id.to_string(),
            });
        };
        let mut order = stored.order.clone();
        let mut pii = stored.pii.clone();
        change(&mut order, &mut pii);
        if order == stored.order && pii == stored.pii {
            return Ok(());
        }
        if orders
            .save(&order, pii, Some(stored.revision))
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    Err(JobError::Contended {
        order_id: order_id.to_string(),
    })
}

/// Every package names order items of this order, in quantities that add up to no more than
/// was ordered. `field` is the packages' name in the job; the reason names the field.
pub(super) fn check_items(
    order: &Order,
    packages: &[(&PackageId, &[PackageItem])],
    field: &str,
) -> Result<(), String> {
    let mut packed: BTreeMap<&str, u32> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for (i, (package_id, items)) in packages.iter().enumerate() {
        if !ids.insert(package_id.as_str()) {
            return Err(format!(
                "{field}[{i}].package_id: {package_id} appears twice"
            ));
        }
        if items.is_empty() {
            return Err(format!(
                "{field}[{i}].items: a package holds at least one item"
            ));
        }
        for (j, item) in items.iter().enumerate() {
            let Some(line) = order
                .lines
                .iter()
                .find(|l| l.order_item_id == item.order_item_id)
            else {
                return Err(format!(
                    "{field}[{i}].items[{j}].order_item_id: {} is not an item of order {}",
                    item.order_item_id, order.order_id
                ));
            };
            if item.quantity == 0 {
                return Err(format!("{field}[{i}].items[{j}].quantity: must be above 0"));
            }
            let total = packed.entry(line.order_item_id.as_str()).or_default();
            *total += item.quantity;
            if *total > line.quantity_ordered {
                return Err(format!(
                    "{field}[{i}].items[{j}].quantity: {} of {} packed, {} ordered",
                    total, item.order_item_id, line.quantity_ordered
                ));
            }
        }
    }
    Ok(())
}

/// Every unit of the order in one parcel, from the catalog: the weights added, the footprint
/// of the largest unit, the heights stacked. A line without a SKU, or a SKU the catalog does not
/// know, is the reason there is no package.
pub fn catalog_package(
    order: &Order,
    catalog: &BTreeMap<Sku, SkuFacts>,
) -> Result<JobPackage, String> {
    let mut weight_grams: u32 = 0;
    let (mut length_cm, mut width_cm, mut height_cm) = (0.0_f64, 0.0_f64, 0.0_f64);
    let mut items = Vec::new();
    for line in order.lines.iter().filter(|l| l.quantity_ordered > 0) {
        let sku = line.sku.as_ref().ok_or_else(|| {
            format!(
                "order item {} has no SKU: its weight and size are unknown",
                line.order_item_id
            )
        })?;
        let facts = catalog.get(sku).ok_or_else(|| {
            format!("SKU {sku} has no weight and dimensions in the seller's catalog")
        })?;
        let units = line.quantity_ordered;
        weight_grams = weight_grams.saturating_add(facts.weight_grams.saturating_mul(units));
        length_cm = length_cm.max(facts.dimensions.length_cm);
        width_cm = width_cm.max(facts.dimensions.width_cm);
        height_cm += facts.dimensions.height_cm * f64::from(units);
        items.push(PackageItem {
            order_item_id: line.order_item_id.clone(),
            quantity: units,
        });
    }
    if items.is_empty() {
        return Err(format!("order {} has no units to pack", order.order_id));
    }
    Ok(JobPackage {
        package_id: PackageId::parse(CATALOG_PACKAGE_ID).expect("a valid package id"),
        weight_grams,
        dimensions: Dimensions {
            length_cm,
            width_cm,
            height_cm,
        },
        items,
    })
}

/// What the package's contents sold for (the insured value): unit price × quantity.
fn declared_value(order: &Order, items: &[PackageItem]) -> Charge {
    let mut minor = 0;
    let mut currency = None;
    for item in items {
        if let Some(price) = order
            .lines
            .iter()
            .find(|l| l.order_item_id == item.order_item_id)
            .and_then(|l| l.unit_price.as_ref())
        {
            let unit =
                Charge::from_decimal(price.amount.parse().unwrap_or(0.0), &price.currency_code);
            minor += unit.minor * i64::from(item.quantity);
            currency.get_or_insert(unit.currency);
        }
    }
    Charge {
        minor,
        currency: currency.unwrap_or_else(|| "USD".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{MarketplaceId, OrderItemId};
    use crate::orders::OrderLine;

    fn line(id: &str, sku: Option<&str>, units: u32) -> OrderLine {
        OrderLine {
            order_item_id: OrderItemId::parse(id).unwrap(),
            sku: sku.map(|s| Sku::parse(s).unwrap()),
            asin: None,
            title: None,
            quantity_ordered: units,
            quantity_shipped: 0,
            unit_price: None,
        }
    }

    fn order(lines: Vec<OrderLine>) -> Order {
        let t: chrono::DateTime<chrono::Utc> = "2026-11-20T10:00:00Z".parse().unwrap();
        Order {
            seller_id: SellerId::parse("A1SELLER").unwrap(),
            order_id: AmazonOrderId::parse("113-0000000-0000001").unwrap(),
            marketplace_id: Some(MarketplaceId::parse("ATVPDKIKX0DER").unwrap()),
            status: OrderStatus::Unshipped,
            created_at: t,
            last_updated_at: t,
            ship_by: None,
            deliver_by: None,
            service_level: None,
            programs: vec![],
            lines,
            packages: vec![],
            delivered_at: None,
            label_blocked: None,
            parcels: vec![],
        }
    }

    fn facts(grams: u32, l: f64, w: f64, h: f64) -> SkuFacts {
        SkuFacts {
            weight_grams: grams,
            dimensions: Dimensions {
                length_cm: l,
                width_cm: w,
                height_cm: h,
            },
        }
    }

    #[test]
    fn the_catalog_packs_every_unit_in_one_parcel_and_never_guesses_a_sku() {
        let catalog: BTreeMap<Sku, SkuFacts> = [
            (
                Sku::parse("MUG-BLUE").unwrap(),
                facts(400, 12.0, 10.0, 11.0),
            ),
            (Sku::parse("TEA-100").unwrap(), facts(150, 20.0, 8.0, 4.0)),
        ]
        .into();
        let o = order(vec![
            line("11111111111111", Some("MUG-BLUE"), 2),
            line("22222222222222", Some("TEA-100"), 1),
        ]);
        let p = catalog_package(&o, &catalog).unwrap();
        assert_eq!(p.package_id.as_str(), CATALOG_PACKAGE_ID);
        assert_eq!(p.weight_grams, 950);
        assert_eq!(
            (
                p.dimensions.length_cm,
                p.dimensions.width_cm,
                p.dimensions.height_cm
            ),
            (20.0, 10.0, 26.0)
        );
        assert_eq!(p.items.iter().map(|i| i.quantity).sum::<u32>(), 3);
        assert!(check_items(&o, &[(&p.package_id, &p.items)], "packages").is_ok());

        let unknown = order(vec![line("33333333333333", Some("LAMP-1"), 1)]);
        let reason = catalog_package(&unknown, &catalog).unwrap_err();
        assert!(
            reason.contains("SKU LAMP-1 has no weight and dimensions"),
            "{reason}"
        );
        let no_sku = order(vec![line("44444444444444", None, 1)]);
        assert!(
            catalog_package(&no_sku, &catalog)
                .unwrap_err()
                .contains("has no SKU")
        );
    }

    #[test]
    fn a_skus_fixed_service_and_a_named_location_are_the_packages_own() {
        let dock = |name: &str| ShipFrom {
            name: name.into(),
            address_line1: "1 Way".into(),
            address_line2: None,
            city: "Reno".into(),
            state_or_region: "NV".into(),
            postal_code: "89502".into(),
            country_code: "US".into(),
            phone: None,
        };
        let fixed = |c: &str| RatePolicy::Fixed {
            carrier_id: c.into(),
            service_id: format!("{c}-ground"),
        };
        let settings = LabelSettings {
            ship_from: dock("main"),
            locations: [("annex".to_owned(), dock("annex"))].into(),
            policy: RatePolicy::CheapestOnTime,
            sku_policies: [
                (Sku::parse("BATTERY").unwrap(), fixed("UPS")),
                (Sku::parse("GLASS").unwrap(), fixed("FEDEX")),
            ]
            .into(),
            format: LabelFormat::Zpl,
            catalog: BTreeMap::new(),
        };
        assert_eq!(settings.ship_from_for(None).unwrap().name, "main");
        assert_eq!(settings.ship_from_for(Some("annex")).unwrap().name, "annex");
        assert!(
            settings
                .ship_from_for(Some("moon"))
                .unwrap_err()
                .starts_with("location:")
        );
        let o = order(vec![
            line("11111111111111", Some("MUG-BLUE"), 1),
            line("22222222222222", Some("BATTERY"), 1),
            line("33333333333333", Some("GLASS"), 1),
        ]);
        let items = |ids: &[&str]| -> Vec<PackageItem> {
            ids.iter()
                .map(|id| PackageItem {
                    order_item_id: OrderItemId::parse(*id).unwrap(),
                    quantity: 1,
                })
                .collect()
        };
        assert_eq!(
            settings.policy_for(&o, &items(&["11111111111111"])),
            Ok(&RatePolicy::CheapestOnTime)
        );
        assert_eq!(
            settings.policy_for(&o, &items(&["11111111111111", "22222222222222"])),
            Ok(&fixed("UPS"))
        );
        let apart = settings
            .policy_for(&o, &items(&["22222222222222", "33333333333333"]))
            .unwrap_err();
        assert!(apart.contains("pack them apart"), "{apart}");
    }

    #[test]
    fn items_are_checked_by_field() {
        let o = order(vec![line("11111111111111", Some("MUG-BLUE"), 2)]);
        let package = |id: &str, item: &str, qty: u32| {
            (
                PackageId::parse(id).unwrap(),
                vec![PackageItem {
                    order_item_id: OrderItemId::parse(item).unwrap(),
                    quantity: qty,
                }],
            )
        };
        let check = |packages: &[(PackageId, Vec<PackageItem>)]| {
            let contents: Vec<_> = packages.iter().map(|(p, i)| (p, i.as_slice())).collect();
            check_items(&o, &contents, "packages")
        };
        assert!(
            check(&[
                package("a", "11111111111111", 1),
                package("b", "11111111111111", 1)
            ])
            .is_ok()
        );
        let over = check(&[
            package("a", "11111111111111", 2),
            package("b", "11111111111111", 1),
        ])
        .unwrap_err();
        assert!(
            over.starts_with("packages[1].items[0].quantity: 3 of"),
            "{over}"
        );
        let twice = check(&[
            package("a", "11111111111111", 1),
            package("a", "11111111111111", 1),
        ])
        .unwrap_err();
        assert!(twice.starts_with("packages[1].package_id"), "{twice}");
        let unknown = check(&[package("a", "99999999999999", 1)]).unwrap_err();
        assert!(
            unknown.starts_with("packages[0].items[0].order_item_id"),
            "{unknown}"
        );
    }
}
