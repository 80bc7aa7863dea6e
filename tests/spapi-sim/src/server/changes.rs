//! Orders changing over time (placed, canceled, shipped, delivered) and the `ORDER_CHANGE`
//! notification each change publishes, shaped as `OrderChangeNotification.json` has it.
//! Published notifications wait in an outbox until delivered, one outbox per subscription
//! (`ORDER_CHANGE` here, `LISTINGS_ITEM_MFN_QUANTITY_CHANGE` from the listings); delivery applies
//! the knobs (duplicates, drops, out-of-order) as Amazon's at-least-once, unordered delivery would.

use super::State;
use crate::model::{ItemFulfillment, Order, OrderPackage, PackageItem, PackageStatus};
use crate::{DeliveryKnobs, SimConfig, seed};
use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

/// The prefix that makes a fulfillment status one no model knows.
const GARBLED: &str = "GARBLED:";

/// A change the simulator can make to an existing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    Cancel,
    Ship,
    Deliver,
}

/// A notification type: each has its own subscription, destination and outbox.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Topic {
    OrderChange,
    MfnQuantityChange,
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// Message bodies in the order they are to be sent.
    #[serde(skip)]
    pub bodies: Vec<String>,
    pub published: u64,
    pub duplicated: u64,
    pub dropped: u64,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl State {
    /// A buyer places `count` orders with `seller_id` now. Returns their ids.
    pub(crate) fn place_orders(
        &mut self,
        config: &SimConfig,
        seller_id: &str,
        count: usize,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let Some(index) = config.sellers.iter().position(|s| s.seller_id == seller_id) else {
            return Vec::new();
        };
        let marketplace = config.sellers[index].marketplace_id.clone();
        let mut ids = Vec::new();
        for _ in 0..count {
            let seller = self.sellers.get_mut(seller_id).expect("seeded seller");
            let i = seller.orders.len() + seller.placed;
            seller.placed += 1;
            let order = seed::placed_order(config.seed, index, i + 1_000_000, &marketplace, now);
            ids.push(order.order_id.clone());
            self.publish(config, seller_id, &order, now);
            self.sellers
                .get_mut(seller_id)
                .expect("seeded seller")
                .orders
                .push(order);
        }
        self.resort(seller_id);
        ids
    }

    /// Serve the order with a fulfillment status no model knows (`GARBLED:<status>`), as
    /// Amazon would if it started sending a new one, or (`garbled: false`) as it was. Its
    /// last update stays, so searches serve it in the same place. `false` if no such order.
    pub(crate) fn garble_order(&mut self, seller_id: &str, order_id: &str, garbled: bool) -> bool {
        let Some(f) = self
            .sellers
            .get_mut(seller_id)
            .and_then(|s| s.orders.iter_mut().find(|o| o.order_id == order_id))
            .and_then(|o| o.fulfillment.as_mut())
        else {
            return false;
        };
        let plain = f
            .fulfillment_status
            .strip_prefix(GARBLED)
            .unwrap_or(&f.fulfillment_status)
            .to_owned();
        f.fulfillment_status = if garbled {
            format!("{GARBLED}{plain}")
        } else {
            plain
        };
        true
    }

    /// Apply `event` to an order. `false` if there is no such order or the event does not fit
    /// its state (only open orders cancel or ship; only shipped ones are delivered).
    pub(crate) fn change_order(
        &mut self,
        config: &SimConfig,
        seller_id: &str,
        order_id: &str,
        event: OrderEvent,
        now: DateTime<Utc>,
    ) -> bool {
        let now = now.trunc_subsecs(0);
        let Some(order) = self
            .sellers
            .get_mut(seller_id)
            .and_then(|s| s.orders.iter_mut().find(|o| o.order_id == order_id))
        else {
            return false;
        };
        let status = order
            .fulfillment
            .as_ref()
            .map(|f| f.fulfillment_status.clone())
            .unwrap_or_default();
        let fits = match event {
            OrderEvent::Cancel | OrderEvent::Ship => status == "UNSHIPPED" || status == "PENDING",
            OrderEvent::Deliver => status == "SHIPPED",
        };
        if !fits {
            return false;
        }
        // Amazon's times only move forward, one second at least per change.
        let at = now.max(order.last_updated_time + Duration::seconds(1));
        order.last_updated_time = at;
        let fulfillment = order.fulfillment.as_mut().expect("checked above");
        match event {
            OrderEvent::Cancel => {
                fulfillment.fulfillment_status = "CANCELLED".into();
                // Amazon withdraws buyer and address from a canceled order.
                order.buyer = None;
                order.recipient = None;
            }
            OrderEvent::Ship => {
                fulfillment.fulfillment_status = "SHIPPED".into();
                for item in &mut order.order_items {
                    item.fulfillment = Some(ItemFulfillment {
                        quantity_fulfilled: item.quantity_ordered,
                        quantity_unfulfilled: 0,
                    });
                }
                let tracking: u64 = self.rng.random_range(0..10_000_000_000_000_000u64);
                order.packages = Some(vec![OrderPackage {
                    package_reference_id: "1".into(),
                    created_time: at,
                    package_status: PackageStatus {
                        status: "IN_TRANSIT".into(),
                    },
                    carrier: "UPS".into(),
                    ship_time: at,
                    shipping_service: "UPS Ground".into(),
                    tracking_number: format!("1Z{tracking:016}"),
                    package_items: order
                        .order_items
                        .iter()
                        .map(|it| PackageItem {
                            order_item_id: it.order_item_id.clone(),
                            quantity: it.quantity_ordered,
                        })
                        .collect(),
                }]);
            }
            OrderEvent::Deliver => {
                for p in order.packages.iter_mut().flatten() {
                    p.package_status.status = "DELIVERED".into();
                }
            }
        }
        let order = order.clone();
        self.publish(config, seller_id, &order, at);
        self.resort(seller_id);
        true
    }

    /// Ids of the seller's orders in a status (`UNSHIPPED`, `SHIPPED`, ...).
    pub(crate) fn orders_in(&self, seller_id: &str, status: &str) -> Vec<String> {
        self.sellers
            .get(seller_id)
            .map(|s| {
                s.orders
                    .iter()
                    .filter(|o| {
                        o.fulfillment
                            .as_ref()
                            .is_some_and(|f| f.fulfillment_status == status)
                    })
                    .map(|o| o.order_id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn set_delivery(&mut self, knobs: DeliveryKnobs) {
        self.delivery = knobs;
    }

    /// Take a topic's outbox for delivery, applying the knobs.
    pub(crate) fn deliver(&mut self, topic: Topic) -> Delivery {
        let knobs = self.delivery.clone();
        let outbox = match topic {
            Topic::OrderChange => &mut self.outbox,
            Topic::MfnQuantityChange => &mut self.listing_outbox,
        };
        let mut out = Delivery::default();
        for body in std::mem::take(outbox) {
            out.published += 1;
            if self.rng.random_bool(knobs.drop_share.clamp(0.0, 1.0)) {
                out.dropped += 1;
                continue;
            }
            if self.rng.random_bool(knobs.duplicate_share.clamp(0.0, 1.0)) {
                let copies = knobs.copies.max(2);
                out.duplicated += u64::from(copies - 1);
                for _ in 1..copies {
                    out.bodies.push(body.clone());
                }
            }
            out.bodies.push(body);
        }
        if knobs.shuffle {
            out.bodies.shuffle(&mut self.rng);
        }
        self.stats.notifications_published += out.published;
        self.stats.notifications_duplicated += out.duplicated;
        self.stats.notifications_dropped += out.dropped;
        out
    }

    pub(super) fn resort(&mut self, seller_id: &str) {
        if let Some(s) = self.sellers.get_mut(seller_id) {
            s.orders.sort_by(|a, b| {
                (a.last_updated_time, &a.order_id).cmp(&(b.last_updated_time, &b.order_id))
            });
        }
    }

    pub(super) fn publish(
        &mut self,
        config: &SimConfig,
        seller_id: &str,
        order: &Order,
        at: DateTime<Utc>,
    ) {
        let notification_id = self.uuid();
        self.outbox
            .push(notification(config, seller_id, order, at, &notification_id).to_string());
    }
}

fn notification(
    config: &SimConfig,
    seller_id: &str,
    order: &Order,
    at: DateTime<Utc>,
    notification_id: &str,
) -> Value {
    let status = match order
        .fulfillment
        .as_ref()
        .map(|f| f.fulfillment_status.as_str())
    {
        Some("PENDING") => "Pending",
        Some("SHIPPED") => "Shipped",
        Some("CANCELLED") => "Canceled",
        _ => "Unshipped",
    };
    let postal_code = order
        .recipient
        .as_ref()
        .map(|r| r.delivery_address.postal_code.clone());
    let items: Vec<Value> = order
        .order_items
        .iter()
        .map(|it| {
            let shipped = it.fulfillment.as_ref().map_or(0, |f| f.quantity_fulfilled);
            json!({
                "OrderItemId": it.order_item_id,
                "SellerSKU": it.product.seller_sku,
                "SupplySourceId": null,
                "Quantity": it.quantity_ordered,
                "QuantityShipped": shipped,
                "OrderItemStatus": if shipped > 0 { "Shipped" } else { "Unshipped" },
            })
        })
        .collect();
    json!({
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": iso(at),
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": seller_id,
            "AmazonOrderId": order.order_id,
            "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": iso(at), "ChangeReason": "Order status changed"},
            "Summary": {
                "MarketplaceId": order.sales_channel.marketplace_id,
                "OrderStatus": status,
                "PurchaseDate": iso(order.created_time),
                "DestinationPostalCode": postal_code,
                "FulfillmentType": "MFN",
                "OrderType": "StandardOrder",
                "OrderItems": items,
            }
        }},
        "NotificationMetadata": {
            "ApplicationId": config.app.client_id,
            "SubscriptionId": format!("sim-subscription-{seller_id}"),
            "PublishTime": iso(at),
            "NotificationId": notification_id,
        }
    })
}
