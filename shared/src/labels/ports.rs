//! What the label flow needs of Amazon's Buy Shipping.

use super::error::ShippingError;
use super::model::{LabelFormat, PurchasedLabel, Quote, Rate, RateRequest};
use crate::kernel::SellerId;
use async_trait::async_trait;

#[async_trait]
pub trait Shipping: Send + Sync {
    /// The rates Amazon offers for one package of an Amazon order.
    async fn quote(&self, seller: &SellerId, request: &RateRequest)
    -> Result<Quote, ShippingError>;

    /// Buy `rate` of `quote` as a 4x6 label in `format`. `idempotency_key` makes every repeat
    /// (a retry, a worker that died before it recorded the answer) return the first purchase
    /// instead of buying again: one key per package purchase, kept until it is done.
    async fn purchase(
        &self,
        seller: &SellerId,
        quote: &Quote,
        rate: &Rate,
        format: LabelFormat,
        idempotency_key: &str,
    ) -> Result<PurchasedLabel, ShippingError>;
}
