//! The PII vault: KMS envelope encryption over the pii table.
//!
//! Per order, one data key from KMS `GenerateDataKey` with encryption context
//! `{seller_id, order_id}`; each PII part is sealed with AES-256-GCM under that key, with the
//! same identity (plus the part's kind) as additional authenticated data. A sealed item copied
//! to another order's key does not open: KMS refuses the data key under the other context, and
//! GCM refuses the ciphertext under the other AAD. Each open is a KMS `Decrypt` that CloudTrail
//! records with the order's context.

use super::batch::Written;
use super::pii_table::{PiiTable, seller_order};
use super::{io_failure, is_condition_failure, read_item};
use crate::kernel::{
    Address, AmazonOrderId, OrderPii, PackageId, Pii, PiiKind, SellerId, StoreError,
};
use crate::orders::{Correction, ShipToCorrector, StoredOrder};
use crate::pii::{KeysAhead, OpenedPii, PiiOpener, PiiSealer, SealRequest, VaultError};
use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use zeroize::Zeroizing;

pub(super) const FORMAT_VERSION: u8 = 1;

#[derive(Clone)]
pub struct KmsPiiVault {
    kms: aws_sdk_kms::Client,
    table: PiiTable,
    key_id: String,
}

/// Corrects an order's ship-to: the sealed item in the pii table and the order's record in the
/// orders table, in one transaction.
pub struct KmsShipToCorrector {
    pub vault: KmsPiiVault,
    pub orders_table: String,
}

/// The condition a sealed item is written on, and its `:v`.
fn overwrite_condition(overwrite: &Overwrite) -> Option<(&'static str, Option<AttributeValue>)> {
    match overwrite {
        // Nor over a corrected ship-to: the buyer's correction outlives Amazon's copy.
        Overwrite::IfNotNewerThan(updated) => Some((
            "attribute_not_exists(kind) OR \
             (order_updated_ms <= :v AND attribute_not_exists(corrected_at))",
            Some(AttributeValue::N(updated.timestamp_millis().to_string())),
        )),
        Overwrite::Never => Some(("attribute_not_exists(kind)", None)),
        Overwrite::Corrected { .. } => None,
    }
}

/// Data keys asked of KMS at once when many orders are sealed together.
const DATA_KEYS_AT_ONCE: usize = 10;

/// One sealed item. Only ciphertext and ids: a raw scan of the table shows no PII.
#[derive(Serialize, Deserialize)]
struct SealedItem {
    seller_order: String,
    kind: PiiKind,
    v: u8,
    key_id: String,
    #[serde(with = "serde_bytes")]
    edk: Vec<u8>,
    #[serde(with = "serde_bytes")]
    nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    ct: Vec<u8>,
    /// Amazon's last update of the order the PII came with (ms); PII of an earlier update
    /// never replaces that of a later one.
    order_updated_ms: i64,
    /// The TTL attribute: DynamoDB deletes the item some time after this (a backstop; the
    /// redactor purges on the day).
    pii_purge_at: i64,
    sealed_at: DateTime<Utc>,
    /// Set on a ship-to sealed by a data-subject correction: intake never writes over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    corrected_at: Option<DateTime<Utc>>,
}

// Plaintext layouts, used only between the vault and AES-GCM.
#[derive(Serialize)]
struct BuyerOut<'a> {
    name: Option<&'a str>,
    email: Option<&'a str>,
    company_name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddressOut<'a> {
    name: Option<&'a str>,
    company_name: Option<&'a str>,
    address_line1: Option<&'a str>,
    address_line2: Option<&'a str>,
    address_line3: Option<&'a str>,
    city: Option<&'a str>,
    district_or_county: Option<&'a str>,
    state_or_region: Option<&'a str>,
    municipality: Option<&'a str>,
    postal_code: Option<&'a str>,
    country_code: Option<&'a str>,
    phone: Option<&'a str>,
    address_type: Option<&'a str>,
}

fn ex(v: &Option<Pii<String>>) -> Option<&str> {
    v.as_ref().map(|p| p.expose().as_str())
}

