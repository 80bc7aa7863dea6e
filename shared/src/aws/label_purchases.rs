//! The labels' records in the control table: each seller's label settings (`pk =
//! label-settings`, `sk = <seller>`, attribute `settings`), and the purchase ledger: `pk =
//! label#<seller>#<order>`, `sk = <package id>`. `state` is one of:
//! - `in_progress`, with the `attempt`: its key and the exact request;
//! - `purchased`, with the `label` on record;
//! - `voided`, with the label and `voided_at`;
//! - `abandoned`: an attempt the operator found bought nothing;
//! - `own_carrier`, with the package's `own_carrier` confirmation.
//!
//! `idem_key` is the attempt's key (`own#<package reference>` for an own-carrier package),
//! which every conditional write names; `holder` and `lease_ms` say who works the attempt until
//! when. The attempt's holder, lease and sent mark live both in the `attempt` map (as read
//! back) and as top-level attributes (as conditions compare them).

use super::{DynamoControl, StoreError, read_item};
use crate::kernel::{AmazonOrderId, SellerId};
use crate::labels::{
    LabelRecord, LabelSettings, LabelSettingsStore, OwnCarrierShipment, PackageId, PurchaseAttempt,
    PurchaseEntry, PurchaseLedger, VoidWrite, VoidedLabel,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const IN_PROGRESS: &str = "in_progress";
const PURCHASED: &str = "purchased";
const VOIDED: &str = "voided";
const OWN_CARRIER: &str = "own_carrier";
const ABANDONED: &str = "abandoned";

#[derive(Serialize, Deserialize)]
struct PurchaseItem {
    pk: String,
    sk: String,
    state: String,
    idem_key: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    attempt: Option<PurchaseAttempt>,
    #[serde(default)]
    holder: String,
    #[serde(default)]
    lease_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    label: Option<LabelRecord>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    voided_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    own_carrier: Option<OwnCarrierShipment>,
}

impl PurchaseItem {
    fn entry(self, order: &AmazonOrderId) -> Result<(PackageId, PurchaseEntry), StoreError> {
        let corrupt = || StoreError::Corrupt {
            what: format!("label purchase {order} {}: state {}", self.sk, self.state),
        };
        let package = PackageId::parse(&self.sk).map_err(|_| corrupt())?;
        let entry = match (self.state.as_str(), self.attempt, self.label) {
            (PURCHASED, _, Some(label)) => PurchaseEntry::Purchased(label),
            (IN_PROGRESS, Some(attempt), _) => PurchaseEntry::InProgress(attempt),
            (VOIDED, Some(attempt), Some(label)) => PurchaseEntry::Voided(VoidedLabel {
                label,
                attempt_number: attempt.number,
                voided_at: self.voided_at.ok_or_else(corrupt)?,
            }),
            (OWN_CARRIER, ..) => PurchaseEntry::OwnCarrier(self.own_carrier.ok_or_else(corrupt)?),
            (ABANDONED, Some(attempt), _) => PurchaseEntry::Abandoned {
                attempt_number: attempt.number,
                key: attempt.idempotency_key,
            },
            _ => return Err(corrupt()),
        };
        Ok((package, entry))
    }
}

impl PurchaseItem {
    /// The package's record in `state` under `key`, nothing else on it yet.
    fn blank(
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        state: &str,
        key: &str,
    ) -> Self {
        Self {
            pk: pk(seller, order),
            sk: package.to_string(),
            state: state.into(),
            idem_key: key.into(),
            attempt: None,
            holder: String::new(),
            lease_ms: 0,
            label: None,
            voided_at: None,
            own_carrier: None,
        }
    }
}

/// What a record may be replaced over: the one with key `previous`, while `holds` (a condition
/// on `#state`, its values in `states`).
struct Replacing<'a> {
    previous: &'a str,
    holds: &'static str,
    states: &'static [(&'static str, &'static str)],
}

/// The package a ledger write is for.
type Package<'a> = (&'a SellerId, &'a AmazonOrderId, &'a PackageId);

