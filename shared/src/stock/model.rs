//! The stock model: locations and their kinds, a SKU's position (on hand per location, what
//! open orders hold, its buffer), what is available to sell, and the movements that change it.

use crate::kernel::{AmazonOrderId, IdError, OrderItemId, SellerId, Sku};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A place stock sits in: a bin, a zone, a building. Letters, digits, `-`, `_`, `.`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "api",
    schema(pattern = "^[A-Za-z0-9._-]{1,64}$", max_length = 64)
)]
#[serde(try_from = "String", into = "String")]
pub struct LocationId(String);

impl LocationId {
    pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if s.is_empty() {
            return Err(IdError::Empty { kind: "location" });
        }
        if s.len() > 64 {
            return Err(IdError::TooLong {
                kind: "location",
                max: 64,
            });
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(IdError::BadCharacters { kind: "location" });
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LocationId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(s)
    }
}
impl From<LocationId> for String {
    fn from(v: LocationId) -> String {
        v.0
    }
}
impl std::fmt::Display for LocationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::fmt::Debug for LocationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocationId({})", self.0)
    }
}

/// What stock in a location may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// Counts toward what Amazon is told; orders are picked from here.
    Sellable,
    /// Returns and damaged goods waiting for a decision: on hand, not for sale.
    Quarantine,
    /// Received at the dock, not yet put away: on hand, not for sale.
    Inbound,
}

/// One location of a seller's warehouse, in the order pickers walk them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub id: LocationId,
    pub kind: LocationKind,
}

/// A seller's locations, in walking order (the pick path).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locations {
    pub locations: Vec<Location>,
}

impl Locations {
    pub fn kind(&self, id: &LocationId) -> Option<LocationKind> {
        self.locations.iter().find(|l| &l.id == id).map(|l| l.kind)
    }

    /// Where the walk reaches `id` (unknown locations last).
    pub fn walk_position(&self, id: &LocationId) -> usize {
        self.locations
            .iter()
            .position(|l| &l.id == id)
            .unwrap_or(usize::MAX)
    }
}

/// A SKU's settings, as staff set them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuSettings {
    /// Units kept back from Amazon (counting errors, damage found at the pick).
    #[serde(default)]
    pub buffer: u32,
    /// At or below this available quantity, a low-stock alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_stock_at: Option<u32>,
}

/// What Amazon last accepted for a SKU, and why the last push failed if it did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingState {
    /// Amazon's product type of the listing (needed by every patch), read once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_quantity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<DateTime<Utc>>,
    /// Amazon's issue codes from the last refused push (cleared by an accepted one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_codes: Vec<String>,
    /// Whether the SKU is at or below its low-stock threshold (an alert fires on the way down).
    #[serde(default)]
    pub low_stock: bool,
}

/// A SKU's stock as read in one go: its counters, its settings, what Amazon holds, and on
/// hand per location.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuPosition {
    /// Whether any record of the SKU exists (a receive, a setting, a reservation).
    pub known: bool,
    pub settings: SkuSettings,
    /// Units held by open orders, not yet picked.
    pub reserved: u64,
    /// Units picked for orders, not yet shipped (off the shelves, still in the building).
    pub picked: u64,
    pub on_hand: BTreeMap<LocationId, u64>,
    pub listing: ListingState,
    /// Movements applied so far: a write of the listing state names the count it read.
    pub movements: u64,
    /// Whether staff set the SKU's settings.
    pub configured: bool,
}

impl SkuPosition {
    /// On hand in sellable locations − reserved − buffer, never below 0.
    pub fn available(&self, locations: &Locations) -> u32 {
        let sellable: u64 = self
            .on_hand
            .iter()
            .filter(|(l, _)| locations.kind(l) == Some(LocationKind::Sellable))
            .map(|(_, q)| *q)
            .sum();
        let available = sellable.saturating_sub(self.reserved + u64::from(self.settings.buffer));
        u32::try_from(available).unwrap_or(u32::MAX)
    }