fn plaintext(pii: &OrderPii, kind: &PiiKind) -> Option<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(512));
    let written = match kind {
        PiiKind::Buyer => pii.buyer.as_ref().map(|b| {
            serde_json::to_writer(
                &mut *buf,
                &BuyerOut {
                    name: ex(&b.name),
                    email: ex(&b.email),
                    company_name: ex(&b.company_name),
                },
            )
        }),
        PiiKind::Recipient => pii.recipient.as_ref().map(|a| {
            serde_json::to_writer(
                &mut *buf,
                &AddressOut {
                    name: ex(&a.name),
                    company_name: ex(&a.company_name),
                    address_line1: ex(&a.address_line1),
                    address_line2: ex(&a.address_line2),
                    address_line3: ex(&a.address_line3),
                    city: ex(&a.city),
                    district_or_county: ex(&a.district_or_county),
                    state_or_region: ex(&a.state_or_region),
                    municipality: ex(&a.municipality),
                    postal_code: ex(&a.postal_code),
                    country_code: ex(&a.country_code),
                    phone: ex(&a.phone),
                    address_type: ex(&a.address_type),
                },
            )
        }),
        // A label document is sealed as it came (`seal_label`), not from the order's PII.
        PiiKind::Label(_) => None,
    };
    // Writing plain strings into a Vec cannot fail.
    written.and_then(Result::ok).map(|()| buf)
}

fn parse_plaintext(kind: &PiiKind, bytes: &[u8]) -> Option<OpenedPii> {
    match kind {
        PiiKind::Buyer => serde_json::from_slice(bytes).ok().map(OpenedPii::Buyer),
        PiiKind::Recipient => serde_json::from_slice(bytes).ok().map(OpenedPii::Recipient),
        PiiKind::Label(_) => Some(OpenedPii::Label(Pii::new(bytes.to_vec()))),
    }
}

/// The identity a sealed part is bound to: AES-GCM additional authenticated data.
fn aad(seller: &SellerId, order: &AmazonOrderId, kind: &PiiKind) -> Vec<u8> {
    format!("fbm-pii/v{FORMAT_VERSION}/{seller}/{order}/{}", kind.key()).into_bytes()
}

impl KmsPiiVault {
    pub fn new(kms: aws_sdk_kms::Client, table: PiiTable, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            table,
            key_id: key_id.into(),
        }
    }

    /// The pii table it seals into.
    pub fn table(&self) -> &PiiTable {
        &self.table
    }

    fn kms_error<E>(
        operation: &'static str,
        order: &AmazonOrderId,
        e: aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
    ) -> VaultError
    where
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        VaultError::Kms {
            order_id: order.to_string(),
            io: io_failure(operation, e),
        }
    }
}

/// One data key for an order's items: plaintext (zeroized on drop) and wrapped.
struct DataKey {
    key: RandomizedNonceKey,
    edk: Vec<u8>,
    key_id: String,
}

/// Data keys asked for ahead (`keys_ahead`), by order, or why KMS gave none: sealing meets
/// that failure rather than asking again (a KMS that hangs would be waited for twice).
type AheadKeys = HashMap<(SellerId, AmazonOrderId), Result<DataKey, VaultError>>;

/// When a sealed item may be written over.
enum Overwrite {
    /// Intake's parts: unless PII of a later update of the order is sealed already.
    IfNotNewerThan(DateTime<Utc>),
    /// A label document: once (the same package's label again changes nothing).
    Never,
    /// A data-subject correction at `at`: in place of what is held (its guard is the order's
    /// record). It keeps the Amazon update the order stands at, so what stops intake sealing
    /// Amazon's later copy over it is the correction's mark alone.
    Corrected {
        at: DateTime<Utc>,
        order_updated: DateTime<Utc>,
    },
}

