//! The order lifecycle: Unshipped → Picking → Packed → Labeled → Shipped → Delivered, and
//! Canceled from any open step. Warehouse steps move one at a time; Amazon's view of the order
//! (which knows nothing of picking or packing) is merged in without ever moving an order back.

use super::OrderStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot go from {from:?} to {to:?}")]
pub struct LifecycleError {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

impl OrderStatus {
    /// Position on the way to the buyer; `None` for the ends that leave it (canceled,
    /// unfulfillable).
    fn step(self) -> Option<u8> {
        Some(match self {
            OrderStatus::Pending => 0,
            OrderStatus::Unshipped => 1,
            OrderStatus::Picking => 2,
            OrderStatus::Packed => 3,
            OrderStatus::Labeled => 4,
            OrderStatus::Shipped => 5,
            OrderStatus::Delivered => 6,
            OrderStatus::Canceled | OrderStatus::Unfulfillable => return None,
        })
    }

    /// A warehouse move. The same status again is accepted (a retried request); anything but
    /// the next step, or a cancel while open, is refused.
    pub fn advance_to(self, to: OrderStatus) -> Result<OrderStatus, LifecycleError> {
        let ok = self == to
            || match (self.step(), to.step()) {
                (Some(from), Some(next)) => next == from + 1,
                (_, None) => {
                    to == OrderStatus::Canceled && (self.is_open() || self == OrderStatus::Pending)
                }
                (None, Some(_)) => false,
            };
        if ok {
            Ok(to)
        } else {
            Err(LifecycleError { from: self, to })
        }
    }

    /// A label bought for the order: Labeled, from any open step before it. Packing may be done
    /// outside the suite (a packing station that sends its label job itself), so Unshipped and
    /// Picking go straight to Labeled; a canceled, shipped or ended order is refused.
    pub fn label(self) -> Result<OrderStatus, LifecycleError> {
        match self {
            OrderStatus::Unshipped
            | OrderStatus::Picking
            | OrderStatus::Packed
            | OrderStatus::Labeled => Ok(OrderStatus::Labeled),
            from => Err(LifecycleError {
                from,
                to: OrderStatus::Labeled,
            }),
        }
    }

    /// Every label of the order voided: back to Packed (the parcel waits for a new label).
    /// Any other status stays as it is.
    pub fn unlabel(self) -> OrderStatus {
        match self {
            OrderStatus::Labeled => OrderStatus::Packed,
            other => other,
        }
    }

    /// Every unit of the order confirmed shipped (on the operator's own carrier): Shipped,
    /// from any open step; a canceled or ended order is refused.
    pub fn ship(self) -> Result<OrderStatus, LifecycleError> {
        if self.is_open() || self == OrderStatus::Shipped {
            Ok(OrderStatus::Shipped)
        } else {
            Err(LifecycleError {
                from: self,
                to: OrderStatus::Shipped,
            })
        }
    }

    /// The status after Amazon reports `amazon` for an order we hold at `self`.
    ///
    /// Amazon's report wins when it is further along (shipped, delivered) or ends the order
    /// (a cancel while it is still open); Amazon's "unshipped" never undoes picking, packing or
    /// labeling, and a late or duplicate report never moves an order back.
    pub fn with_amazon(self, amazon: OrderStatus) -> OrderStatus {
        match (self.step(), amazon.step()) {
            // Ended here; Amazon cannot reopen it.
            (None, _) => self,
            (Some(_), None) if self.is_open() || self == OrderStatus::Pending => amazon,
            // A cancel after the parcel left is Amazon's refund, not ours to undo.
            (Some(_), None) => self,
            (Some(ours), Some(theirs)) if theirs > ours => amazon,
            (Some(_), Some(_)) => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    const ALL: [OrderStatus; 9] = [
        Pending,
        Unshipped,
        Picking,
        Packed,
        Labeled,
        Shipped,
        Delivered,
        Canceled,
        Unfulfillable,
    ];

    #[test]
    fn the_warehouse_walks_the_steps_in_order() {
        let path = [Unshipped, Picking, Packed, Labeled, Shipped, Delivered];
        for w in path.windows(2) {
            assert_eq!(w[0].advance_to(w[1]), Ok(w[1]));
            assert_eq!(w[0].advance_to(w[0]), Ok(w[0]), "a retry is harmless");
        }
        assert!(Unshipped.advance_to(Packed).is_err(), "no skipping");
        assert!(Labeled.advance_to(Picking).is_err(), "no going back");
    }

    #[test]
    fn cancel_only_while_open() {
        for s in [Pending, Unshipped, Picking, Packed, Labeled] {
            assert_eq!(s.advance_to(Canceled), Ok(Canceled), "{s:?}");
        }
        for s in [Shipped, Delivered, Unfulfillable] {
            assert!(s.advance_to(Canceled).is_err(), "{s:?}");
        }
        for s in ALL.into_iter().filter(|s| *s != Canceled) {
            assert!(Canceled.advance_to(s).is_err(), "canceled is final: {s:?}");
        }
    }

    #[test]
    fn amazons_unshipped_never_undoes_warehouse_work() {
        for s in [Picking, Packed, Labeled, Shipped, Delivered] {
            assert_eq!(s.with_amazon(Unshipped), s);
            assert_eq!(s.with_amazon(Pending), s);
        }
        assert_eq!(Pending.with_amazon(Unshipped), Unshipped);
    }

    #[test]
    fn amazons_later_news_moves_the_order_on() {
        assert_eq!(Packed.with_amazon(Shipped), Shipped);
        assert_eq!(Shipped.with_amazon(Delivered), Delivered);
        assert_eq!(Labeled.with_amazon(Canceled), Canceled);
        assert_eq!(Delivered.with_amazon(Shipped), Delivered, "a late report");
        assert_eq!(Shipped.with_amazon(Canceled), Shipped, "gone is gone");
        assert_eq!(Canceled.with_amazon(Unshipped), Canceled);
    }

    #[test]
    fn merging_is_idempotent_and_never_moves_back() {
        for ours in ALL {
            for theirs in ALL {
                let once = ours.with_amazon(theirs);
                assert_eq!(
                    once.with_amazon(theirs),
                    once,
                    "{ours:?} + {theirs:?} twice"
                );
                if let (Some(a), Some(b)) = (ours.step(), once.step()) {
                    assert!(b >= a, "{ours:?} + {theirs:?} went back to {once:?}");
                }
            }
        }
    }
}