impl DynamoControl {
    /// Move the package's record to state `to` (and set `also`, an attribute and its value)
    /// if it is in one of the states `from` under key `key`. `false`: it is not.
    async fn transition(
        &self,
        (seller, order, package): Package<'_>,
        key: &str,
        from: &[&'static str],
        to: &'static str,
        also: Option<(&'static str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let names: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let set = match &also {
            Some((attribute, _)) => format!("SET #state = :to, {attribute} = :also"),
            None => "SET #state = :to".to_owned(),
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk(seller, order)))
            .key("sk", s(package.as_str()))
            .update_expression(set)
            .condition_expression(format!(
                "#state IN ({}) AND idem_key = :key",
                names.join(", ")
            ))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":to", s(to))
            .expression_attribute_values(":key", s(key));
        let update = names.iter().zip(from).fold(update, |u, (name, state)| {
            u.expression_attribute_values(name.as_str(), s(state))
        });
        let update = match also {
            Some((_, value)) => update.expression_attribute_values(":also", value),
            None => update,
        };
        super::written("UpdateItem", update.send().await)
    }

    /// Put `item` as the package's record: if it has none (`replacing: None`), or over the
    /// record `replacing` names. `false`: another writer came first.
    async fn put_entry(
        &self,
        item: &PurchaseItem,
        order: &AmazonOrderId,
        package: &PackageId,
        replacing: Option<Replacing<'_>>,
    ) -> Result<bool, StoreError> {
        let encoded = serde_dynamo::to_item(item).map_err(|e| unencodable(order, package, e))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encoded));
        let put = match replacing {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(r) => r.states.iter().fold(
                put.condition_expression(format!("idem_key = :previous AND ({})", r.holds))
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_values(":previous", s(r.previous)),
                |put, (name, state)| put.expression_attribute_values(*name, s(state)),
            ),
        };
        super::written("PutItem", put.send().await)
    }
}

/// The key an own-carrier package's record names in its conditions.
fn own_key(shipment: &OwnCarrierShipment) -> String {
    format!("own#{}", shipment.package_reference_id)
}

const SETTINGS_PK: &str = "label-settings";

/// A seller's label settings item, as onboarding writes it.
#[derive(Serialize, Deserialize)]
pub struct LabelSettingsItem {
    pub pk: String,
    pub sk: String,
    pub settings: LabelSettings,
}

impl LabelSettingsItem {
    pub fn new(seller: &SellerId, settings: LabelSettings) -> Self {
        Self {
            pk: SETTINGS_PK.into(),
            sk: seller.to_string(),
            settings,
        }
    }
}

#[async_trait]
impl LabelSettingsStore for DynamoControl {
    async fn label_settings(&self, seller: &SellerId) -> Result<Option<LabelSettings>, StoreError> {
        let item: Option<LabelSettingsItem> = read_item(
            &self.client,
            &self.table,
            [("pk", SETTINGS_PK.into()), ("sk", seller.to_string())],
            || format!("label settings of seller {seller}"),
        )
        .await?;
        Ok(item.map(|i| i.settings))
    }
}