    /// Whether the suite keeps this SKU's stock: the seller has locations, and the SKU was
    /// received or set up. Amazon is told nothing of any other SKU (a reservation alone, for a
    /// SKU the warehouse never had, must not zero a listing stocked elsewhere).
    pub fn managed(&self, locations: &Locations) -> bool {
        !locations.locations.is_empty() && (!self.on_hand.is_empty() || self.configured)
    }

    /// Units on hand anywhere, picked ones included (they leave when they ship).
    pub fn total_on_hand(&self) -> u64 {
        self.on_hand.values().sum::<u64>() + self.picked
    }
}

/// A movement's id: the same every time the same movement is sent, so it is applied once.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct MovementId(String);

impl MovementId {
    pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if s.is_empty() {
            return Err(IdError::Empty {
                kind: "movement id",
            });
        }
        if s.len() > 200 {
            return Err(IdError::TooLong {
                kind: "movement id",
                max: 200,
            });
        }
        if s.chars().any(char::is_control) {
            return Err(IdError::BadCharacters {
                kind: "movement id",
            });
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for MovementId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(s)
    }
}
impl From<MovementId> for String {
    fn from(v: MovementId) -> String {
        v.0
    }
}
impl std::fmt::Display for MovementId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::fmt::Debug for MovementId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MovementId({})", self.0)
    }
}

/// An order line's claim on a SKU, and how far it has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    Reserved,
    Picked,
    Shipped,
    Released,
}

/// What one order line holds of a SKU (`hold#<order>#<item>` in the table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub order_id: AmazonOrderId,
    pub order_item_id: OrderItemId,
    pub quantity: u32,
    pub state: HoldState,
    /// Where picked units came from (they go back there if the order is canceled).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub picked_from: BTreeMap<LocationId, u32>,
    /// Units the pick could not find on the shelves.
    #[serde(default)]
    pub short: u32,
}

/// What happens to stock, in the warehouse's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MovementKind {
    Receive {
        location: LocationId,
        quantity: u32,
    },
    /// A count correction, up or down, with the reason staff gave.
    Adjust {
        location: LocationId,
        delta: i64,
        reason: String,
    },
    Move {
        from: LocationId,
        to: LocationId,
        quantity: u32,
    },
    /// A returned unit fit to sell again, into a sellable location.
    ReturnToStock {
        location: LocationId,
        quantity: u32,
    },
    /// A returned unit to inspect, into a quarantine location.
    ReturnToQuarantine {
        location: LocationId,
        quantity: u32,
    },
    Reserve {
        order_item_id: OrderItemId,
        quantity: u32,
    },
    Release {
        order_item_id: OrderItemId,
        quantity: u32,
    },
    Pick {
        order_item_id: OrderItemId,
        quantity: u32,
    },
    Ship {
        order_item_id: OrderItemId,
        quantity: u32,
    },
}

impl MovementKind {
    pub fn name(&self) -> &'static str {
        match self {
            MovementKind::Receive { .. } => "receive",
            MovementKind::Adjust { .. } => "adjust",
            MovementKind::Move { .. } => "move",
            MovementKind::ReturnToStock { .. } => "return_to_stock",
            MovementKind::ReturnToQuarantine { .. } => "return_to_quarantine",
            MovementKind::Reserve { .. } => "reserve",
            MovementKind::Release { .. } => "release",
            MovementKind::Pick { .. } => "pick",
            MovementKind::Ship { .. } => "ship",
        }
    }

    /// The order line a movement belongs to, for those that move an order's hold.
    pub fn order_item(&self) -> Option<&OrderItemId> {
        match self {
            MovementKind::Reserve { order_item_id, .. }
            | MovementKind::Release { order_item_id, .. }
            | MovementKind::Pick { order_item_id, .. }
            | MovementKind::Ship { order_item_id, .. } => Some(order_item_id),
            _ => None,
        }
    }
}

/// One movement of one SKU, as the ledger keeps it (append-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct Movement {
    pub movement_id: MovementId,
    pub seller_id: SellerId,
    pub sku: Sku,
    #[serde(flatten)]
    pub kind: MovementKind,
    /// Who moved it: a staff member's id, or the function that did (`intake`, `labels`).
    pub actor: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<AmazonOrderId>,
}
