//! Kits (bundles): a seller SKU made of component SKUs. A kit holds no stock of its own: it is
//! available up to its scarcest component, and an order's reservation, pick or shipment of a
//! kit is the same movement of each component (so a component sold alone and in kits is one
//! count). Pure logic; the stock table keeps each kit as `<seller>`/`kit#<sku>`.

use super::model::{Locations, Movement, MovementId, MovementKind, SkuPosition};
use crate::kernel::Sku;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Components of one kit at most (a bundle, not a bill of materials).
pub const MAX_COMPONENTS: usize = 20;
/// Kits one component may be part of: each of their heads is one more item of the
/// component's movement transactions (100 items at most).
pub const MAX_KITS_PER_COMPONENT: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitComponent {
    pub sku: Sku,
    /// Units of the component in one kit.
    pub quantity: u32,
}

/// A seller's kits by kit SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kits {
    pub kits: BTreeMap<Sku, Vec<KitComponent>>,
    /// SKUs that were kits: their open order lines still move the components they held.
    pub retired: std::collections::BTreeSet<Sku>,
}

/// What a seller's stock is arranged by: the locations in walking order and the kits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warehouse {
    pub locations: Locations,
    pub kits: Kits,
}

/// Why a kit definition or a movement of a kit is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitRefusal {
    pub kind: &'static str,
    pub reason: String,
}

fn refusal(kind: &'static str, reason: String) -> KitRefusal {
    KitRefusal { kind, reason }
}

impl Kits {
    pub fn components(&self, sku: &Sku) -> Option<&[KitComponent]> {
        self.kits.get(sku).map(Vec::as_slice)
    }

    pub fn is_kit(&self, sku: &Sku) -> bool {
        self.kits.contains_key(sku)
    }

