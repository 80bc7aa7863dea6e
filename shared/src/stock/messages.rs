//! The stock queue's messages: an order's stock change (intake, labels) or a staff movement,
//! each turned into movements of one SKU with ids that make a repeat the same movement.

use super::model::{Movement, MovementId, MovementKind};
use super::{StockChange, StockChangeKind};
use crate::kernel::{AmazonOrderId, SellerId, Sku, serde_reason};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A movement as staff tools send it (the time is when it is applied, unless they say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMovement {
    pub movement_id: MovementId,
    pub seller_id: SellerId,
    pub sku: Sku,
    #[serde(flatten)]
    pub kind: MovementKind,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<AmazonOrderId>,
}

impl StaffMovement {
    pub fn into_movement(self, now: DateTime<Utc>) -> Result<Movement, StockMessageError> {
        if self.kind.order_item().is_some() && self.order_id.is_none() {
            return Err(StockMessageError::Invalid(format!(
                "a {} names its order_id",
                self.kind.name()
            )));
        }
        if self.actor.trim().is_empty() {
            return Err(StockMessageError::Invalid("actor is required".into()));
        }
        Ok(Movement {
            movement_id: self.movement_id,
            seller_id: self.seller_id,
            sku: self.sku,
            kind: self.kind,
            actor: self.actor,
            at: self.at.unwrap_or(now),
            order_id: self.order_id,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StockMessageError {
    /// The body is neither message (serde's account names fields, never values).
    #[error("not a stock message: {0}")]
    Malformed(String),
    #[error("invalid stock movement: {0}")]
    Invalid(String),
}

/// Amazon's `LISTINGS_ITEM_MFN_QUANTITY_CHANGE` notification: what a listing now holds
/// (after a push of ours, an edit in Seller Central, an order). Its SKU is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityNotice {
    pub notification_id: String,
    pub seller_id: SellerId,
    pub sku: Sku,
    /// `DEFAULT` for merchant-fulfilled; other channels are not the suite's to keep.
    pub channel: String,
    pub quantity: u32,
    /// When Amazon's quantity changed (notices arrive in any order).
    pub event_time: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NoticeIn {
    notification_type: String,
    event_time: DateTime<Utc>,
    payload: NoticePayload,
    notification_metadata: NoticeMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NoticePayload {
    seller_id: SellerId,
    fulfillment_channel_code: String,
    sku: Sku,
    quantity: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NoticeMetadata {
    notification_id: String,
}

pub const QUANTITY_CHANGE: &str = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE";

/// stock-sync's note to itself to read a submitted feed's result (`check`: how many times it
/// has looked already).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedCheck {
    pub feed_id: String,
    pub seller_id: SellerId,
    #[serde(default)]
    pub check: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockMessage {
    FeedCheck(FeedCheck),
    Order(StockChange),
    Staff(StaffMovement),
    QuantityChanged(QuantityNotice),
}

impl StockMessage {
    pub fn parse(body: &str) -> Result<Self, StockMessageError> {
        let v: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| StockMessageError::Malformed(serde_reason(&e)))?;
        let err = |e: serde_json::Error| StockMessageError::Malformed(serde_reason(&e));
        if v.get("change_id").is_some() {
            serde_json::from_value(v)
                .map(StockMessage::Order)
                .map_err(err)
        } else if v.get("movement_id").is_some() {
            // serde cannot refuse unknown fields beside a flattened enum: any field the parsed
            // movement does not write back is one it does not know.
            let m: StaffMovement = serde_json::from_value(v.clone()).map_err(err)?;
            let known = serde_json::to_value(&m).map_err(err)?;
            let unknown: Vec<&String> = v
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .filter(|k| {
                    known.get(k.as_str()).is_none() && !matches!(k.as_str(), "at" | "order_id")
                })
                .collect();
            if let Some(k) = unknown.first() {
                return Err(StockMessageError::Malformed(format!("unknown field `{k}`")));
            }
            Ok(StockMessage::Staff(m))
        } else if v.get("feed_id").is_some() {
            serde_json::from_value(v)
                .map(StockMessage::FeedCheck)
                .map_err(err)
        } else if let Some(t) = v.get("NotificationType") {
            if t.as_str() != Some(QUANTITY_CHANGE) {
                return Err(StockMessageError::Malformed(format!(
                    "notification type {t} is not one stock-sync reads"
                )));
            }
            let n: NoticeIn = serde_json::from_value(v).map_err(err)?;
            debug_assert_eq!(n.notification_type, QUANTITY_CHANGE);
            Ok(StockMessage::QuantityChanged(QuantityNotice {
                notification_id: n.notification_metadata.notification_id,
                seller_id: n.payload.seller_id,
                sku: n.payload.sku,
                channel: n.payload.fulfillment_channel_code,
                quantity: n.payload.quantity,
                event_time: n.event_time,
            }))
        } else {
            Err(StockMessageError::Malformed(
                "neither change_id, movement_id, feed_id nor NotificationType".into(),
            ))
        }
    }

    pub fn seller_id(&self) -> &SellerId {
        match self {
            StockMessage::Order(c) => &c.seller_id,
            StockMessage::Staff(m) => &m.seller_id,
            StockMessage::QuantityChanged(n) => &n.seller_id,
            StockMessage::FeedCheck(f) => &f.seller_id,
        }
    }

    pub fn order_id(&self) -> Option<&AmazonOrderId> {
        match self {
            StockMessage::Order(c) => Some(&c.order_id),
            StockMessage::Staff(m) => m.order_id.as_ref(),
            StockMessage::QuantityChanged(_) | StockMessage::FeedCheck(_) => None,
        }
    }

    /// The movements, one per SKU line, and the order lines without a SKU (reported).
    pub fn movements(
        self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Movement>, usize), StockMessageError> {
        match self {
            StockMessage::Staff(m) => Ok((vec![m.into_movement(now)?], 0)),
            // A notice moves no stock: it asks for a check.
            StockMessage::QuantityChanged(_) | StockMessage::FeedCheck(_) => Ok((Vec::new(), 0)),
            StockMessage::Order(c) => {
                let mut without_sku = 0;
                let mut movements = Vec::new();
                for line in c.lines {
                    let Some(sku) = line.sku else {
                        without_sku += 1;
                        continue;
                    };
                    let (order_item_id, quantity) = (line.order_item_id, line.quantity);
                    let kind = match c.kind {
                        StockChangeKind::Reserve => MovementKind::Reserve {
                            order_item_id: order_item_id.clone(),
                            quantity,
                        },
                        StockChangeKind::Release => MovementKind::Release {
                            order_item_id: order_item_id.clone(),
                            quantity,
                        },
                        StockChangeKind::Pick => MovementKind::Pick {
                            order_item_id: order_item_id.clone(),
                            quantity,
                        },
                        StockChangeKind::Ship => MovementKind::Ship {
                            order_item_id: order_item_id.clone(),
                            quantity,
                        },
                    };
                    let movement_id = MovementId::parse(format!("{}#{order_item_id}", c.change_id))
                        .map_err(|e| StockMessageError::Invalid(e.to_string()))?;
                    movements.push(Movement {
                        movement_id,
                        seller_id: c.seller_id.clone(),
                        sku,
                        kind,
                        actor: "orders".into(),
                        at: c.order_updated_at,
                        order_id: Some(c.order_id.clone()),
                    });
                }
                Ok((movements, without_sku))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_change_becomes_one_movement_per_sku_line_with_stable_ids() {
        let body = r#"{"change_id":"A1#113-1234567-1234567#reserve","kind":"reserve","seller_id":"A1",
            "order_id":"113-1234567-1234567","order_updated_at":"2026-11-30T10:00:00Z",
            "lines":[{"order_item_id":"I1","sku":"SKU-1","quantity":2},{"order_item_id":"I2","sku":null,"quantity":1}]}"#;
        let now = DateTime::UNIX_EPOCH;
        let (ms, without) = StockMessage::parse(body).unwrap().movements(now).unwrap();
        assert_eq!((ms.len(), without), (1, 1));
        assert_eq!(
            ms[0].movement_id.as_str(),
            "A1#113-1234567-1234567#reserve#I1"
        );
        let (again, _) = StockMessage::parse(body).unwrap().movements(now).unwrap();
        assert_eq!(again, ms);
    }

    #[test]
    fn staff_movements_parse_strictly() {
        let ok = r#"{"movement_id":"rcv-1","seller_id":"A1","sku":"SKU-1","kind":"receive","location":"A-01","quantity":5,"actor":"staff:ana"}"#;
        let (ms, _) = StockMessage::parse(ok)
            .unwrap()
            .movements(DateTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(ms[0].kind.name(), "receive");
        let unknown = ok.replace("\"actor\"", "\"colour\":\"red\",\"actor\"");
        assert!(StockMessage::parse(&unknown).is_err());
        let pick = r#"{"movement_id":"p-1","seller_id":"A1","sku":"SKU-1","kind":"pick","order_item_id":"I1","quantity":5,"actor":"staff:ana"}"#;
        assert!(
            StockMessage::parse(pick)
                .unwrap()
                .movements(DateTime::UNIX_EPOCH)
                .is_err()
        );
        assert!(StockMessage::parse(r#"{"hello":1}"#).is_err());
    }

    #[test]
    fn a_quantity_change_notification_names_its_seller_sku_and_quantity() {
        let body = r#"{"NotificationVersion":"1.0","NotificationType":"LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            "PayloadVersion":"1.0","EventTime":"2021-02-03T18:59:30.194Z",
            "Payload":{"SellerId":"A1","FulfillmentChannelCode":"DEFAULT","Sku":"NLS-SHOES-03","Quantity":99},
            "NotificationMetadata":{"ApplicationId":"app","SubscriptionId":"sub",
            "PublishTime":"2021-02-03T18:59:30.194Z","NotificationId":"8e009934"}}"#;
        let StockMessage::QuantityChanged(n) = StockMessage::parse(body).unwrap() else {
            panic!("a quantity notice");
        };
        assert_eq!(
            (n.sku.as_str(), n.quantity, n.channel.as_str()),
            ("NLS-SHOES-03", 99, "DEFAULT")
        );
        let other = body.replace("LISTINGS_ITEM_MFN_QUANTITY_CHANGE", "ORDER_CHANGE");
        assert!(StockMessage::parse(&other).is_err());
        let negative = body.replace("\"Quantity\":99", "\"Quantity\":-1");
        assert!(StockMessage::parse(&negative).is_err());
    }
}
