//! One label job: the packages of an order as packed, each bought a label once, the order
//! Labeled. Before anything is bought the stored order must still be open and the job's items
//! must be the order's (known order items, quantities within what was ordered); a job that does
//! not fit is refused with its reason and nothing is asked of Amazon.

use super::model::Charge;
use super::model::{
    Dimensions, LabelFormat, PackageItem, PackageSpec, RatePolicy, RateRequest, ShipFrom,
};
use super::purchase::{Bought, LabelError, LabelOrder, LabelPurchase};
use crate::kernel::{AmazonOrderId, PackageId, PiiKind, SellerId, StoreError};
use crate::orders::{Order, OrderStatus, OrderStore};
use crate::pii::PiiState;
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
/// chosen, the format its printers take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelSettings {
    pub ship_from: ShipFrom,
    pub policy: RatePolicy,
    pub format: LabelFormat,
}

#[async_trait]
pub trait LabelSettingsStore: Send + Sync {
    async fn label_settings(&self, seller: &SellerId) -> Result<Option<LabelSettings>, StoreError>;
}

/// What a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Every package has its label; `bought_now` of them were bought by this run.
    Labeled { packages: usize, bought_now: usize },
    /// Not for labels: the reason (ids only), and nothing was bought.
    Refused {
        reason_kind: &'static str,
        reason: String,
    },
}

fn refused(reason_kind: &'static str, reason: impl Into<String>) -> JobOutcome {
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
}

impl JobError {
    pub fn is_retryable(&self) -> bool {
        match self {
            JobError::Label(e) => e.is_retryable(),
            JobError::Store(e) => !matches!(e, StoreError::Corrupt { .. }),
            JobError::OrderNotStored { .. } | JobError::Contended { .. } => true,
        }
    }
}

pub struct LabelWorker<'a> {
    pub orders: &'a dyn OrderStore,
    pub settings: &'a dyn LabelSettingsStore,
    pub purchase: LabelPurchase<'a>,
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
        if let Err(reason) = check_items(order, job) {
            return Ok(refused("bad_items", reason));
        }
        let mut bought_now = 0;
        for package in &job.packages {
            let request = RateRequest {
                order_id: order_id.clone(),
                marketplace_id: marketplace_id.clone(),
                ship_from: settings.ship_from.clone(),
                package: PackageSpec {
                    package_id: package.package_id.clone(),
                    weight_grams: package.weight_grams,
                    dimensions: package.dimensions,
                    items: package.items.clone(),
                    declared_value: declared_value(order, &package.items),
                },
            };
            let work = LabelOrder {
                request: &request,
                policy: &settings.policy,
                format: settings.format,
                deliver_by: order.deliver_by,
                purge_at: stored.pii.purge_at,
            };
            match self.purchase.buy_once(seller, &work).await {
                Ok(Bought::Now(_)) => bought_now += 1,
                Ok(Bought::Before(_)) => {}
                Err(LabelError::NoRate { reason, .. }) => return Ok(refused("no_rate", reason)),
                Err(e) => return Err(e.into()),
            }
        }
        self.mark_labeled(job).await?;
        Ok(JobOutcome::Labeled {
            packages: job.packages.len(),
            bought_now,
        })
    }

    /// The order Labeled, its label documents among the items it holds (so the redactor
    /// deletes them by key), written over the revision read.
    async fn mark_labeled(&self, job: &LabelJob) -> Result<(), JobError> {
        for _ in 0..MAX_RACES {
            let Some(stored) = self.orders.load(&job.seller_id, &job.order_id).await? else {
                return Err(JobError::OrderNotStored {
                    order_id: job.order_id.to_string(),
                });
            };
            let mut order = stored.order.clone();
            // Canceled meanwhile, or moved on: the labels stand, the status is not ours.
            order.status = order.status.label().unwrap_or(order.status);
            let mut pii = stored.pii.clone();
            if pii.state == PiiState::Held {
                for p in &job.packages {
                    let kind = PiiKind::Label(p.package_id.clone());
                    if !pii.sealed_kinds.contains(&kind) {
                        pii.sealed_kinds.push(kind);
                    }
                }
            }
            if order == stored.order && pii == stored.pii {
                return Ok(());
            }
            if self
                .orders
                .save(&order, pii, Some(stored.revision))
                .await?
                .is_some()
            {
                return Ok(());
            }
        }
        Err(JobError::Contended {
            order_id: job.order_id.to_string(),
        })
    }
}

/// Every package names order items of this order, in quantities that add up to no more than
/// was ordered. The reason names the field.
fn check_items(order: &Order, job: &LabelJob) -> Result<(), String> {
    if job.packages.is_empty() {
        // The per-SKU catalog that would make one package is not built yet.
        return Err("packages: at least one package (weights and dimensions) is needed".into());
    }
    let mut packed: BTreeMap<&str, u32> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for (i, p) in job.packages.iter().enumerate() {
        if !ids.insert(p.package_id.as_str()) {
            return Err(format!(
                "packages[{i}].package_id: {} appears twice",
                p.package_id
            ));
        }
        if p.weight_grams == 0 {
            return Err(format!("packages[{i}].weight_grams: must be above 0"));
        }
        if p.items.is_empty() {
            return Err(format!(
                "packages[{i}].items: a package holds at least one item"
            ));
        }
        for (j, item) in p.items.iter().enumerate() {
            let Some(line) = order
                .lines
                .iter()
                .find(|l| l.order_item_id == item.order_item_id)
            else {
                return Err(format!(
                    "packages[{i}].items[{j}].order_item_id: {} is not an item of order {}",
                    item.order_item_id, order.order_id
                ));
            };
            if item.quantity == 0 {
                return Err(format!(
                    "packages[{i}].items[{j}].quantity: must be above 0"
                ));
            }
            let total = packed.entry(line.order_item_id.as_str()).or_default();
            *total += item.quantity;
            if *total > line.quantity_ordered {
                return Err(format!(
                    "packages[{i}].items[{j}].quantity: {} of {} packed, {} ordered",
                    total, item.order_item_id, line.quantity_ordered
                ));
            }
        }
    }
    Ok(())
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
