//! What stock needs from the outside: its ledger (the stock table) and Amazon's listings.

use super::kits::{KitComponent, Warehouse};
use super::model::{Hold, ListingState, Locations, Movement, SkuPosition, SkuSettings};
use super::plan::Plan;
use crate::kernel::{AmazonOrderId, MarketplaceId, OrderItemId, SellerId, Sku, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;

/// How a planned movement's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// The ledger has this movement already: nothing written.
    AlreadyApplied,
    /// A premise of the plan no longer holds (someone moved the stock or the hold since the
    /// read): nothing written; plan again from a fresh read.
    Stale,
}

#[async_trait]
pub trait StockLedger: Send + Sync {
    /// The seller's locations in walking order (empty when none are set) and kits.
    async fn warehouse(&self, seller: &SellerId) -> Result<Warehouse, StoreError>;
    async fn set_locations(
        &self,
        seller: &SellerId,
        locations: &Locations,
    ) -> Result<(), StoreError>;
    /// The components an order line of `kit` moves: those it was first moved with (written
    /// once, only if absent), else `components` (the kit as it is now), recorded then.
    async fn kit_line(
        &self,
        seller: &SellerId,
        kit: &Sku,
        order: &AmazonOrderId,
        item: &OrderItemId,
        components: &[KitComponent],
    ) -> Result<Vec<KitComponent>, StoreError>;
    /// `kit` made of `components` from now on (none: no longer a kit).
    async fn set_kit(
        &self,
        seller: &SellerId,
        kit: &Sku,
        components: &[KitComponent],
    ) -> Result<(), StoreError>;
    async fn set_settings(
        &self,
        seller: &SellerId,
        sku: &Sku,
        settings: &SkuSettings,
    ) -> Result<(), StoreError>;
    async fn position(&self, seller: &SellerId, sku: &Sku) -> Result<SkuPosition, StoreError>;
    async fn hold(
        &self,
        seller: &SellerId,
        sku: &Sku,
        order: &AmazonOrderId,
        item: &OrderItemId,
    ) -> Result<Option<Hold>, StoreError>;
    /// The movement in the ledger and its plan carried out, in one transaction.
    async fn apply(&self, movement: &Movement, plan: &Plan) -> Result<Applied, StoreError>;
    /// Whether the ledger has the movement.
    async fn recorded(&self, movement: &Movement) -> Result<bool, StoreError>;
    /// What Amazon now holds (or why it refused), and the low-stock mark, written only if the
    /// SKU has had no movement since `seen` were counted. `false`: it had; nothing written.
    async fn record_listing(
        &self,
        seller: &SellerId,
        sku: &Sku,
        listing: &ListingState,
        seen: u64,
    ) -> Result<bool, StoreError>;
    /// The SKU's ledger, oldest first.
    async fn movements(&self, seller: &SellerId, sku: &Sku) -> Result<Vec<Movement>, StoreError>;
    /// Every SKU of the seller with a stock record.
    async fn skus(&self, seller: &SellerId) -> Result<Vec<Sku>, StoreError>;
    /// A submitted feed's lines kept until its result is read.
    async fn record_feed(&self, seller: &SellerId, feed: &FeedRecord) -> Result<(), StoreError>;
    /// `None`: never recorded, or its result read already.
    async fn feed(
        &self,
        seller: &SellerId,
        feed_id: &str,
    ) -> Result<Option<FeedRecord>, StoreError>;
    async fn forget_feed(&self, seller: &SellerId, feed_id: &str) -> Result<(), StoreError>;
}

/// Amazon's answer to a quantity sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingAnswer {
    Accepted,
    /// Refused for this SKU, with Amazon's issue codes.
    Rejected {
        codes: Vec<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// A call that may go through later (throttled, server error, no rate place now).
    #[error("listings call failed for now: {0}")]
    Retryable(String),
    #[error("listings call refused: {0}")]
    Refused(String),
}

/// SKUs one `searchListingsItems` call looks up (its `identifiers` take 20).
pub const SEARCH_SKUS: usize = 20;

/// One listing as a search finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// `None`: the listing has no summary for the marketplace asked (not offered there).
    pub product_type: Option<String>,
    /// The quantity Amazon holds, `None` when the listing has none.
    pub quantity: Option<u32>,
}

/// Amazon's listings (Listings Items 2021-08-01), the `DEFAULT` (merchant-fulfilled) channel.
#[async_trait]
pub trait Listings: Send + Sync {
    /// The listing's product type, `None` when the seller has no listing of the SKU.
    async fn product_type(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
    ) -> Result<Option<String>, ListingError>;
    /// Up to [`SEARCH_SKUS`] listings read in one call (a SKU the seller has no listing of is
    /// absent from the answer).
    async fn search(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        skus: &[Sku],
    ) -> Result<HashMap<Sku, Listed>, ListingError>;
    /// The quantity Amazon holds, `None` when the listing has none or does not exist.
    async fn quantity(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
    ) -> Result<Option<u32>, ListingError>;
    async fn set_quantity(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
        product_type: &str,
        quantity: u32,
    ) -> Result<ListingAnswer, ListingError>;
}

/// One SKU's quantity in a listings feed (its message id is its place in the feed, from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLine {
    pub sku: Sku,
    pub product_type: String,
    pub quantity: u32,
}

/// Where a submitted feed stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedProgress {
    /// Amazon has not finished it (in queue or in progress).
    Processing,
    /// Processed: the messages Amazon refused, by message id, with its issue codes; every
    /// other message was accepted.
    Done {
        rejected: std::collections::BTreeMap<u32, Vec<String>>,
    },
    /// Fatal or cancelled: nothing of it applied.
    Failed { codes: Vec<String> },
}

/// Amazon's bulk path for quantities: a `JSON_LISTINGS_FEED` (Feeds 2021-06-30), processed
/// in minutes, one call where the Listings Items path makes one per SKU.
#[async_trait]
pub trait ListingFeeds: Send + Sync {
    /// The lines sent as one feed; Amazon's feed id.
    async fn submit(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        lines: &[FeedLine],
    ) -> Result<String, ListingError>;
    async fn progress(
        &self,
        seller: &SellerId,
        feed_id: &str,
    ) -> Result<FeedProgress, ListingError>;
}

/// One SKU of a submitted feed, as kept until its result is read: what was sent and the
/// movement count it was computed at (a movement since then may have been overtaken).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedEntry {
    pub sku: Sku,
    pub quantity: u32,
    pub seen: u64,
}

/// A submitted feed's lines, message id `i + 1` for `entries[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRecord {
    pub feed_id: String,
    pub entries: Vec<FeedEntry>,
}