impl KmsPiiVault {
    async fn data_key(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<DataKey, VaultError> {
        let data_key = self
            .kms
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("seller_id", seller.as_str())
            .encryption_context("order_id", order.as_str())
            .send()
            .await
            .map_err(|e| Self::kms_error("GenerateDataKey", order, e))?;
        let seal_err = || VaultError::Seal {
            order_id: order.to_string(),
        };
        let key_bytes = Zeroizing::new(data_key.plaintext.ok_or_else(seal_err)?.into_inner());
        Ok(DataKey {
            key: RandomizedNonceKey::new(&AES_256_GCM, &key_bytes).map_err(|_| seal_err())?,
            edk: data_key.ciphertext_blob.ok_or_else(seal_err)?.into_inner(),
            key_id: data_key.key_id.unwrap_or_else(|| self.key_id.clone()),
        })
    }

    /// Seal `in_out` as the order's `kind` item, as the table stores it.
    #[allow(clippy::too_many_arguments)]
    fn sealed_item(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        key: &DataKey,
        kind: PiiKind,
        mut in_out: Zeroizing<Vec<u8>>,
        overwrite: &Overwrite,
        purge_at: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, AttributeValue>, VaultError> {
        let nonce = key
            .key
            .seal_in_place_append_tag(Aad::from(aad(seller, order, &kind)), &mut *in_out)
            .map_err(|_| VaultError::Seal {
                order_id: order.to_string(),
            })?;
        let now = Utc::now();
        let item = SealedItem {
            seller_order: seller_order(seller, order),
            kind,
            v: FORMAT_VERSION,
            key_id: key.key_id.clone(),
            edk: key.edk.clone(),
            nonce: nonce.as_ref().to_vec(),
            ct: in_out.to_vec(),
            order_updated_ms: match overwrite {
                Overwrite::IfNotNewerThan(updated) => updated.timestamp_millis(),
                Overwrite::Corrected { order_updated, .. } => order_updated.timestamp_millis(),
                Overwrite::Never => now.timestamp_millis(),
            },
            pii_purge_at: purge_at.timestamp(),
            sealed_at: now,
            corrected_at: match overwrite {
                Overwrite::Corrected { at, .. } => Some(*at),
                _ => None,
            },
        };
        Ok(
            serde_dynamo::to_item(&item).map_err(|e| StoreError::Corrupt {
                what: format!("sealed item of order {order}: {e}"),
            })?,
        )
    }

    /// Seal `in_out` as the order's `kind` item and write it once: `false` when that item is
    /// sealed already (kept as it is). Labels; an order's buyer and recipient go through
    /// `seal_many`.
    async fn put_once(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        key: &DataKey,
        kind: PiiKind,
        in_out: Zeroizing<Vec<u8>>,
        purge_at: DateTime<Utc>,
    ) -> Result<bool, VaultError> {
        let overwrite = Overwrite::Never;
        let item = self.sealed_item(seller, order, key, kind, in_out, &overwrite, purge_at)?;
        let put = self
            .table
            .dynamo
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item));
        let put = match overwrite_condition(&overwrite) {
            Some((condition, _)) => put.condition_expression(condition),
            None => put,
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(super::store_error("PutItem", e).into()),
        }
    }

    /// A corrected ship-to's purge date set to `purge_at`, as of Amazon's update at `updated`
    /// (never an older one's); nothing when the ship-to held is not a corrected one.
    async fn follow_purge_date(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        updated: DateTime<Utc>,
        purge_at: DateTime<Utc>,
    ) -> Result<(), VaultError> {
        let sent = self
            .table
            .dynamo
            .update_item()
            .table_name(&self.table.name)
            .key(
                "seller_order",
                AttributeValue::S(seller_order(seller, order)),
            )
            .key(
                "kind",
                AttributeValue::S(PiiKind::Recipient.key().into_owned()),
            )
            .update_expression("SET pii_purge_at = :p, order_updated_ms = :v")
            .condition_expression("attribute_exists(corrected_at) AND order_updated_ms <= :v")
            .expression_attribute_values(":p", AttributeValue::N(purge_at.timestamp().to_string()))
            .expression_attribute_values(
                ":v",
                AttributeValue::N(updated.timestamp_millis().to_string()),
            )
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(super::store_error("UpdateItem", e).into()),
        }
    }
}

#[async_trait]
impl PiiSealer for KmsPiiVault {
    /// One order is a batch of one: the one way PII is sealed.
    async fn seal(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        order_updated_at: DateTime<Utc>,
        pii: &OrderPii,
        purge_at: DateTime<Utc>,
    ) -> Result<usize, VaultError> {
        let request = SealRequest {
            seller,
            order,
            order_updated_at,
            pii,
            purge_at,
        };
        self.seal_many(&[request], &mut KeysAhead::none())
            .await
            .pop()
            .expect("one answer per order")
    }

