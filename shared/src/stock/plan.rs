//! What one movement does to a SKU's position: pure, so every rule is tested without a table.
//! The store carries a plan out in one transaction whose conditions are the plan's premises
//! (on hand never below zero, the hold still in the state it was read in); if one no longer
//! holds, the movement is planned again from a fresh read.

use super::model::{
    Hold, HoldState, LocationId, LocationKind, Locations, Movement, MovementKind, SkuPosition,
};
use crate::kernel::Sku;
use std::collections::BTreeMap;

/// The writes of one movement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// On-hand change per location; a negative one is guarded (never below zero).
    pub on_hand: BTreeMap<LocationId, i64>,
    pub reserved: i64,
    pub picked: i64,
    /// The order line's hold, written only if it is still as read (`expected`; `None`: absent).
    pub hold: Option<HoldWrite>,
    /// Units a pick or shipment could not find on the shelves.
    pub short: u32,
    /// Kits the SKU is part of: their heads count the movement too, so a write of what Amazon
    /// holds for a kit loses to any movement of its components since the read.
    pub kit_heads: Vec<Sku>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldWrite {
    pub expected: Option<HoldState>,
    pub hold: Hold,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Apply(Plan),
    /// Nothing to write: the order line is already past this step.
    Nothing {
        why: &'static str,
    },
    /// The movement cannot be made as asked (ids and counts in the reason, nothing else).
    Refused {
        kind: &'static str,
        reason: String,
    },
}

fn refused(kind: &'static str, reason: String) -> Planned {
    Planned::Refused { kind, reason }
}

/// Plan `movement` over `position` (and the order line's `hold`, for order movements).
pub fn plan(
    movement: &Movement,
    position: &SkuPosition,
    hold: Option<&Hold>,
    locations: &Locations,
) -> Planned {
    let on_hand = |l: &LocationId| position.on_hand.get(l).copied().unwrap_or(0);
    let known = |l: &LocationId| locations.kind(l);
    let unknown = |l: &LocationId| {
        refused(
            "unknown_location",
            format!("location {l} is not one of the seller's locations"),
        )
    };
    let mut p = Plan::default();
    match &movement.kind {
        MovementKind::Receive { location, quantity } => {
            if known(location).is_none() {
                return unknown(location);
            }
            if *quantity == 0 {
                return refused("invalid_quantity", "a receive of 0 units".into());
            }
            p.on_hand.insert(location.clone(), i64::from(*quantity));
        }
        MovementKind::ReturnToStock { location, quantity }
        | MovementKind::ReturnToQuarantine { location, quantity } => {
            let want = if matches!(movement.kind, MovementKind::ReturnToStock { .. }) {
                LocationKind::Sellable
            } else {
                LocationKind::Quarantine
            };
            match known(location) {
                None => return unknown(location),
                Some(k) if k != want => {
                    return refused(
                        "wrong_location_kind",
                        format!(
                            "{} goes to a {want:?} location; {location} is {k:?}",
                            movement.kind.name()
                        ),
                    );
                }
                Some(_) => {}
            }
            if *quantity == 0 {
                return refused("invalid_quantity", "a return of 0 units".into());
            }
            p.on_hand.insert(location.clone(), i64::from(*quantity));
        }
        MovementKind::Adjust {
            location,
            delta,
            reason,
        } => {
            if known(location).is_none() {
                return unknown(location);
            }
            if reason.trim().is_empty() {
                return refused("no_reason", "an adjustment needs its reason".into());
            }
            if *delta == 0 {
                return refused("invalid_quantity", "an adjustment of 0 units".into());
            }
            if *delta < 0 && delta.unsigned_abs() > on_hand(location) {
                return refused(
                    "not_on_hand",
                    format!(
                        "adjusting {location} by {delta}: only {} on hand",
                        on_hand(location)
                    ),
                );
            }
            p.on_hand.insert(location.clone(), *delta);
        }
        MovementKind::Move { from, to, quantity } => {
            for l in [from, to] {
                if known(l).is_none() {
                    return unknown(l);
                }
            }
            if from == to || *quantity == 0 {
                return refused(
                    "invalid_quantity",
                    "a move needs two locations and units".into(),
                );
            }
            if u64::from(*quantity) > on_hand(from) {
                return refused(
                    "not_on_hand",
                    format!(
                        "moving {quantity} from {from}: only {} on hand",
                        on_hand(from)
                    ),
                );
            }
            p.on_hand.insert(from.clone(), -i64::from(*quantity));
            p.on_hand.insert(to.clone(), i64::from(*quantity));
        }
        MovementKind::Reserve {
            order_item_id,
            quantity,
        } => {
            if hold.is_some() {
                return Planned::Nothing {
                    why: "the order line already holds or held stock",
                };
            }
            p.reserved = i64::from(*quantity);
            p.hold = Some(HoldWrite {
                expected: None,
                hold: new_hold(movement, order_item_id, *quantity, HoldState::Reserved),
            });
        }
        MovementKind::Release {
            order_item_id,
            quantity,
        } => match hold {
            None => {
                // Released before its reservation arrived: the mark keeps the late one out.
                p.hold = Some(HoldWrite {
                    expected: None,
                    hold: new_hold(movement, order_item_id, *quantity, HoldState::Released),
                });
            }
            Some(h) => match h.state {
                HoldState::Reserved => {
                    p.reserved = -i64::from(h.quantity);
                    p.hold = Some(moved(h, HoldState::Released));
                }
                HoldState::Picked => {
                    // Picked, then canceled: the units go back where they came from.
                    for (l, q) in &h.picked_from {
                        *p.on_hand.entry(l.clone()).or_default() += i64::from(*q);
                    }
                    p.picked = -picked(h);
                    p.hold = Some(moved(h, HoldState::Released));
                }
                HoldState::Shipped | HoldState::Released => {
                    return Planned::Nothing {
                        why: "the order line has shipped or was released",
                    };
                }
            },
        },
        MovementKind::Pick {
            order_item_id,
            quantity,
        } => {
            if matches!(
                hold.map(|h| h.state),
                Some(HoldState::Picked | HoldState::Shipped | HoldState::Released)
            ) {
                return Planned::Nothing {
                    why: "the order line is picked, shipped or released",
                };
            }
            off_the_shelves(
                &mut p,
                movement,
                hold,
                order_item_id,
                *quantity,
                HoldState::Picked,
                position,
                locations,
            );
        }
        MovementKind::Ship {
            order_item_id,
            quantity,
        } => match hold {
            Some(h) if matches!(h.state, HoldState::Shipped | HoldState::Released) => {
                return Planned::Nothing {
                    why: "the order line has shipped or was released",
                };
            }
            Some(h) if h.state == HoldState::Picked => {
                p.picked = -picked(h);
                p.hold = Some(moved(h, HoldState::Shipped));
            }
            // Shipped without a pick on record: the units leave the shelves now.
            _ => off_the_shelves(
                &mut p,
                movement,
                hold,
                order_item_id,
                *quantity,
                HoldState::Shipped,
                position,
                locations,
            ),
        },
    }
    Planned::Apply(p)
}

