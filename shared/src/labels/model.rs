//! The label flow's vocabulary: a package as packed (items, weight, dimensions), the
//! warehouse it leaves from, Amazon's rates for it, the seller's rule for choosing one, and the
//! label bought.

use super::carriers::Carrier;
use crate::kernel::{AmazonOrderId, MarketplaceId, OrderItemId, PackageId, Pii};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Outer dimensions of a packed parcel, in centimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    pub length_cm: f64,
    pub width_cm: f64,
    pub height_cm: f64,
}

/// Units of one order line in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageItem {
    pub order_item_id: OrderItemId,
    pub quantity: u32,
}

/// An amount in the currency's minor unit (cents), so that rates compare exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Charge {
    pub minor: i64,
    pub currency: String,
}

impl Charge {
    /// Amazon's decimal amount (`5.12`) in minor units.
    pub fn from_decimal(value: f64, currency: impl Into<String>) -> Self {
        Self {
            minor: (value * 100.0).round() as i64,
            currency: currency.into(),
        }
    }

    pub fn as_decimal(&self) -> f64 {
        self.minor as f64 / 100.0
    }
}

/// One package as packed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageSpec {
    pub package_id: PackageId,
    pub weight_grams: u32,
    pub dimensions: Dimensions,
    pub items: Vec<PackageItem>,
    /// What the contents are worth (the carrier's insured value).
    pub declared_value: Charge,
}

/// The warehouse a package leaves from: the operator's business address, not PII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipFrom {
    pub name: String,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub city: String,
    pub state_or_region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: Option<String>,
}

/// What Amazon is asked to rate: one package of an Amazon order (Amazon knows the ship-to).
#[derive(Debug, Clone, PartialEq)]
pub struct RateRequest {
    pub order_id: AmazonOrderId,
    /// The order's marketplace: it decides which Amazon shipping business sells the label.
    pub marketplace_id: MarketplaceId,
    pub ship_from: ShipFrom,
    pub package: PackageSpec,
}

/// The label documents Buy Shipping prints (4x6 inch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LabelFormat {
    Pdf,
    Png,
    Zpl,
}

impl LabelFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelFormat::Pdf => "PDF",
            LabelFormat::Png => "PNG",
            LabelFormat::Zpl => "ZPL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [LabelFormat::Pdf, LabelFormat::Png, LabelFormat::Zpl]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// One offer of a quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub rate_id: String,
    pub carrier_id: String,
    pub carrier_name: String,
    pub service_id: String,
    pub service_name: String,
    pub charge: Charge,
    /// When the carrier promises delivery (Amazon's promise window), if it says.
    pub delivery_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The 4x6 formats this rate prints as the suite buys them (203 dpi, one file, the label
    /// alone). Rates that need more inputs than the suite gives are not listed at all.
    pub formats: Vec<LabelFormat>,
}

/// Amazon's rates for one package, good for 10 minutes after `quoted_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// The Amazon shipping business that quoted (`AmazonShipping_US`, ...): the purchase goes
    /// to the same.
    pub business: String,
    pub request_token: String,
    pub quoted_at: DateTime<Utc>,
    pub rates: Vec<Rate>,
}

/// How a seller's rate is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum RatePolicy {
    /// The cheapest rate whose promised delivery ends by the order's latest delivery date
    /// (any rate when the order states none); ties go to the earlier delivery. When none is in
    /// time, the one that delivers soonest.
    CheapestOnTime,
    /// Always this carrier and service.
    Fixed {
        carrier_id: String,
        service_id: String,
    },
}

impl RatePolicy {
    /// The rate to buy in `format`, or `None` when no rate fits (the job is then refused with
    /// that reason, never given a rate the policy did not pick).
    pub fn choose<'q>(
        &self,
        rates: &'q [Rate],
        format: LabelFormat,
        deliver_by: Option<DateTime<Utc>>,
    ) -> Option<&'q Rate> {
        let printable = rates.iter().filter(|r| r.formats.contains(&format));
        match self {
            RatePolicy::Fixed {
                carrier_id,
                service_id,
            } => printable
                .into_iter()
                .find(|r| &r.carrier_id == carrier_id && &r.service_id == service_id),
            RatePolicy::CheapestOnTime => {
                let printable: Vec<&Rate> = printable.collect();
                let on_time = printable
                    .iter()
                    .filter(|r| match (deliver_by, r.delivery_window) {
                        (Some(by), Some((_, end))) => end <= by,
                        // A rate that promises nothing cannot be shown to meet a date.
                        (Some(_), None) => false,
                        (None, _) => true,
                    })
                    .min_by_key(|r| (r.charge.minor, r.delivery_window.map(|(_, end)| end)));
                // None arrives in time (the order is late already): the parcel still goes, as
                // soon as any rate brings it; ties to the cheaper.
                on_time
                    .or_else(|| {
                        printable
                            .iter()
                            .filter(|r| r.delivery_window.is_some())
                            .min_by_key(|r| (r.delivery_window.map(|(_, end)| end), r.charge.minor))
                    })
                    .copied()
            }
        }
    }
}

