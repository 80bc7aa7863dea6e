//! What an order's arrival, cancellation or departure means for stock.

use super::model::{Order, OrderStatus};
use crate::kernel::OrderItemId;
use crate::stock::{StockChange, StockChangeKind, StockChangeLine};
use std::collections::BTreeSet;

impl OrderStatus {
    /// Whether the order's goods are spoken for in the warehouse: it is to be shipped by us
    /// and has not left.
    pub fn holds_stock(self) -> bool {
        self == OrderStatus::Pending || self.is_open()
    }
}

/// The stock change (if any) of moving from `before` (nothing stored yet: `None`) to `after`.
pub fn stock_change(before: Option<&Order>, after: &Order) -> Option<StockChange> {
    let kind = match before {
        None if after.status.holds_stock() => StockChangeKind::Reserve,
        Some(b)
            if b.status.holds_stock()
                && matches!(
                    after.status,
                    OrderStatus::Canceled | OrderStatus::Unfulfillable
                ) =>
        {
            StockChangeKind::Release
        }
        // It left: its units leave on hand (picked first if no pick is on record).
        Some(b)
            if b.status.holds_stock()
                && matches!(after.status, OrderStatus::Shipped | OrderStatus::Delivered) =>
        {
            StockChangeKind::Ship
        }
        _ => return None,
    };
    // A release or a shipment moves what was reserved: the lines as first stored.
    let lines_of = match (kind, before) {
        (StockChangeKind::Release | StockChangeKind::Ship, Some(b)) => b,
        _ => after,
    };
    Some(StockChange {
        order_updated_at: after.last_updated_at,
        ..announce(lines_of, kind, None)
    })
}

/// The stock change `kind` of `order`'s lines (only those named in `only`, when given), under
/// the id every announcer of it uses: intake, label-worker (a pick) and the tracker (a
/// shipment) may each announce one, and stock applies it once.
pub fn announce(
    order: &Order,
    kind: StockChangeKind,
    only: Option<&BTreeSet<OrderItemId>>,
) -> StockChange {
    StockChange {
        change_id: format!("{}#{}#{}", order.seller_id, order.order_id, kind.name()),
        kind,
        seller_id: order.seller_id.clone(),
        order_id: order.order_id.clone(),
        lines: order
            .lines
            .iter()
            .filter(|l| only.is_none_or(|o| o.contains(&l.order_item_id)))
            .map(|l| StockChangeLine {
                order_item_id: l.order_item_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity_ordered,
            })
            .collect(),
        order_updated_at: order.last_updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{AmazonOrderId, OrderItemId, SellerId, Sku};
    use crate::orders::OrderLine;
    use chrono::DateTime;

    fn order(status: OrderStatus, qty: u32) -> Order {
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        Order {
            seller_id: SellerId::parse("A1SELLER").unwrap(),
            order_id: AmazonOrderId::parse("113-1234567-1234567").unwrap(),
            marketplace_id: None,
            status,
            created_at: t,
            last_updated_at: t,
            ship_by: None,
            deliver_by: None,
            service_level: None,
            programs: vec![],
            lines: vec![OrderLine {
                order_item_id: OrderItemId::parse("11111111111111").unwrap(),
                sku: Some(Sku::parse("SKU-1").unwrap()),
                asin: None,
                title: None,
                quantity_ordered: qty,
                quantity_shipped: 0,
                unit_price: None,
            }],
            packages: vec![],
            delivered_at: None,
            label_blocked: None,
            parcels: vec![],
        }
    }

    #[test]
    fn a_new_order_to_ship_reserves_its_lines() {
        for s in [OrderStatus::Pending, OrderStatus::Unshipped] {
            let c = stock_change(None, &order(s, 2)).expect("reserve");
            assert_eq!(c.kind, StockChangeKind::Reserve);
            assert_eq!(c.lines[0].quantity, 2);
            assert_eq!(c.change_id, "A1SELLER#113-1234567-1234567#reserve");
        }
    }

    #[test]
    fn orders_first_seen_shipped_or_canceled_reserve_nothing() {
        for s in [
            OrderStatus::Shipped,
            OrderStatus::Delivered,
            OrderStatus::Canceled,
        ] {
            assert_eq!(stock_change(None, &order(s, 1)), None, "{s:?}");
        }
    }

    #[test]
    fn a_cancel_releases_what_was_reserved_once() {
        let held = order(OrderStatus::Picking, 3);
        let canceled = order(OrderStatus::Canceled, 1);
        let c = stock_change(Some(&held), &canceled).expect("release");
        assert_eq!(c.kind, StockChangeKind::Release);
        assert_eq!(c.lines[0].quantity, 3, "the reserved quantity comes back");
        assert_eq!(stock_change(Some(&canceled), &canceled), None, "only once");
    }

    #[test]
    fn updates_in_between_change_no_stock_and_leaving_ships_it_once() {
        let a = order(OrderStatus::Unshipped, 1);
        let b = order(OrderStatus::Packed, 1);
        assert_eq!(stock_change(Some(&a), &b), None);
        let shipped = order(OrderStatus::Shipped, 1);
        let c = stock_change(Some(&b), &shipped).expect("ship");
        assert_eq!(c.kind, StockChangeKind::Ship);
        assert_eq!(c.change_id, "A1SELLER#113-1234567-1234567#ship");
        assert_eq!(
            stock_change(Some(&shipped), &order(OrderStatus::Delivered, 1)),
            None
        );
    }
}
