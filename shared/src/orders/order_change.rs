//! `ORDER_CHANGE` notifications as Amazon puts them on our SQS queue: the PascalCase envelope
//! of `OrderChangeNotification.json`. Read into [`OrderChange`], which carries ids, statuses
//! and quantities only. `DestinationPostalCode` is part of the buyer's address and is never
//! read: its field is `IgnoredAny`, so it must be present, as the schema says, and is never held.
//! Every field the schema requires is required here; those we do not use are `IgnoredAny`.

use crate::kernel::{AmazonOrderId, MarketplaceId, OrderItemId, SellerId, Sku};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    notification_type: String,
    #[allow(dead_code)]
    notification_version: IgnoredAny,
    payload_version: String,
    #[allow(dead_code)]
    event_time: IgnoredAny,
    payload: Payload,
    notification_metadata: Metadata,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Payload {
    order_change_notification: Notification,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    notification_id: String,
    publish_time: DateTime<Utc>,
    #[allow(dead_code)]
    application_id: IgnoredAny,
    #[allow(dead_code)]
    subscription_id: IgnoredAny,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    #[allow(dead_code)]
    notification_level: IgnoredAny,
    seller_id: String,
    amazon_order_id: String,
    order_change_type: String,
    order_change_trigger: Trigger,
    summary: Summary,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Trigger {
    /// Required but nullable; a missing one reads as null too.
    time_of_order_change: Option<DateTime<Utc>>,
    /// Amazon's free text; not kept.
    #[allow(dead_code)]
    change_reason: IgnoredAny,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    marketplace_id: String,
    order_status: String,
    fulfillment_type: String,
    order_items: Vec<SummaryItem>,
    #[allow(dead_code)]
    purchase_date: IgnoredAny,
    /// Part of the buyer's address: required by the schema, never read.
    #[allow(dead_code)]
    destination_postal_code: IgnoredAny,
    #[allow(dead_code)]
    order_type: IgnoredAny,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SummaryItem {
    order_item_id: String,
    #[serde(rename = "SellerSKU")]
    seller_sku: String,
    quantity: u32,
    // `SupplySourceId` is never read, and Amazon's own example of the summary leaves it out:
    // not required here.
    #[serde(default)]
    quantity_shipped: u32,
    #[serde(default)]
    is_buyer_requested_cancel: bool,
}

/// Amazon's order status as the notification's summary states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifiedStatus {
    PendingAvailability,
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Canceled,
    Unfulfillable,
    InvoiceUnconfirmed,
}

impl NotifiedStatus {
    /// Amazon serves the buyer's name and the ship-to with the order in this status: one
    /// waiting to ship or shipped. Not while pending (not released yet), nor once cancelled.
    pub fn comes_with_pii(self) -> bool {
        matches!(
            self,
            NotifiedStatus::Unshipped | NotifiedStatus::PartiallyShipped | NotifiedStatus::Shipped
        )
    }
}

/// Whether we or Amazon ship the order: only `Merchant` orders are ours to fulfil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilledBy {
    Merchant,
    Amazon,
}

/// What changed, per the notification. Ids and quantities only.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    pub notification_id: String,
    pub seller_id: SellerId,
    pub order_id: AmazonOrderId,
    pub marketplace_id: MarketplaceId,
    pub status: NotifiedStatus,
    pub fulfilled_by: FulfilledBy,
    pub change_type: String,
    /// When the order changed; Amazon may leave it out, then the publish time stands in.
    pub changed_at: DateTime<Utc>,
    pub published_at: DateTime<Utc>,
    pub lines: Vec<ChangedLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangedLine {
    pub order_item_id: OrderItemId,
    pub sku: Sku,
    pub quantity: u32,
    pub quantity_shipped: u32,
    pub buyer_requested_cancel: bool,
}

/// Why a message is not an ORDER_CHANGE we can act on. It names the notification and order
/// when they could be read, and the offending field, never a value from the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("not an ORDER_CHANGE notification: {reason}")]
    Malformed { reason: String },
    #[error("notification {notification_id} is of type {notification_type}, not ORDER_CHANGE")]
    WrongType {
        notification_id: String,
        notification_type: String,
    },
    #[error("notification {notification_id}: unsupported payload version {version}")]
    UnsupportedVersion {
        notification_id: String,
        version: String,
    },
    #[error("notification {notification_id}: field {field} is invalid")]
    InvalidField {
        notification_id: String,
        field: &'static str,
    },
}