    /// One `GenerateDataKey` per order (at most ten at once), then every order's items in
    /// one `TransactWriteItems` (up to 100), each on its own condition: never over PII of a
    /// later update of the order, nor over a ship-to its buyer corrected. An item whose
    /// condition fails is kept as it is and the others are written.
    async fn seal_many(
        &self,
        requests: &[SealRequest<'_>],
        ahead: &mut KeysAhead,
    ) -> Vec<Result<usize, VaultError>> {
        let mut ready: Vec<Option<Result<DataKey, VaultError>>> = requests
            .iter()
            .map(|r| {
                let keys = ahead.of::<AheadKeys>()?;
                keys.remove(&(r.seller.clone(), r.order.clone()))
            })
            .collect();
        let keys: Vec<Result<Option<DataKey>, VaultError>> = stream::iter(0..requests.len())
            .map(|i| {
                let r = requests[i];
                let ready = ready[i].take();
                async move {
                    if r.pii.kinds().is_empty() {
                        return Ok(None);
                    }
                    match ready {
                        Some(key) => key.map(Some),
                        None => self.data_key(r.seller, r.order).await.map(Some),
                    }
                }
            })
            .buffered(DATA_KEYS_AT_ONCE)
            .collect()
            .await;
        let mut answers: Vec<Result<usize, VaultError>> = Vec::with_capacity(requests.len());
        let mut puts = Vec::new();
        // Per put: whose it is, and whether it is a ship-to a correction may hold.
        let mut owners: Vec<(usize, bool)> = Vec::new();
        for (i, (r, key)) in requests.iter().zip(keys).enumerate() {
            let key = match key {
                Ok(Some(key)) => key,
                Ok(None) => {
                    answers.push(Ok(0));
                    continue;
                }
                Err(e) => {
                    answers.push(Err(e));
                    continue;
                }
            };
            answers.push(Ok(0));
            let overwrite = Overwrite::IfNotNewerThan(r.order_updated_at);
            for kind in r.pii.kinds() {
                let Some(in_out) = plaintext(r.pii, &kind) else {
                    continue;
                };
                let recipient = kind == PiiKind::Recipient;
                let put = self
                    .sealed_item(
                        r.seller, r.order, &key, kind, in_out, &overwrite, r.purge_at,
                    )
                    .and_then(|item| {
                        let put = Put::builder()
                            .table_name(&self.table.name)
                            .set_item(Some(item));
                        let put = match overwrite_condition(&overwrite) {
                            Some((condition, value)) => put
                                .condition_expression(condition)
                                .set_expression_attribute_values(
                                    value.map(|v| HashMap::from([(":v".into(), v)])),
                                ),
                            None => put,
                        };
                        put.build().map_err(|e| {
                            VaultError::from(StoreError::Corrupt {
                                what: format!("sealed item of order {}: {e}", r.order),
                            })
                        })
                    });
                match put {
                    Ok(put) => {
                        puts.push(TransactWriteItem::builder().put(put).build());
                        owners.push((i, recipient));
                    }
                    Err(e) => answers[i] = Err(e),
                }
            }
        }
        let written = super::batch::transact_each(&self.table.dynamo, puts).await;
        for ((i, recipient), w) in owners.into_iter().zip(written) {
            let Ok(count) = answers[i].as_mut() else {
                continue;
            };
            match w {
                Ok(Written::Yes) => *count += 1,
                // PII of a later update is sealed already, or a corrected ship-to: kept; the
                // corrected one goes on the date Amazon's update sets.
                Ok(Written::ConditionFailed(_)) if recipient => {
                    let r = &requests[i];
                    if let Err(e) = self
                        .follow_purge_date(r.seller, r.order, r.order_updated_at, r.purge_at)
                        .await
                    {
                        answers[i] = Err(e);
                    }
                }
                Ok(Written::ConditionFailed(_)) => {}
                Err(e) => answers[i] = Err(e.into()),
            }
        }
        answers
    }

    /// One `GenerateDataKey` per order, at most ten at once, as `seal_many` would ask.
    async fn keys_ahead(&self, orders: &[(&SellerId, &AmazonOrderId)]) -> KeysAhead {
        let keys: AheadKeys = stream::iter(0..orders.len())
            .map(|i| {
                let (seller, order) = orders[i];
                async move {
                    let key = self.data_key(seller, order).await;
                    ((seller.clone(), order.clone()), key)
                }
            })
            .buffer_unordered(DATA_KEYS_AT_ONCE)
            .collect()
            .await;
        KeysAhead::new(keys)
    }

    async fn seal_label(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        package: &PackageId,
        document: &Pii<Vec<u8>>,
        purge_at: DateTime<Utc>,
    ) -> Result<bool, VaultError> {
        let key = self.data_key(seller, order).await?;
        let in_out = Zeroizing::new(document.expose().clone());
        let kind = PiiKind::Label(package.clone());
        self.put_once(seller, order, &key, kind, in_out, purge_at)
            .await
    }
}

#[async_trait]
impl ShipToCorrector for KmsShipToCorrector {
    async fn correct_ship_to(
        &self,
        corrected: &StoredOrder,
        ship_to: &Address,
    ) -> Result<Correction, VaultError> {
        let vault = &self.vault;
        let (seller, order) = (&corrected.order.seller_id, &corrected.order.order_id);
        let at = corrected
            .pii
            .ship_to_corrected
            .as_ref()
            .map_or_else(Utc::now, |c| c.at);
        let pii = OrderPii {
            buyer: None,
            recipient: Some(ship_to.clone()),
        };
        let in_out = plaintext(&pii, &PiiKind::Recipient).ok_or_else(|| VaultError::Seal {
            order_id: order.to_string(),
        })?;
        let key = vault.data_key(seller, order).await?;
        let sealed = vault.sealed_item(
            seller,
            order,
            &key,
            PiiKind::Recipient,
            in_out,
            &Overwrite::Corrected {
                at,
                order_updated: corrected.order.last_updated_at,
            },
            corrected.pii.purge_at,
        )?;
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt {
            what: format!("correction of order {order}: {e}"),
        };
        let record = Put::builder()
            .table_name(&self.orders_table)
            .set_item(Some(super::orders::record_item(corrected)?))
            .condition_expression("revision = :read")
            .expression_attribute_values(":read", AttributeValue::N(corrected.revision.to_string()))
            .build()
            .map_err(built)?;
        // In place of a ship-to still held: a redactor deleting the order's items between our
        // read and this write is never undone.
        let sealed = Put::builder()
            .table_name(&vault.table.name)
            .set_item(Some(sealed))
            .condition_expression("attribute_exists(kind)")
            .build()
            .map_err(built)?;
        let sent = vault
            .table
            .dynamo
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(record).build())
            .transact_items(TransactWriteItem::builder().put(sealed).build())
            .send()
            .await;
        let Err(e) = sent else {
            return Ok(Correction::Written(corrected.revision + 1));
        };
        match super::cancellation_codes(&e).as_deref() {
            // The record's check comes first: a record that moved says nothing of the item.
            Some([Some(_), ..]) | Some([]) => Ok(Correction::RecordMoved),
            Some([None, Some(c)]) if c == "ConditionalCheckFailed" => Ok(Correction::ShipToGone),
            Some([None, Some(_)]) => Ok(Correction::RecordMoved),
            _ => Err(super::store_error("TransactWriteItems", e).into()),
        }
    }
}