/// The order line's units taken from sellable shelves (what its hold says, or `quantity` for
/// a line whose reservation has not arrived), its reservation ended, its hold moved to
/// `to`: a pick (the units counted as picked) or a shipment straight from the shelf.
#[allow(clippy::too_many_arguments)]
fn off_the_shelves(
    p: &mut Plan,
    movement: &Movement,
    hold: Option<&Hold>,
    item: &crate::kernel::OrderItemId,
    quantity: u32,
    to: HoldState,
    position: &SkuPosition,
    locations: &Locations,
) {
    let state = hold.map(|h| h.state);
    let quantity = hold.map_or(quantity, |h| h.quantity);
    let (from, short) = take_from_shelves(position, locations, quantity);
    for (l, q) in &from {
        p.on_hand.insert(l.clone(), -i64::from(*q));
    }
    if state == Some(HoldState::Reserved) {
        p.reserved = -i64::from(quantity);
    }
    if to == HoldState::Picked {
        p.picked = from.values().map(|q| i64::from(*q)).sum();
    }
    let mut h = match hold {
        Some(h) => moved(h, to).hold,
        None => new_hold(movement, item, quantity, to),
    };
    h.picked_from = from;
    h.short = short;
    p.short = short;
    p.hold = Some(HoldWrite {
        expected: state,
        hold: h,
    });
}

fn picked(h: &Hold) -> i64 {
    h.picked_from.values().map(|q| i64::from(*q)).sum()
}

fn new_hold(
    m: &Movement,
    item: &crate::kernel::OrderItemId,
    quantity: u32,
    state: HoldState,
) -> Hold {
    Hold {
        order_id: m
            .order_id
            .clone()
            .expect("order movements carry their order (checked at parse)"),
        order_item_id: item.clone(),
        quantity,
        state,
        picked_from: BTreeMap::new(),
        short: 0,
    }
}

fn moved(h: &Hold, state: HoldState) -> HoldWrite {
    HoldWrite {
        expected: Some(h.state),
        hold: Hold { state, ..h.clone() },
    }
}