fn status(s: &str) -> Option<NotifiedStatus> {
    Some(match s {
        "PendingAvailability" => NotifiedStatus::PendingAvailability,
        "Pending" => NotifiedStatus::Pending,
        "Unshipped" => NotifiedStatus::Unshipped,
        "PartiallyShipped" => NotifiedStatus::PartiallyShipped,
        "Shipped" => NotifiedStatus::Shipped,
        "Canceled" => NotifiedStatus::Canceled,
        "Unfulfillable" => NotifiedStatus::Unfulfillable,
        "InvoiceUnconfirmed" => NotifiedStatus::InvoiceUnconfirmed,
        _ => return None,
    })
}

/// Read one SQS message body.
pub fn parse_order_change(body: &str) -> Result<OrderChange, NotificationError> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| NotificationError::Malformed {
            reason: crate::kernel::serde_reason(&e),
        })?;
    let notification_id = envelope.notification_metadata.notification_id;
    if envelope.notification_type != "ORDER_CHANGE" {
        return Err(NotificationError::WrongType {
            notification_id,
            notification_type: envelope.notification_type.chars().take(40).collect(),
        });
    }
    if !envelope.payload_version.starts_with("1.") {
        return Err(NotificationError::UnsupportedVersion {
            notification_id,
            version: envelope.payload_version.chars().take(20).collect(),
        });
    }
    let n = envelope.payload.order_change_notification;
    let invalid = |field: &'static str| NotificationError::InvalidField {
        notification_id: notification_id.clone(),
        field,
    };
    let lines = n
        .summary
        .order_items
        .into_iter()
        .map(|i| {
            Ok(ChangedLine {
                order_item_id: OrderItemId::parse(i.order_item_id)
                    .map_err(|_| invalid("OrderItemId"))?,
                sku: Sku::parse(i.seller_sku).map_err(|_| invalid("SellerSKU"))?,
                quantity: i.quantity,
                quantity_shipped: i.quantity_shipped,
                buyer_requested_cancel: i.is_buyer_requested_cancel,
            })
        })
        .collect::<Result<Vec<_>, NotificationError>>()?;
    Ok(OrderChange {
        seller_id: SellerId::parse(n.seller_id).map_err(|_| invalid("SellerId"))?,
        order_id: AmazonOrderId::parse(n.amazon_order_id).map_err(|_| invalid("AmazonOrderId"))?,
        marketplace_id: MarketplaceId::parse(n.summary.marketplace_id)
            .map_err(|_| invalid("MarketplaceId"))?,
        status: status(&n.summary.order_status).ok_or_else(|| invalid("OrderStatus"))?,
        fulfilled_by: match n.summary.fulfillment_type.as_str() {
            "MFN" => FulfilledBy::Merchant,
            "AFN" => FulfilledBy::Amazon,
            _ => return Err(invalid("FulfillmentType")),
        },
        change_type: n.order_change_type.chars().take(40).collect(),
        changed_at: n
            .order_change_trigger
            .time_of_order_change
            .unwrap_or(envelope.notification_metadata.publish_time),
        published_at: envelope.notification_metadata.publish_time,
        lines,
        notification_id,
    })
}