/// A label bought: what the order records, and the document (it names the recipient).
pub struct PurchasedLabel {
    pub shipment_id: String,
    /// Amazon's model leaves it optional; a label without one cannot be tracked.
    pub tracking_id: Option<String>,
    pub carrier_id: String,
    pub service_id: String,
    pub charge: Charge,
    pub delivery_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub format: LabelFormat,
    pub document: Pii<Vec<u8>>,
}

impl PurchasedLabel {
    /// What the order keeps of it: everything but the document, under the `attempt` that
    /// bought it (its shipping business, key and job).
    pub fn record(&self, attempt: &PurchaseAttempt, purchased_at: DateTime<Utc>) -> LabelRecord {
        LabelRecord {
            business: attempt.quote.business.clone(),
            shipment_id: self.shipment_id.clone(),
            tracking_id: self.tracking_id.clone(),
            carrier_id: self.carrier_id.clone(),
            service_id: self.service_id.clone(),
            charge: self.charge.clone(),
            delivery_window: self.delivery_window,
            format: self.format,
            idempotency_key: attempt.idempotency_key.clone(),
            purchased_at,
            job_id: attempt.job_id.clone(),
        }
    }
}

/// A label document fetched again from Amazon (`getShipmentDocuments`), with the tracking id
/// Amazon gives with it.
pub struct LabelDocument {
    pub tracking_id: Option<String>,
    pub document: Pii<Vec<u8>>,
}

impl fmt::Debug for LabelDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabelDocument")
            .field("tracking_id", &self.tracking_id)
            .field("document", &self.document)
            .finish()
    }
}

/// A bought label as kept on record (no document): carrier, service, shipment, tracking,
/// cost and promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelRecord {
    pub business: String,
    pub shipment_id: String,
    pub tracking_id: Option<String>,
    pub carrier_id: String,
    pub service_id: String,
    pub charge: Charge,
    pub delivery_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub format: LabelFormat,
    pub idempotency_key: String,
    pub purchased_at: DateTime<Utc>,
    /// The label job it was bought for: once voided, that job never buys the package again
    /// (a late copy of it would); relabeling takes a new job.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub job_id: Option<String>,
}

/// One try at buying a package's label: its idempotency key and exactly the request it sends,
/// kept on record before the purchase so that whoever finishes it sends the same again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseAttempt {
    /// Counts from 1; a new attempt (a new key) only after Amazon said the last one's rate
    /// expired, which means it bought nothing.
    pub number: u32,
    pub idempotency_key: String,
    pub quote: Quote,
    pub rate: Rate,
    pub format: LabelFormat,
    pub started_at: DateTime<Utc>,
    /// The process working the attempt, and until when: another one waits until the lease
    /// runs out (a process that died), so that one key is never in flight twice.
    pub holder: String,
    pub lease_until: DateTime<Utc>,
    /// When the attempt was first handed to Amazon (marked before the send). An attempt never
    /// sent can be given up for a fresh quote; one sent may have bought the label.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// The label job it was begun for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub job_id: Option<String>,
}

impl OwnCarrierShipment {
    /// The same package told the same way (who sends it, and when, aside).
    pub fn same_as(&self, other: &Self) -> bool {
        (
            &self.package_reference_id,
            &self.carrier,
            &self.shipping_method,
            &self.tracking_number,
            self.ship_date,
            &self.items,
        ) == (
            &other.package_reference_id,
            &other.carrier,
            &other.shipping_method,
            &other.tracking_number,
            other.ship_date,
            &other.items,
        )
    }
}

impl PurchaseAttempt {
    /// `<order>.<package>.<n>`: one key per package and attempt, the same for every process
    /// that finishes it.
    pub fn key(order: &AmazonOrderId, package: &PackageId, number: u32) -> String {
        format!("{order}.{package}.{number}")
    }
}

/// A label voided on Amazon: what it was, and the attempt number it was bought under (a
/// label bought again for the package takes the next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidedLabel {
    pub label: LabelRecord,
    pub attempt_number: u32,
    pub voided_at: DateTime<Utc>,
}

/// A package shipped on the operator's own carrier account, as `confirmShipment` tells
/// Amazon. `package_reference_id` is Amazon's reference for the package in the order (a
/// positive number), given once and kept, so a retry edits the same package, never adds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnCarrierShipment {
    pub package_reference_id: String,
    pub carrier: Carrier,
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    pub items: Vec<PackageItem>,
    /// The process that began telling Amazon, and when: another waits out its lease before
    /// it sends the same again.
    pub holder: String,
    pub started_at: DateTime<Utc>,
    /// When Amazon accepted it; `None` while the confirmation is on its way.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// Where one package stands on record: a Buy Shipping purchase (in progress, bought, voided)