fn pk(seller: &SellerId, order: &AmazonOrderId) -> String {
    format!("label#{seller}#{order}")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// A record of the package that does not encode (names ids, never values).
fn unencodable(order: &AmazonOrderId, package: &PackageId, e: serde_dynamo::Error) -> StoreError {
    StoreError::Corrupt {
        what: format!("label purchase {order} {package}: {e}"),
    }
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[async_trait]
impl PurchaseLedger for DynamoControl {
    async fn load(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
    ) -> Result<Option<PurchaseEntry>, StoreError> {
        let item: Option<PurchaseItem> = read_item(
            &self.client,
            &self.table,
            [("pk", pk(seller, order)), ("sk", package.to_string())],
            || format!("label purchase {order} {package}"),
        )
        .await?;
        item.map(|i| i.entry(order).map(|(_, e)| e)).transpose()
    }

    async fn entries(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Vec<(PackageId, PurchaseEntry)>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&pk(seller, order)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| super::store_error("Query", e))?;
        items
            .items()
            .iter()
            .map(|item| {
                let i: PurchaseItem =
                    serde_dynamo::from_item(item.clone()).map_err(|e| StoreError::Corrupt {
                        what: format!("label purchases of {order}: {e}"),
                    })?;
                i.entry(order)
            })
            .collect()
    }

    async fn start(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        attempt: &PurchaseAttempt,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError> {
        let item = PurchaseItem {
            attempt: Some(attempt.clone()),
            holder: attempt.holder.clone(),
            lease_ms: attempt.lease_until.timestamp_millis(),
            ..PurchaseItem::blank(
                seller,
                order,
                package,
                IN_PROGRESS,
                &attempt.idempotency_key,
            )
        };
        let replacing = replacing.map(|previous| Replacing {
            previous,
            holds: "#state IN (:in_progress, :voided, :abandoned)",
            states: &[
                (":in_progress", IN_PROGRESS),
                (":voided", VOIDED),
                (":abandoned", ABANDONED),
            ],
        });
        self.put_entry(&item, order, package, replacing).await
    }

    async fn claim(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        key: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let value = |v: DateTime<Utc>| {
            serde_dynamo::to_attribute_value(v).map_err(|e| unencodable(order, package, e))
        };
        let at = value(now)?;
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk(seller, order)))
            .key("sk", s(package.as_str()))
            .update_expression(
                "SET holder = :me, lease_ms = :lease, attempt.holder = :me, \
                 attempt.lease_until = :lease_at, \
                 attempt.sent_at = if_not_exists(attempt.sent_at, :now)",
            )
            .condition_expression(
                "#state = :in_progress AND idem_key = :key AND (holder = :me OR lease_ms < :now_ms)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":key", s(key))
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":lease", n(lease_until.timestamp_millis()))
            .expression_attribute_values(
                ":lease_at",
                value(lease_until)?,
            )
            .expression_attribute_values(":now", at)
            .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
            .send()
            .await;
        super::written("UpdateItem", claimed)
    }

    async fn complete(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        record: &LabelRecord,
    ) -> Result<bool, StoreError> {
        let label =
            serde_dynamo::to_attribute_value(record).map_err(|e| unencodable(order, package, e))?;
        let done = self
            .transition(
                (seller, order, package),
                &record.idempotency_key,
                &[IN_PROGRESS],
                PURCHASED,
                Some(("label", label)),
            )
            .await?;
        if done {
            return Ok(true);
        }
        // Finished already under the same key (two processes on one attempt): done.
        Ok(matches!(
            self.load(seller, order, package).await?,
            Some(PurchaseEntry::Purchased(r)) if r.idempotency_key == record.idempotency_key
        ))
    }

    async fn void(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<VoidWrite, StoreError> {
        let when =
            serde_dynamo::to_attribute_value(at).map_err(|e| unencodable(order, package, e))?;
        let voided = self
            .transition(
                (seller, order, package),
                key,
                &[PURCHASED],
                VOIDED,
                Some(("voided_at", when)),
            )
            .await?;
        if voided {
            return Ok(VoidWrite::Voided);
        }
        Ok(match self.load(seller, order, package).await? {
            Some(PurchaseEntry::Voided(v)) if v.label.idempotency_key == key => {
                VoidWrite::AlreadyVoided
            }
            _ => VoidWrite::Other,
        })
    }

    async fn abandon(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        key: &str,
    ) -> Result<bool, StoreError> {
        self.transition(
            (seller, order, package),
            key,
            &[IN_PROGRESS, ABANDONED],
            ABANDONED,
            None,
        )
        .await
    }

    async fn next_package_reference(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        floor: u64,
    ) -> Result<u64, StoreError> {
        // Beside the order's package records, not among them (`entries` reads those).
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&format!("{}#refs", pk(seller, order))))
            .key("sk", s("package-references"))
            .update_expression("SET next_ref = if_not_exists(next_ref, :floor) + :one")
            .expression_attribute_values(":floor", n(floor as i64))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| super::store_error("UpdateItem", e))?;
        counted
            .attributes()
            .and_then(|a| a.get("next_ref"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Corrupt {
                what: format!("package references of order {order}: no next_ref"),
            })
    }

    async fn start_own_carrier(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        shipment: &OwnCarrierShipment,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError> {
        let item = PurchaseItem {
            own_carrier: Some(shipment.clone()),
            ..PurchaseItem::blank(seller, order, package, OWN_CARRIER, &own_key(shipment))
        };
        let replacing = replacing.map(|previous| Replacing {
            previous,
            holds: "#state IN (:voided, :abandoned) OR \
                    (#state = :own AND attribute_not_exists(own_carrier.confirmed_at))",
            states: &[
                (":voided", VOIDED),
                (":abandoned", ABANDONED),
                (":own", OWN_CARRIER),
            ],
        });
        self.put_entry(&item, order, package, replacing).await
    }

    async fn own_carrier_confirmed(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let when =
            serde_dynamo::to_attribute_value(at).map_err(|e| unencodable(order, package, e))?;
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk(seller, order)))
            .key("sk", s(package.as_str()))
            .update_expression(
                "SET own_carrier.confirmed_at = if_not_exists(own_carrier.confirmed_at, :at)",
            )
            .condition_expression("#state = :own")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":own", s(OWN_CARRIER))
            .expression_attribute_values(":at", when)
            .send()
            .await;
        super::written("UpdateItem", marked)
    }
}