/// An `ORDER_CHANGE` notification as Amazon sends it to SQS (the official example's shape),
/// for one seller, order and status: the one sample every test of the parser and the handler
/// builds on.
#[cfg(any(test, feature = "testkit"))]
pub fn sample(
    notification_id: &str,
    seller_id: &str,
    order_id: &str,
    status: &str,
) -> serde_json::Value {
    serde_json::json!({
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-20T11:00:00.109Z",
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": seller_id,
            "AmazonOrderId": order_id,
            "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": null, "ChangeReason": "Order status changed"},
            "Summary": {
                "MarketplaceId": "ATVPDKIKX0DER",
                "OrderStatus": status,
                "PurchaseDate": "2026-11-20T10:42:04.284Z",
                "DestinationPostalCode": "98101-4321",
                "FulfillmentType": "MFN",
                "OrderType": "StandardOrder",
                "OrderItems": [{
                    "OrderItemId": "OIID34853450",
                    "SellerSKU": "SKU-CHAIR-1",
                    "SupplySourceId": null,
                    "Quantity": 2
                }]
            }
        }},
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sp.solution.app",
            "SubscriptionId": "subscription-1",
            "PublishTime": "2026-11-20T11:00:01.000Z",
            "NotificationId": notification_id
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn example() -> Value {
        sample(
            "d0e9e693-c3ad-4373-979f-ed4ec98dd746",
            "A3TH9S8BH6GOGM",
            "903-8868176-2219830",
            "Canceled",
        )
    }

    #[test]
    fn reads_ids_status_and_quantities() {
        let c = parse_order_change(&example().to_string()).unwrap();
        assert_eq!(c.notification_id, "d0e9e693-c3ad-4373-979f-ed4ec98dd746");
        assert_eq!(c.order_id.as_str(), "903-8868176-2219830");
        assert_eq!(c.status, NotifiedStatus::Canceled);
        assert_eq!(c.fulfilled_by, FulfilledBy::Merchant);
        // No TimeOfOrderChange: the publish time stands in.
        assert_eq!(c.changed_at, c.published_at);
        assert_eq!(c.lines.len(), 1);
        assert_eq!(
            (c.lines[0].sku.as_str(), c.lines[0].quantity),
            ("SKU-CHAIR-1", 2)
        );
        assert!(
            !format!("{c:?}").contains("98101"),
            "the postal code is never held"
        );
    }

    #[test]
    fn an_item_without_a_supply_source_reads() {
        let mut v = example();
        v["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0]
            .as_object_mut()
            .unwrap()
            .remove("SupplySourceId");
        let c = parse_order_change(&v.to_string()).unwrap();
        assert_eq!(c.lines[0].quantity, 2);
    }

    #[test]
    fn refusals_name_ids_and_fields_never_values() {
        let mut v = example();
        v["Payload"]["OrderChangeNotification"]["AmazonOrderId"] = json!("98101-secret");
        let e = parse_order_change(&v.to_string()).unwrap_err();
        assert_eq!(
            e,
            NotificationError::InvalidField {
                notification_id: "d0e9e693-c3ad-4373-979f-ed4ec98dd746".into(),
                field: "AmazonOrderId"
            }
        );
        assert!(!e.to_string().contains("98101"));

        let mut v = example();
        v["NotificationType"] = json!("FEED_PROCESSING_FINISHED");
        assert!(matches!(
            parse_order_change(&v.to_string()),
            Err(NotificationError::WrongType { .. })
        ));

        let mut v = example();
        v["Payload"]["OrderChangeNotification"]["Summary"]
            .as_object_mut()
            .unwrap()
            .remove("OrderItems");
        let e = parse_order_change(&v.to_string()).unwrap_err();
        assert!(matches!(e, NotificationError::Malformed { .. }), "{e}");

        let mut v = example();
        v["Payload"]["OrderChangeNotification"]["Summary"]
            .as_object_mut()
            .unwrap()
            .remove("DestinationPostalCode");
        assert!(
            matches!(
                parse_order_change(&v.to_string()),
                Err(NotificationError::Malformed { .. })
            ),
            "required by the schema, though never read"
        );

        let e = parse_order_change(r#"{"NotificationType": "ORDER_CHANGE", "Secret": "Marisol"#)
            .unwrap_err();
        assert!(!e.to_string().contains("Marisol"));
    }

    /// The examples in Amazon's own schema parse (skipped where ../shared is not beside us).
    #[test]
    fn the_official_examples_parse() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/spapi-models/OrderChangeNotification.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("SKIPPED: {path} not found");
            return;
        };
        let schema: Value = serde_json::from_str(&text).unwrap();
        let examples = schema["examples"].as_array().unwrap();
        assert!(!examples.is_empty());
        for ex in examples {
            // Amazon's example order item id is not ours to validate; the envelope must read.
            match parse_order_change(&ex.to_string()) {
                Ok(c) => assert_eq!(c.seller_id.as_str(), "A3TH9S8BH6GOGM"),
                Err(e) => panic!("official example refused: {e}"),
            }
        }
    }
}
