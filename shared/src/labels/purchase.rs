//! Buying one package's label at most once. The attempt (its idempotency key and the exact
//! request) goes on record before Amazon is asked, so that a duplicate job, a retry, or a worker
//! that died after Amazon bought the label but before the result was written all finish the same
//! attempt with the same key, which Amazon answers with the first purchase. A new key is taken
//! only when Amazon says the attempt's rate expired: then it bought nothing, and the package is
//! quoted again.

use super::error::ShippingError;
use super::model::{
    LabelFormat, LabelRecord, PurchaseAttempt, PurchaseEntry, PurchasedLabel, RatePolicy,
    RateRequest,
};
use super::ports::{PurchaseLedger, Shipping};
use crate::kernel::{Clock, SellerId, StoreError};
use chrono::{DateTime, Utc};

/// Record races lost before giving up (another process working the same package).
const MAX_RACES: usize = 4;
/// Fresh quotes after expired rates before giving up.
const MAX_REQUOTES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error(transparent)]
    Shipping(#[from] ShippingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No rate fits the seller's policy: the job is refused with this reason, never bought
    /// with a rate the policy did not pick.
    #[error("order {order_id} package {package_id}: no rate fits: {reason}")]
    NoRate {
        order_id: String,
        package_id: String,
        reason: String,
    },
    #[error("order {order_id} package {package_id}: the purchase record kept changing")]
    Contended {
        order_id: String,
        package_id: String,
    },
}

/// What buying came to.
#[derive(Debug)]
pub enum Bought {
    /// Bought (or finished) now: the document is here, to be sealed.
    Now {
        label: PurchasedLabel,
        record: LabelRecord,
    },
    /// On record already: bought before, nothing asked of Amazon.
    Before(LabelRecord),
}

pub struct LabelPurchase<'a> {
    pub shipping: &'a dyn Shipping,
    pub ledger: &'a dyn PurchaseLedger,
    pub clock: &'a dyn Clock,
}

impl LabelPurchase<'_> {
    /// The label of `request`'s package, in `format`, chosen by `policy` against `deliver_by`.
    pub async fn buy_once(
        &self,
        seller: &SellerId,
        request: &RateRequest,
        policy: &RatePolicy,
        format: LabelFormat,
        deliver_by: Option<DateTime<Utc>>,
    ) -> Result<Bought, LabelError> {
        let (order, package) = (&request.order_id, &request.package.package_id);
        let mut attempt = None;
        for _ in 0..MAX_RACES {
            match self.ledger.load(seller, order, package).await? {
                Some(PurchaseEntry::Purchased(record)) => return Ok(Bought::Before(record)),
                // Begun by someone (maybe a process that died): finish it as it was begun.
                Some(PurchaseEntry::InProgress(a)) => {
                    attempt = Some(a);
                    break;
                }
                None => {
                    let a = self
                        .attempt(seller, request, policy, format, deliver_by, 1)
                        .await?;
                    if self.ledger.start(seller, order, package, &a, None).await? {
                        attempt = Some(a);
                        break;
                    }
                }
            }
        }
        let Some(mut attempt) = attempt else {
            return Err(self.contended(request));
        };
        loop {
            let bought = self
                .shipping
                .purchase(
                    seller,
                    &attempt.quote,
                    &attempt.rate,
                    attempt.format,
                    &attempt.idempotency_key,
                )
                .await;
            match bought {
                Ok(label) => {
                    let record = label.record(&attempt.idempotency_key, self.clock.now());
                    if !self
                        .ledger
                        .complete(seller, order, package, &record)
                        .await?
                    {
                        // Another attempt is on record: it is the one that stands.
                        return Err(self.contended(request));
                    }
                    return Ok(Bought::Now { label, record });
                }
                // Nothing was bought under this key: quote again under the next.
                Err(ShippingError::RateExpired { .. }) if attempt.number <= MAX_REQUOTES => {
                    let next = self
                        .attempt(
                            seller,
                            request,
                            policy,
                            format,
                            deliver_by,
                            attempt.number + 1,
                        )
                        .await?;
                    let replaced = self
                        .ledger
                        .start(
                            seller,
                            order,
                            package,
                            &next,
                            Some(&attempt.idempotency_key),
                        )
                        .await?;
                    if !replaced {
                        return Err(self.contended(request));
                    }
                    attempt = next;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A fresh quote and the policy's rate in it, as attempt `number`.
    async fn attempt(
        &self,
        seller: &SellerId,
        request: &RateRequest,
        policy: &RatePolicy,
        format: LabelFormat,
        deliver_by: Option<DateTime<Utc>>,
        number: u32,
    ) -> Result<PurchaseAttempt, LabelError> {
        let quote = self.shipping.quote(seller, request).await?;
        let rate = policy
            .choose(&quote.rates, format, deliver_by)
            .cloned()
            .ok_or_else(|| LabelError::NoRate {
                order_id: request.order_id.to_string(),
                package_id: request.package.package_id.to_string(),
                reason: match (policy, deliver_by) {
                    (
                        RatePolicy::Fixed {
                            carrier_id,
                            service_id,
                        },
                        _,
                    ) => {
                        format!(
                            "{carrier_id} {service_id} in {} not offered",
                            format.as_str()
                        )
                    }
                    (RatePolicy::CheapestOnTime, Some(by)) => format!(
                        "none of {} rates in {} promises delivery by {by}",
                        quote.rates.len(),
                        format.as_str()
                    ),
                    (RatePolicy::CheapestOnTime, None) => {
                        format!("no rate prints {}", format.as_str())
                    }
                },
            })?;
        Ok(PurchaseAttempt {
            number,
            idempotency_key: PurchaseAttempt::key(
                &request.order_id,
                &request.package.package_id,
                number,
            ),
            quote,
            rate,
            format,
            started_at: self.clock.now(),
        })
    }

    fn contended(&self, request: &RateRequest) -> LabelError {
        LabelError::Contended {
            order_id: request.order_id.to_string(),
            package_id: request.package.package_id.to_string(),
        }
    }
}
