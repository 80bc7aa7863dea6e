//! HTTP side of the simulator: the shared state, the router and Amazon's error shapes.
//! LWA in [`lwa`], the gate every SP-API request passes in [`gate`], Orders 2026-01-01 in
//! [`orders`], Shipping v2 in [`shipping`], Listings Items in [`listings`], Feeds in [`feeds`],
//! the `/_sim` endpoints in [`admin`].

mod admin;
mod changes;
mod confirm;
mod feeds;
mod gate;
mod listings;
mod lwa;
mod orders;
mod shipping;

pub use feeds::{
    FEED_DOCUMENT_URL_LIFETIME, FEED_PROCESSING_TIME, FEED_QUEUE_TIME, FEED_TIME_PER_MESSAGE,
    feed_done_after,
};
pub use listings::{INVALID_ATTRIBUTE, SEEDED_QUANTITY};
pub use shipping::{PICKUP_AFTER, RATE_LIFETIME};

use crate::clock::TokenBucket;
use crate::model::{ErrorList, Order};
use crate::{DeliveryKnobs, Faults, Sim, SimConfig, Stats, seed};
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
pub(crate) use changes::Topic;
pub use changes::{Delivery, OrderEvent};
use chrono::{DateTime, Utc};
use orders::Cursor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Operation {
    SearchOrders,
    GetOrder,
    GetRates,
    PurchaseShipment,
    CancelShipment,
    GetTracking,
    GetShipmentDocuments,
    ConfirmShipment,
    GetListingsItem,
    SearchListingsItems,
    PatchListingsItem,
    CreateFeedDocument,
    CreateFeed,
    GetFeed,
    GetFeedDocument,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::SearchOrders => "searchOrders",
            Operation::GetOrder => "getOrder",
            Operation::GetRates => "getRates",
            Operation::PurchaseShipment => "purchaseShipment",
            Operation::CancelShipment => "cancelShipment",
            Operation::GetTracking => "getTracking",
            Operation::GetShipmentDocuments => "getShipmentDocuments",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::GetListingsItem => "getListingsItem",
            Operation::SearchListingsItems => "searchListingsItems",
            Operation::PatchListingsItem => "patchListingsItem",
            Operation::CreateFeedDocument => "createFeedDocument",
            Operation::CreateFeed => "createFeed",
            Operation::GetFeed => "getFeed",
            Operation::GetFeedDocument => "getFeedDocument",
        }
    }

    /// Amazon's default usage plan (rate per second, burst).
    pub(crate) fn plan(self) -> (f64, u32) {
        match self {
            Operation::SearchOrders => (0.0056, 20),
            Operation::GetOrder => (0.5, 30),
            Operation::GetRates
            | Operation::PurchaseShipment
            | Operation::CancelShipment
            | Operation::GetTracking
            | Operation::GetShipmentDocuments => (80.0, 100),
            Operation::ConfirmShipment => (2.0, 10),
            Operation::GetListingsItem => (5.0, 10),
            Operation::SearchListingsItems => (5.0, 5),
            Operation::PatchListingsItem => (5.0, 5),
            Operation::CreateFeedDocument => (0.5, 15),
            Operation::CreateFeed => (0.0083, 15),
            Operation::GetFeed => (2.0, 15),
            Operation::GetFeedDocument => (0.0222, 10),
        }
    }
}

struct SellerState {
    /// Sorted by (lastUpdatedTime, orderId): the order searches page in.
    orders: Vec<Order>,
    revoked: bool,
    /// Orders placed since seeding (for fresh ids).
    placed: usize,
}

struct AccessToken {
    /// `None` for grantless tokens (`client_credentials`), which open no seller's data.
    seller_id: Option<String>,
    expires_at: DateTime<Utc>,
}

pub(crate) struct State {
    sellers: BTreeMap<String, SellerState>,
    refresh_tokens: HashMap<String, String>,
    access_tokens: HashMap<String, AccessToken>,
    cursors: HashMap<String, Cursor>,
    buckets: HashMap<(String, Operation), TokenBucket>,
    faults: Faults,
    faults_injected: u64,
    rng: ChaCha8Rng,
    pub(crate) stats: Stats,
    /// `ORDER_CHANGE` bodies published and not yet delivered.
    outbox: Vec<String>,
    /// `LISTINGS_ITEM_MFN_QUANTITY_CHANGE` bodies published and not yet delivered: another
    /// subscription, with a destination of its own.
    listing_outbox: Vec<String>,
    /// The LWA application the notifications are for.
    application_id: String,
    delivery: DeliveryKnobs,
    pub(crate) shipping: shipping::ShippingState,
    pub(crate) listings: listings::ListingsState,
    pub(crate) feeds: feeds::FeedsState,
}