#[async_trait]
impl PiiOpener for KmsPiiVault {
    async fn open(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        kind: PiiKind,
    ) -> Result<Option<OpenedPii>, VaultError> {
        let Some(sealed) = read_item::<SealedItem>(
            &self.table.dynamo,
            &self.table.name,
            [
                ("seller_order", seller_order(seller, order)),
                ("kind", kind.key().into_owned()),
            ],
            || format!("sealed {} item of order {order}", kind.name()),
        )
        .await?
        else {
            return Ok(None);
        };
        let does_not_open = || VaultError::DoesNotOpen {
            order_id: order.to_string(),
            kind: kind.name(),
        };
        let decrypted = self
            .kms
            .decrypt()
            .key_id(&sealed.key_id)
            .ciphertext_blob(Blob::new(sealed.edk))
            .encryption_context("seller_id", seller.as_str())
            .encryption_context("order_id", order.as_str())
            .send()
            .await;
        let data_key = match decrypted {
            Ok(out) => Zeroizing::new(out.plaintext.ok_or_else(does_not_open)?.into_inner()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_ciphertext_exception()) =>
            {
                return Err(does_not_open());
            }
            Err(e) => return Err(Self::kms_error("Decrypt", order, e)),
        };
        let key = RandomizedNonceKey::new(&AES_256_GCM, &data_key).map_err(|_| does_not_open())?;
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| does_not_open())?;
        let mut in_out = Zeroizing::new(sealed.ct);
        let plain = key
            .open_in_place(nonce, Aad::from(aad(seller, order, &kind)), &mut in_out)
            .map_err(|_| does_not_open())?;
        parse_plaintext(&kind, plain)
            .map(Some)
            .ok_or_else(does_not_open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::BuyerPii;

    #[test]
    fn plaintext_round_trips_through_the_layouts() {
        let pii = OrderPii {
            buyer: Some(BuyerPii {
                name: Some("Odalys P. Brennan".into()),
                email: None,
                company_name: None,
            }),
            recipient: None,
        };
        let bytes = plaintext(&pii, &PiiKind::Buyer).unwrap();
        let Some(OpenedPii::Buyer(b)) = parse_plaintext(&PiiKind::Buyer, &bytes) else {
            panic!("buyer did not parse")
        };
        assert_eq!(b.name.unwrap().expose(), "Odalys P. Brennan");
        assert!(plaintext(&pii, &PiiKind::Recipient).is_none());
    }

    #[test]
    fn aad_binds_seller_order_and_kind() {
        let s = SellerId::parse("A1").unwrap();
        let o = AmazonOrderId::parse("113-1234567-1234567").unwrap();
        let o2 = AmazonOrderId::parse("113-1234567-1234568").unwrap();
        assert_ne!(aad(&s, &o, &PiiKind::Buyer), aad(&s, &o2, &PiiKind::Buyer));
        assert_ne!(
            aad(&s, &o, &PiiKind::Buyer),
            aad(&s, &o, &PiiKind::Recipient)
        );
    }
}