    /// The kits `component` is part of (their available quantity moves with it).
    pub fn containing<'a>(&'a self, component: &'a Sku) -> impl Iterator<Item = &'a Sku> + 'a {
        self.kits
            .iter()
            .filter(move |(_, cs)| cs.iter().any(|c| &c.sku == component))
            .map(|(k, _)| k)
    }

    /// Whether `kit` may be made of `components`: one level only (a kit of kits would hide
    /// its real components), no component twice, none in a kit of 0 units.
    pub fn check(&self, kit: &Sku, components: &[KitComponent]) -> Result<(), KitRefusal> {
        if components.len() > MAX_COMPONENTS {
            return Err(refusal(
                "invalid_kit",
                format!("a kit has at most {MAX_COMPONENTS} components"),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in components {
            if &c.sku == kit {
                return Err(refusal(
                    "invalid_kit",
                    format!("kit {kit} cannot contain itself"),
                ));
            }
            if c.quantity == 0 {
                return Err(refusal(
                    "invalid_kit",
                    format!("component {} of kit {kit} has 0 units", c.sku),
                ));
            }
            if !seen.insert(&c.sku) {
                return Err(refusal(
                    "invalid_kit",
                    format!("component {} appears twice in kit {kit}", c.sku),
                ));
            }
            if self.containing(&c.sku).filter(|k| *k != kit).count() >= MAX_KITS_PER_COMPONENT {
                return Err(refusal(
                    "invalid_kit",
                    format!(
                        "component {} is in {MAX_KITS_PER_COMPONENT} kits already",
                        c.sku
                    ),
                ));
            }
            if self.is_kit(&c.sku) {
                return Err(refusal(
                    "invalid_kit",
                    format!("component {} is itself a kit", c.sku),
                ));
            }
        }
        if self.containing(kit).next().is_some() {
            return Err(refusal(
                "invalid_kit",
                format!("{kit} is a component of another kit"),
            ));
        }
        Ok(())
    }

    /// Whether an order line of `sku` may hold components (a kit now, or one once).
    pub fn was_kit(&self, sku: &Sku) -> bool {
        self.is_kit(sku) || self.retired.contains(sku)
    }

    /// The movements `m` is: an order's movement of a kit is the same movement of each
    /// component (ids `<movement id>#<component>`, so repeats stay repeats); any other SKU's
    /// movement is itself. `line`: the components the order line was first moved with (a
    /// kit changed since must not strand them); none: the kit as it is. A staff movement of a
    /// kit is refused: a kit is never on a shelf.
    pub fn expand(
        &self,
        m: Movement,
        line: Option<&[KitComponent]>,
    ) -> Result<Vec<Movement>, KitRefusal> {
        let Some(components) = line
            .filter(|l| !l.is_empty())
            .or_else(|| self.components(&m.sku))
        else {
            return Ok(vec![m]);
        };
        if m.kind.order_item().is_none() {
            return Err(refusal(
                "kit_has_no_stock",
                format!(
                    "{} of kit {}: kits hold no stock; move its components",
                    m.kind.name(),
                    m.sku
                ),
            ));
        }
        components
            .iter()
            .map(|c| {
                let times = |q: u32| q.saturating_mul(c.quantity);
                let kind = match &m.kind {
                    MovementKind::Reserve {
                        order_item_id,
                        quantity,
                    } => MovementKind::Reserve {
                        order_item_id: order_item_id.clone(),
                        quantity: times(*quantity),
                    },
                    MovementKind::Release {
                        order_item_id,
                        quantity,
                    } => MovementKind::Release {
                        order_item_id: order_item_id.clone(),
                        quantity: times(*quantity),
                    },
                    MovementKind::Pick {
                        order_item_id,
                        quantity,
                    } => MovementKind::Pick {
                        order_item_id: order_item_id.clone(),
                        quantity: times(*quantity),
                    },
                    MovementKind::Ship {
                        order_item_id,
                        quantity,
                    } => MovementKind::Ship {
                        order_item_id: order_item_id.clone(),
                        quantity: times(*quantity),
                    },
                    other => other.clone(),
                };
                let movement_id = MovementId::parse(format!("{}#{}", m.movement_id, c.sku))
                    .map_err(|e| refusal("invalid", e.to_string()))?;
                Ok(Movement {
                    movement_id,
                    sku: c.sku.clone(),
                    kind,
                    ..m.clone()
                })
            })
            .collect()
    }
}

/// A kit's available quantity: whole kits its scarcest component makes (each component's own
/// available, after its buffer and every reservation, kits' included), less the kit's buffer.
pub fn kit_available(
    components: &[KitComponent],
    positions: &[SkuPosition],
    locations: &Locations,
    kit_buffer: u32,
) -> u32 {
    components
        .iter()
        .zip(positions)
        .map(|(c, p)| p.available(locations) / c.quantity.max(1))
        .min()
        .unwrap_or(0)
        .saturating_sub(kit_buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{AmazonOrderId, OrderItemId, SellerId};
    use crate::stock::model::{Location, LocationId, LocationKind};

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn kits() -> Kits {
        let c = |s: &str, quantity| KitComponent {
            sku: sku(s),
            quantity,
        };
        Kits {
            kits: [(sku("GIFT-SET"), vec![c("MUG", 2), c("TEA", 1)])].into(),
            retired: Default::default(),
        }
    }

    fn movement(sku_: &str, kind: MovementKind) -> Movement {
        Movement {
            movement_id: MovementId::parse("chg#I1").unwrap(),
            seller_id: SellerId::parse("A1").unwrap(),
            sku: sku(sku_),
            kind,
            actor: "orders".into(),
            at: chrono::DateTime::UNIX_EPOCH,
            order_id: Some(AmazonOrderId::parse("113-1234567-1234567").unwrap()),
        }
    }

    #[test]
    fn an_order_for_a_kit_moves_each_component_by_its_count_under_stable_ids() {
        let item = OrderItemId::parse("I1").unwrap();
        let reserve = movement(
            "GIFT-SET",
            MovementKind::Reserve {
                order_item_id: item.clone(),
                quantity: 3,
            },
        );
        let ms = kits().expand(reserve.clone(), None).unwrap();
        let got: Vec<(&str, &str, u32)> = ms
            .iter()
            .map(|m| match &m.kind {
                MovementKind::Reserve { quantity, .. } => {
                    (m.movement_id.as_str(), m.sku.as_str(), *quantity)
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, [("chg#I1#MUG", "MUG", 6), ("chg#I1#TEA", "TEA", 3)]);
        assert_eq!(kits().expand(reserve.clone(), None).unwrap(), ms);
        // The order line's own components, whatever the kit is made of now.
        let line = [KitComponent {
            sku: sku("TEA"),
            quantity: 2,
        }];
        let kept = kits().expand(reserve, Some(&line)).unwrap();
        assert_eq!(
            (kept.len(), kept[0].movement_id.as_str()),
            (1, "chg#I1#TEA")
        );
        let plain = movement(
            "MUG",
            MovementKind::Pick {
                order_item_id: item,
                quantity: 1,
            },
        );
        assert_eq!(kits().expand(plain.clone(), None).unwrap(), vec![plain]);
    }

    #[test]
    fn a_kit_is_never_on_a_shelf_and_never_part_of_a_kit() {
        let receive = movement(
            "GIFT-SET",
            MovementKind::Receive {
                location: LocationId::parse("A-01").unwrap(),
                quantity: 1,
            },
        );
        assert_eq!(
            kits().expand(receive, None).unwrap_err().kind,
            "kit_has_no_stock"
        );
        let k = kits();
        let c = |s: &str| KitComponent {
            sku: sku(s),
            quantity: 1,
        };
        assert!(k.check(&sku("DUO"), &[c("MUG"), c("TEA")]).is_ok());
        assert!(k.check(&sku("DUO"), &[c("GIFT-SET")]).is_err());
        assert!(k.check(&sku("MUG"), &[c("TEA")]).is_err());
        assert!(k.check(&sku("DUO"), &[c("DUO")]).is_err());
        assert!(k.check(&sku("DUO"), &[c("TEA"), c("TEA")]).is_err());
    }

    #[test]
    fn a_kit_is_available_up_to_its_scarcest_component_less_its_buffer() {
        let a01 = LocationId::parse("A-01").unwrap();
        let locations = Locations {
            locations: vec![Location {
                id: a01.clone(),
                kind: LocationKind::Sellable,
            }],
        };
        let on = |q: u64, reserved: u64| SkuPosition {
            known: true,
            on_hand: [(a01.clone(), q)].into(),
            reserved,
            ..SkuPosition::default()
        };
        let components = kits().kits[&sku("GIFT-SET")].clone();
        // 9 mugs, 2 reserved: 3 kits' worth; 5 tea: 5.
        assert_eq!(
            kit_available(&components, &[on(9, 2), on(5, 0)], &locations, 0),
            3
        );
        assert_eq!(
            kit_available(&components, &[on(9, 2), on(5, 0)], &locations, 1),
            2
        );
        assert_eq!(
            kit_available(&components, &[on(9, 0), on(0, 0)], &locations, 0),
            0
        );
    }
}