impl State {
    pub(crate) fn seeded(config: &SimConfig, now: DateTime<Utc>) -> Self {
        let sellers = config
            .sellers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let orders = seed::seller_orders(config.seed, i, &s.marketplace_id, s.orders, now);
                (
                    s.seller_id.clone(),
                    SellerState {
                        orders,
                        revoked: false,
                        placed: 0,
                    },
                )
            })
            .collect();
        Self {
            sellers,
            refresh_tokens: config
                .sellers
                .iter()
                .map(|s| (s.refresh_token.clone(), s.seller_id.clone()))
                .collect(),
            access_tokens: HashMap::new(),
            cursors: HashMap::new(),
            buckets: HashMap::new(),
            faults: Faults::default(),
            faults_injected: 0,
            rng: ChaCha8Rng::seed_from_u64(config.seed.wrapping_mul(31)),
            stats: Stats::default(),
            outbox: Vec::new(),
            listing_outbox: Vec::new(),
            application_id: config.app.client_id.clone(),
            delivery: DeliveryKnobs::default(),
            shipping: shipping::ShippingState::default(),
            listings: listings::ListingsState {
                items: config
                    .sellers
                    .iter()
                    .flat_map(|s| {
                        seed::catalog()
                            .into_iter()
                            .map(move |(sku, asin, title, product_type)| {
                                (
                                    (s.seller_id.clone(), sku),
                                    listings::Listing {
                                        asin,
                                        product_type,
                                        title,
                                        quantity: Some(listings::SEEDED_QUANTITY),
                                        created: now - chrono::Duration::days(400),
                                        updated: now - chrono::Duration::days(1),
                                        refuse_with: None,
                                    },
                                )
                            })
                    })
                    .collect(),
                patches_accepted: 0,
                feed_messages_accepted: 0,
            },
            feeds: feeds::FeedsState::default(),
        }
    }

    pub(crate) fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
        self.faults_injected = 0;
    }

    pub(crate) fn pii_values(&self) -> Vec<String> {
        let mut values = Vec::new();
        for s in self.sellers.values() {
            for o in &s.orders {
                seed::pii_values(o, &mut values);
            }
        }
        values.sort();
        values.dedup();
        values
    }

    /// The figures, with the counters the listings and feeds keep.
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            patches_accepted: self.listings.patches_accepted,
            feed_messages_accepted: self.listings.feed_messages_accepted,
            feeds_created: self.feeds.feeds_created,
            feed_documents_uploaded: self.feeds.feed_documents_uploaded,
            ..self.stats.clone()
        }
    }

    pub(crate) fn listing_quantities(&self, seller_id: &str) -> BTreeMap<String, Option<u32>> {
        self.listings
            .items
            .iter()
            .filter(|((s, _), _)| s == seller_id)
            .map(|((_, sku), l)| (sku.clone(), l.quantity))
            .collect()
    }

    /// A test's hand on a listing: a new one, a quantity set outside the suite (Seller
    /// Central; it publishes as any change does), a listing that refuses every patch.
    /// `false`: no such listing (for the last two).
    pub(crate) fn edit_listing(
        &mut self,
        seller_id: &str,
        sku: &str,
        edit: ListingEdit,
        now: DateTime<Utc>,
    ) -> bool {
        let key = (seller_id.to_owned(), sku.to_owned());
        match edit {
            ListingEdit::Create { product_type } => {
                self.listings.items.insert(
                    key,
                    listings::Listing {
                        asin: "B0SIMNEW000".into(),
                        product_type,
                        title: "Listing made by a test".into(),
                        quantity: None,
                        created: now,
                        updated: now,
                        refuse_with: None,
                    },
                );
                true
            }
            ListingEdit::SetQuantity(q) => self.set_quantity(seller_id, sku, q, now),
            ListingEdit::RefuseWith(code) => self
                .listings
                .items
                .get_mut(&key)
                .map(|l| l.refuse_with = code)
                .is_some(),
        }
    }

    pub(crate) fn order_count(&self, seller_id: &str) -> usize {
        self.sellers.get(seller_id).map_or(0, |s| s.orders.len())
    }

    pub(crate) fn revoke(&mut self, seller_id: &str) {
        if let Some(s) = self.sellers.get_mut(seller_id) {
            s.revoked = true;
        }
        self.access_tokens
            .retain(|_, t| t.seller_id.as_deref() != Some(seller_id));
    }

    pub(crate) fn expire_access_tokens(&mut self) {
        self.access_tokens.clear();
    }

    fn record(&mut self, operation: &str, status: StatusCode) {
        *self
            .stats
            .operations
            .entry(operation.to_owned())
            .or_default()
            .entry(status.as_u16().to_string())
            .or_default() += 1;
    }

    /// A UUID-shaped id from the seeded generator (request ids, notification ids).
    fn uuid(&mut self) -> String {
        let r: u128 = self.rng.random();
        let h = format!("{r:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Draw an injected fault for one SP-API request, if the knobs say so.
    fn draw_fault(&mut self) -> Option<Fault> {
        if self
            .faults
            .max_faults
            .is_some_and(|max| self.faults_injected >= max)
        {
            return None;
        }
        let f = self.faults.clone();
        let roll: f64 = self.rng.random();
        let fault = if roll < f.throttle_share {
            self.stats.throttled_injected += 1;
            Fault::Throttle
        } else if roll < f.throttle_share + f.server_error_share {
            self.stats.server_errors_injected += 1;
            Fault::ServerError
        } else if roll < f.throttle_share + f.server_error_share + f.malformed_share {
            self.stats.malformed_injected += 1;
            Fault::Malformed
        } else {
            return None;
        };
        self.faults_injected += 1;
        Some(fault)
    }
}

enum Fault {
    Throttle,
    ServerError,
    Malformed,
}

/// How a test changes a listing (see `State::edit_listing`).
#[derive(Debug, Clone)]
pub enum ListingEdit {
    Create { product_type: String },
    SetQuantity(Option<u32>),
    RefuseWith(Option<String>),
}

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/auth/o2/token", post(lwa::lwa_token))
        .route("/orders/2026-01-01/orders", get(orders::search_orders))
        .route(
            "/orders/2026-01-01/orders/{order_id}",
            get(orders::get_order),
        )
        .route("/shipping/v2/shipments/rates", post(shipping::get_rates))
        .route("/shipping/v2/shipments", post(shipping::purchase_shipment))
        .route(
            "/shipping/v2/shipments/{shipment_id}/cancel",
            put(shipping::cancel_shipment),
        )
        .route(
            "/shipping/v2/shipments/{shipment_id}/documents",
            get(shipping::get_shipment_documents),
        )
        .route("/shipping/v2/tracking", get(shipping::get_tracking))
        .route(
            "/orders/v0/orders/{order_id}/shipmentConfirmation",
            post(confirm::confirm_shipment),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}",
            get(listings::search_listings_items),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}/{sku}",
            get(listings::get_listings_item).patch(listings::patch_listings_item),
        )
        .route(
            "/feeds/2021-06-30/documents",
            post(feeds::create_feed_document),
        )
        .route(
            "/feeds/2021-06-30/documents/{document_id}",
            get(feeds::get_feed_document),
        )
        .route("/feeds/2021-06-30/feeds", post(feeds::create_feed))
        .route("/feeds/2021-06-30/feeds/{feed_id}", get(feeds::get_feed))
        .route(
            "/_sim/feed-documents/{document_id}",
            put(feeds::upload_document)
                .get(feeds::download_document)
                .layer(DefaultBodyLimit::max(feeds::UPLOAD_LIMIT)),
        )
        .route("/_sim/listings/{seller_id}", get(admin::admin_listings))
        .route("/_sim/stats", get(admin::admin_stats))
        .route("/_sim/faults", post(admin::admin_faults))
        .route(
            "/_sim/clock",
            get(admin::admin_clock).post(admin::admin_advance),
        )
        .route(
            "/_sim/sellers/{seller_id}/revoke",
            post(admin::admin_revoke),
        )
        .route("/_sim/tokens/expire", post(admin::admin_expire))
        .route("/_sim/pii-values", get(admin::admin_pii_values))
        .fallback(not_found)
        .with_state(sim)
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Json<ErrorList>) {
    (status, Json(ErrorList::one(code, message)))
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested resource does not exist.",
    )
    .into_response()
}