/// Units for an order from sellable shelves, in walking order, and the units not found.
fn take_from_shelves(
    position: &SkuPosition,
    locations: &Locations,
    quantity: u32,
) -> (BTreeMap<LocationId, u32>, u32) {
    let mut shelves: Vec<(&LocationId, u64)> = position
        .on_hand
        .iter()
        .filter(|(l, q)| **q > 0 && locations.kind(l) == Some(LocationKind::Sellable))
        .map(|(l, q)| (l, *q))
        .collect();
    shelves.sort_by_key(|(l, _)| locations.walk_position(l));
    let mut left = quantity;
    let mut from = BTreeMap::new();
    for (l, q) in shelves {
        if left == 0 {
            break;
        }
        let take = left.min(u32::try_from(q).unwrap_or(u32::MAX));
        from.insert(l.clone(), take);
        left -= take;
    }
    (from, left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{AmazonOrderId, OrderItemId, SellerId, Sku};
    use crate::stock::model::{Location, MovementId};

    fn loc(s: &str) -> LocationId {
        LocationId::parse(s).unwrap()
    }

    fn locations() -> Locations {
        let l = |id: &str, kind| Location { id: loc(id), kind };
        Locations {
            locations: vec![
                l("A-02", LocationKind::Sellable),
                l("A-01", LocationKind::Sellable),
                l("Q-1", LocationKind::Quarantine),
                l("DOCK", LocationKind::Inbound),
            ],
        }
    }

    fn movement(kind: MovementKind) -> Movement {
        Movement {
            movement_id: MovementId::parse("m1").unwrap(),
            seller_id: SellerId::parse("A1").unwrap(),
            sku: Sku::parse("SKU-1").unwrap(),
            kind,
            actor: "test".into(),
            at: chrono::DateTime::UNIX_EPOCH,
            order_id: Some(AmazonOrderId::parse("113-1234567-1234567").unwrap()),
        }
    }

    fn item() -> OrderItemId {
        OrderItemId::parse("I1").unwrap()
    }

    fn position(on_hand: &[(&str, u64)], reserved: u64, buffer: u32) -> SkuPosition {
        SkuPosition {
            known: true,
            reserved,
            on_hand: on_hand.iter().map(|(l, q)| (loc(l), *q)).collect(),
            settings: crate::stock::model::SkuSettings {
                buffer,
                low_stock_at: None,
            },
            ..SkuPosition::default()
        }
    }

    fn apply(p: &mut SkuPosition, plan: &Plan) {
        for (l, d) in &plan.on_hand {
            let q = p.on_hand.entry(l.clone()).or_default();
            *q = u64::try_from(*q as i64 + d).expect("never negative");
        }
        p.reserved = u64::try_from(p.reserved as i64 + plan.reserved).unwrap();
        p.picked = u64::try_from(p.picked as i64 + plan.picked).unwrap();
    }

    fn planned(m: MovementKind, p: &SkuPosition, h: Option<&Hold>) -> Plan {
        match plan(&movement(m), p, h, &locations()) {
            Planned::Apply(plan) => plan,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn available_counts_sellable_stock_less_reservations_and_buffer_never_below_zero() {
        let p = position(&[("A-01", 10), ("Q-1", 5), ("DOCK", 7)], 3, 2);
        assert_eq!(p.available(&locations()), 5);
        assert_eq!(position(&[("A-01", 2)], 3, 2).available(&locations()), 0);
        assert_eq!(p.total_on_hand(), 22);
    }

    #[test]
    fn a_reservation_then_its_pick_and_shipment_leave_available_unchanged_until_it_ships() {
        let ls = locations();
        let mut p = position(&[("A-01", 4), ("A-02", 1)], 0, 0);
        let reserve = planned(
            MovementKind::Reserve {
                order_item_id: item(),
                quantity: 3,
            },
            &p,
            None,
        );
        apply(&mut p, &reserve);
        assert_eq!(p.available(&ls), 2);
        let hold = reserve.hold.unwrap().hold;
        let pick = planned(
            MovementKind::Pick {
                order_item_id: item(),
                quantity: 3,
            },
            &p,
            Some(&hold),
        );
        // The walk reaches A-02 first.
        assert_eq!(pick.on_hand, [(loc("A-02"), -1), (loc("A-01"), -2)].into());
        apply(&mut p, &pick);
        assert_eq!(
            (p.available(&ls), p.reserved, p.picked, p.total_on_hand()),
            (2, 0, 3, 5)
        );
        let hold = pick.hold.unwrap().hold;
        let ship = planned(
            MovementKind::Ship {
                order_item_id: item(),
                quantity: 3,
            },
            &p,
            Some(&hold),
        );
        apply(&mut p, &ship);
        assert_eq!((p.available(&ls), p.picked, p.total_on_hand()), (2, 0, 2));
        let shipped = ship.hold.unwrap().hold;
        for again in [
            MovementKind::Ship {
                order_item_id: item(),
                quantity: 3,
            },
            MovementKind::Release {
                order_item_id: item(),
                quantity: 3,
            },
            MovementKind::Reserve {
                order_item_id: item(),
                quantity: 3,
            },
        ] {
            assert!(matches!(
                plan(&movement(again), &p, Some(&shipped), &ls),
                Planned::Nothing { .. }
            ));
        }
    }

    #[test]
    fn a_release_before_its_reservation_keeps_the_late_reservation_out() {
        let p = position(&[("A-01", 4)], 0, 0);
        let release = planned(
            MovementKind::Release {
                order_item_id: item(),
                quantity: 2,
            },
            &p,
            None,
        );
        assert_eq!(release.reserved, 0);
        let mark = release.hold.unwrap().hold;
        assert_eq!(mark.state, HoldState::Released);
        assert!(matches!(
            plan(
                &movement(MovementKind::Reserve {
                    order_item_id: item(),
                    quantity: 2
                }),
                &p,
                Some(&mark),
                &locations()
            ),
            Planned::Nothing { .. }
        ));
    }

    #[test]
    fn a_canceled_pick_puts_the_units_back_where_they_came_from() {
        let mut p = position(&[("A-01", 4)], 0, 0);
        let r = planned(
            MovementKind::Reserve {
                order_item_id: item(),
                quantity: 2,
            },
            &p,
            None,
        );
        apply(&mut p, &r);
        let pick = planned(
            MovementKind::Pick {
                order_item_id: item(),
                quantity: 2,
            },
            &p,
            Some(&r.hold.unwrap().hold),
        );
        apply(&mut p, &pick);
        let release = planned(
            MovementKind::Release {
                order_item_id: item(),
                quantity: 2,
            },
            &p,
            Some(&pick.hold.unwrap().hold),
        );
        apply(&mut p, &release);
        assert_eq!((p.on_hand[&loc("A-01")], p.reserved, p.picked), (4, 0, 0));
    }

    #[test]
    fn a_pick_short_of_stock_takes_what_is_there_and_says_what_is_missing() {
        let mut p = position(&[("A-01", 1), ("Q-1", 5)], 0, 0);
        let r = planned(
            MovementKind::Reserve {
                order_item_id: item(),
                quantity: 3,
            },
            &p,
            None,
        );
        apply(&mut p, &r);
        let pick = planned(
            MovementKind::Pick {
                order_item_id: item(),
                quantity: 3,
            },
            &p,
            Some(&r.hold.unwrap().hold),
        );
        assert_eq!((pick.short, pick.picked, pick.reserved), (2, 1, -3));
        apply(&mut p, &pick);
        assert_eq!(p.on_hand[&loc("Q-1")], 5, "never picked from quarantine");
    }

    #[test]
    fn staff_movements_are_refused_when_they_would_go_negative_or_name_the_wrong_place() {
        let p = position(&[("A-01", 2)], 0, 0);
        let ls = locations();
        let kind = |m| match plan(&movement(m), &p, None, &ls) {
            Planned::Refused { kind, .. } => kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            kind(MovementKind::Move {
                from: loc("A-01"),
                to: loc("Q-1"),
                quantity: 3
            }),
            "not_on_hand"
        );
        assert_eq!(
            kind(MovementKind::Adjust {
                location: loc("A-01"),
                delta: -3,
                reason: "count".into()
            }),
            "not_on_hand"
        );
        assert_eq!(
            kind(MovementKind::Adjust {
                location: loc("A-01"),
                delta: -1,
                reason: " ".into()
            }),
            "no_reason"
        );
        assert_eq!(
            kind(MovementKind::Receive {
                location: loc("Z-9"),
                quantity: 1
            }),
            "unknown_location"
        );
        assert_eq!(
            kind(MovementKind::ReturnToStock {
                location: loc("Q-1"),
                quantity: 1
            }),
            "wrong_location_kind"
        );
        assert_eq!(
            kind(MovementKind::ReturnToQuarantine {
                location: loc("A-01"),
                quantity: 1
            }),
            "wrong_location_kind"
        );
        let m = planned(
            MovementKind::Move {
                from: loc("A-01"),
                to: loc("Q-1"),
                quantity: 2,
            },
            &p,
            None,
        );
        assert_eq!(m.on_hand, [(loc("A-01"), -2), (loc("Q-1"), 2)].into());
    }
}
