//! The jobs the label-jobs queue carries, ids and package facts only: a label to buy (the
//! shape without `kind`, or `kind: "label"`), a label to void (`kind: "void"`), a package the
//! operator shipped on its own carrier to confirm (`kind: "ship"`), an unresolved purchase the
//! operator has looked up and settles (`kind: "settle"`). Unknown fields are refused.

use super::model::PackageItem;
use super::worker::LabelJob;
use crate::kernel::{AmazonOrderId, PackageId, SellerId, serde_reason};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub enum ShipmentJob {
    Label(LabelJob),
    Void(VoidJob),
    Ship(ShipJob),
    Settle(SettleJob),
}

/// The operator's finding on a purchase left unresolved (sent, its rate then expired, its
/// answer never read): `shipment_id` of the label Amazon shows bought under the attempt's
/// idempotency key, or none when Amazon shows none (the next label job buys under the next
/// key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleJob {
    pub job_id: String,
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    /// The attempt settled (`<order>.<package>.<n>`, as the alarm and dead letter name it).
    pub idempotency_key: String,
    #[serde(default)]
    pub shipment_id: Option<String>,
    pub requested_by: String,
}

/// Void a package's bought label (Amazon refunds it while the carrier does not have the
/// parcel yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidJob {
    pub job_id: String,
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    /// The label to void, as the order's parcels show it. A job that names it never voids
    /// another (a label bought for the package since); without it, the label on record.
    #[serde(default)]
    pub shipment_id: Option<String>,
    pub requested_by: String,
}

/// A package shipped on the operator's own carrier account: its carrier (a code from
/// Amazon's list; `carrier_name` only with `Other`), tracking number, ship date and items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipJob {
    pub job_id: String,
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub package_id: PackageId,
    pub carrier_code: String,
    #[serde(default)]
    pub carrier_name: Option<String>,
    #[serde(default)]
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    pub items: Vec<PackageItem>,
    pub requested_by: String,
}

impl ShipmentJob {
    /// A message body as one of the jobs; the reason names the field, never a value.
    pub fn parse(body: &str) -> Result<Self, String> {
        let mut value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| serde_reason(&e))?;
        let kind = match value.as_object_mut().map(|o| o.remove("kind")) {
            None => return Err("a job is a JSON object".into()),
            Some(None) => "label".to_owned(),
            Some(Some(serde_json::Value::String(k))) => k,
            Some(Some(_)) => return Err("kind: a string (label, void, ship or settle)".into()),
        };
        let read = |e: serde_json::Error| format!("{kind} job: {}", serde_reason(&e));
        match kind.as_str() {
            "label" => serde_json::from_value(value).map(Self::Label).map_err(read),
            "void" => serde_json::from_value(value).map(Self::Void).map_err(read),
            "ship" => serde_json::from_value(value).map(Self::Ship).map_err(read),
            "settle" => serde_json::from_value(value)
                .map(Self::Settle)
                .map_err(read),
            _ => Err(format!("kind: {kind:?} is not label, void, ship or settle")),
        }
    }

    pub fn job_id(&self) -> &str {
        match self {
            Self::Label(j) => &j.job_id,
            Self::Void(j) => &j.job_id,
            Self::Ship(j) => &j.job_id,
            Self::Settle(j) => &j.job_id,
        }
    }

    pub fn seller_id(&self) -> &SellerId {
        match self {
            Self::Label(j) => &j.seller_id,
            Self::Void(j) => &j.seller_id,
            Self::Ship(j) => &j.seller_id,
            Self::Settle(j) => &j.seller_id,
        }
    }

    pub fn order_id(&self) -> &AmazonOrderId {
        match self {
            Self::Label(j) => &j.order_id,
            Self::Void(j) => &j.order_id,
            Self::Ship(j) => &j.order_id,
            Self::Settle(j) => &j.order_id,
        }
    }

    /// The message body as the queue carries it: the job's fields and its `kind`.
    pub fn body(&self) -> serde_json::Value {
        let fields = match self {
            Self::Label(j) => serde_json::to_value(j),
            Self::Void(j) => serde_json::to_value(j),
            Self::Ship(j) => serde_json::to_value(j),
            Self::Settle(j) => serde_json::to_value(j),
        };
        let mut body = fields.unwrap_or_default();
        if let Some(o) = body.as_object_mut() {
            o.insert("kind".into(), self.kind().into());
        }
        body
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Label(_) => "label",
            Self::Void(_) => "void",
            Self::Ship(_) => "ship",
            Self::Settle(_) => "settle",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_told_apart_by_kind_and_unknown_fields_are_refused() {
        let label = r#"{"job_id":"j1","seller_id":"A1SELLER","order_id":"113-0000000-0000001","packages":[],"requested_by":"station-4"}"#;
        assert!(matches!(
            ShipmentJob::parse(label),
            Ok(ShipmentJob::Label(_))
        ));
        let void = r#"{"kind":"void","job_id":"j2","seller_id":"A1SELLER","order_id":"113-0000000-0000001","package_id":"p1","requested_by":"sup-1"}"#;
        assert!(matches!(ShipmentJob::parse(void), Ok(ShipmentJob::Void(_))));
        let ship = r#"{"kind":"ship","job_id":"j3","seller_id":"A1SELLER","order_id":"113-0000000-0000001","package_id":"p1","carrier_code":"UPS","tracking_number":"1Z999","ship_date":"2026-12-01T10:00:00Z","items":[{"order_item_id":"11111111111111","quantity":1}],"requested_by":"dock"}"#;
        assert!(matches!(ShipmentJob::parse(ship), Ok(ShipmentJob::Ship(_))));
        let extra = void.replace("\"sup-1\"", "\"sup-1\",\"buyer_name\":\"x\"");
        let e = ShipmentJob::parse(&extra).unwrap_err();
        assert!(e.starts_with("void job:"), "{e}");
        assert!(!e.contains("\"x\""), "no values in reasons: {e}");
        assert!(ShipmentJob::parse(r#"{"kind":"refund"}"#).is_err());
        assert!(ShipmentJob::parse("[]").is_err());
    }
}