/// or an own-carrier confirmation (on its way, confirmed). One record per package, so a
/// package is never both bought and confirmed.
#[derive(Debug, Clone, PartialEq)]
pub enum PurchaseEntry {
    /// Begun; Amazon may or may not have bought it. Finish it with the same key.
    InProgress(PurchaseAttempt),
    Purchased(LabelRecord),
    Voided(VoidedLabel),
    /// Given up by the operator, who found that attempt `attempt_number` (key `key`) bought
    /// nothing: the next purchase takes the next key.
    Abandoned {
        attempt_number: u32,
        key: String,
    },
    /// Own carrier: the confirmation as it is sent (`confirmed_at` set once Amazon took it).
    OwnCarrier(OwnCarrierShipment),
}

impl fmt::Debug for PurchasedLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PurchasedLabel")
            .field("shipment_id", &self.shipment_id)
            .field("tracking_id", &self.tracking_id)
            .field("carrier_id", &self.carrier_id)
            .field("service_id", &self.service_id)
            .field("format", &self.format)
            .field("document", &self.document)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rate(id: &str, carrier: &str, cents: i64, delivered_by: Option<&str>) -> Rate {
        Rate {
            rate_id: id.into(),
            carrier_id: carrier.into(),
            carrier_name: carrier.into(),
            service_id: format!("{carrier}-svc"),
            service_name: format!("{carrier} service"),
            charge: Charge {
                minor: cents,
                currency: "USD".into(),
            },
            delivery_window: delivered_by.map(|end| (t(end) - chrono::Duration::hours(12), t(end))),
            formats: vec![LabelFormat::Pdf, LabelFormat::Zpl],
        }
    }

    #[test]
    fn the_cheapest_rate_that_arrives_in_time_is_chosen() {
        let rates = [
            rate("slow-cheap", "USPS", 410, Some("2026-12-09T20:00:00Z")),
            rate("fast", "UPS", 1240, Some("2026-12-03T20:00:00Z")),
            rate("on-time", "AMZN", 520, Some("2026-12-05T20:00:00Z")),
            rate("no-promise", "LOCAL", 100, None),
        ];
        let by = Some(t("2026-12-06T00:00:00Z"));
        let chosen = RatePolicy::CheapestOnTime.choose(&rates, LabelFormat::Pdf, by);
        assert_eq!(chosen.map(|r| r.rate_id.as_str()), Some("on-time"));
        // Without a date to meet, the cheapest of all.
        let any = RatePolicy::CheapestOnTime.choose(&rates, LabelFormat::Pdf, None);
        assert_eq!(any.map(|r| r.rate_id.as_str()), Some("no-promise"));
        // Nothing in time: the soonest, not the cheapest (the parcel is late already).
        let late = RatePolicy::CheapestOnTime.choose(
            &rates,
            LabelFormat::Pdf,
            Some(t("2026-12-02T00:00:00Z")),
        );
        assert_eq!(late.map(|r| r.rate_id.as_str()), Some("fast"));
    }

    #[test]
    fn a_fixed_service_is_taken_or_nothing_and_the_format_must_be_printable() {
        let rates = [rate("a", "USPS", 410, None), rate("b", "UPS", 900, None)];
        let fixed = RatePolicy::Fixed {
            carrier_id: "UPS".into(),
            service_id: "UPS-svc".into(),
        };
        assert_eq!(
            fixed
                .choose(&rates, LabelFormat::Zpl, None)
                .map(|r| r.rate_id.as_str()),
            Some("b")
        );
        let absent = RatePolicy::Fixed {
            carrier_id: "FEDEX".into(),
            service_id: "FEDEX-svc".into(),
        };
        assert!(absent.choose(&rates, LabelFormat::Zpl, None).is_none());
        assert!(
            RatePolicy::CheapestOnTime
                .choose(&rates, LabelFormat::Png, None)
                .is_none()
        );
    }

    #[test]
    fn package_ids_are_checked_and_charges_are_exact() {
        assert!(PackageId::parse("pkg-1_A").is_ok());
        assert!(PackageId::parse("").is_err());
        assert!(PackageId::parse("pkg 1").is_err());
        assert!(PackageId::parse("x".repeat(41)).is_err());
        assert_eq!(Charge::from_decimal(5.12, "USD").minor, 512);
        assert_eq!(Charge::from_decimal(0.1 + 0.2, "USD").minor, 30);
    }

    #[test]
    fn a_purchased_label_never_prints_its_document() {
        let label = PurchasedLabel {
            shipment_id: "s".into(),
            tracking_id: Some("TBA1".into()),
            carrier_id: "AMZN_US".into(),
            service_id: "std".into(),
            charge: Charge::from_decimal(4.1, "USD"),
            delivery_window: None,
            format: LabelFormat::Pdf,
            document: Pii::new(b"Jane Buyer, 1 Main St".to_vec()),
        };
        let shown = format!("{label:?}");
        assert!(!shown.contains("Jane"), "{shown}");
    }
}
