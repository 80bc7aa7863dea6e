//! Buying one package's label at most once. The attempt (its idempotency key and the exact
//! request) goes on record before Amazon is asked, and each send is claimed first (a lease, and
//! the mark that it was sent), so that a duplicate job, a retry, or a worker that died after
//! Amazon bought the label but before the result was written all finish the same attempt with
//! the same key, one process at a time, which Amazon answers with the first purchase.
//!
//! A new key is taken only when no label can have been bought under the old one: the attempt
//! was never sent and its quote is stale, or Amazon refused it as expired on its first send
//! inside the quote's window. An attempt sent before whose rate Amazon now calls expired may
//! have bought the label: it is left for the operator (`Unresolved`), never bought again.
//! The document is sealed in the vault before the purchase is recorded as done, so a label on
//! record always has its document.

use super::error::ShippingError;
use super::model::{
    LabelFormat, LabelRecord, PurchaseAttempt, PurchaseEntry, PurchasedLabel, RatePolicy,
    RateRequest, VoidedLabel,
};
use super::ports::{PurchaseLedger, Shipping};
use crate::kernel::{Clock, SellerId, StoreError};
use crate::pii::{PiiSealer, VaultError};
use chrono::{DateTime, Duration, Utc};

/// Record races lost before giving up (another process working the same package).
const MAX_RACES: usize = 4;
/// Fresh quotes after expired rates before giving up.
const MAX_REQUOTES: u32 = 3;
/// A quote is sent within this of being made (Amazon keeps it 10 minutes): the transport's
/// retries of one send then end before it expires.
const SEND_WINDOW: Duration = Duration::minutes(8);
/// How long a process holds an attempt it sends: longer than the transport's retries.
pub(super) const LEASE: Duration = Duration::minutes(5);

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error(transparent)]
    Shipping(#[from] ShippingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// No rate fits the seller's policy: the job is refused with this reason, never bought
    /// with a rate the policy did not pick.
    #[error("order {order_id} package {package_id}: no rate fits: {reason}")]
    NoRate {
        order_id: String,
        package_id: String,
        reason: String,
    },
    /// Another process holds the package's attempt: try again when its lease has run out.
    #[error(
        "order {order_id} package {package_id}: attempt {key} is being sent by another process"
    )]
    Busy {
        order_id: String,
        package_id: String,
        key: String,
    },
    #[error("order {order_id} package {package_id}: the purchase record kept changing")]
    Contended {
        order_id: String,
        package_id: String,
    },
    /// An attempt already sent whose rate Amazon now calls expired: the label may have been
    /// bought under it. Not bought again; the operator looks it up (by the key) and settles it.
    #[error(
        "order {order_id} package {package_id}: attempt {key} was sent before and its rate has expired; \
         whether it bought a label is unknown"
    )]
    Unresolved {
        order_id: String,
        package_id: String,
        key: String,
    },
    /// The job's label was voided after it was bought: a repeat of that job buys nothing; a
    /// new label takes a new job.
    #[error(
        "order {order_id} package {package_id}: the label job {job_id} bought was voided; send a new job to label it again"
    )]
    VoidedForJob {
        order_id: String,
        package_id: String,
        job_id: String,
    },
    /// The package went on the operator's own carrier (confirmed or being confirmed): no
    /// Buy Shipping label for it.
    #[error("order {order_id} package {package_id} ships on the operator's own carrier")]
    OwnCarrier {
        order_id: String,
        package_id: String,
    },
    /// Bought, but another attempt is on record, and Amazon would not void it: a label paid
    /// for and not recorded, for the operator to cancel.
    #[error(
        "order {order_id} package {package_id}: shipment {shipment_id} bought under {key}, but another attempt is on record"
    )]
    Unrecorded {
        order_id: String,
        package_id: String,
        key: String,
        shipment_id: String,
    },
}

impl LabelError {
    /// Worth another try later (the job waits on its queue).
    pub fn is_retryable(&self) -> bool {
        match self {
            LabelError::Shipping(e) => e.is_retryable(),
            LabelError::Store(e) => !matches!(e, StoreError::Corrupt { .. }),
            LabelError::Vault(_) | LabelError::Busy { .. } | LabelError::Contended { .. } => true,
            LabelError::NoRate { .. }
            | LabelError::VoidedForJob { .. }
            | LabelError::OwnCarrier { .. }
            | LabelError::Unresolved { .. }
            | LabelError::Unrecorded { .. } => false,
        }
    }
}

/// What buying came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bought {
    /// Bought (or finished) now; the document is sealed.
    Now(LabelRecord),
    /// On record already: bought before, nothing asked of Amazon.
    Before(LabelRecord),
}

impl Bought {
    pub fn record(&self) -> &LabelRecord {
        match self {
            Bought::Now(r) | Bought::Before(r) => r,
        }
    }
}

pub struct LabelPurchase<'a> {
    pub shipping: &'a dyn Shipping,
    pub ledger: &'a dyn PurchaseLedger,
    pub vault: &'a dyn PiiSealer,
    pub clock: &'a dyn Clock,
    /// This process (the invocation's request id): the holder of the attempts it sends.
    pub holder: &'a str,
}

/// The package's work: its request and what the seller's rules decide.
pub struct LabelOrder<'r> {
    /// The label job asking.
    pub job_id: &'r str,
    pub request: &'r RateRequest,
    pub policy: &'r RatePolicy,
    pub format: LabelFormat,
    /// The order's latest delivery date, which the rate must meet.
    pub deliver_by: Option<DateTime<Utc>>,
    /// The order's purge date: the sealed document goes with the rest of its PII.
    pub purge_at: DateTime<Utc>,
}

impl LabelPurchase<'_> {
    /// The label of the package, bought at most once.
    pub async fn buy_once(
        &self,
        seller: &SellerId,
        job: &LabelOrder<'_>,
    ) -> Result<Bought, LabelError> {
        let request = job.request;
        let (order, package) = (&request.order_id, &request.package.package_id);
        let mut attempt = None;
        for _ in 0..MAX_RACES {
            let now = self.clock.now();
            match self.ledger.load(seller, order, package).await? {
                Some(PurchaseEntry::Purchased(record)) => return Ok(Bought::Before(record)),
                Some(PurchaseEntry::OwnCarrier(_)) => {
                    return Err(LabelError::OwnCarrier {
                        order_id: order.to_string(),
                        package_id: package.to_string(),
                    });
                }
                // Voided, and this is (a late copy of) the job that bought it: not bought again.
                Some(PurchaseEntry::Voided(v)) if v.label.job_id.as_deref() == Some(job.job_id) => {
                    return Err(LabelError::VoidedForJob {
                        order_id: order.to_string(),
                        package_id: package.to_string(),
                        job_id: job.job_id.to_owned(),
                    });
                }
                // Its label was voided, or its attempt found to have bought nothing: a new one
                // under the next key.
                Some(
                    PurchaseEntry::Voided(VoidedLabel {
                        label:
                            LabelRecord {
                                idempotency_key: key,
                                ..
                            },
                        attempt_number,
                        ..
                    })
                    | PurchaseEntry::Abandoned {
                        attempt_number,
                        key,
                    },
                ) => {
                    let next = self.attempt(seller, job, attempt_number + 1).await?;
                    if self
                        .ledger
                        .start(seller, order, package, &next, Some(&key))
                        .await?
                    {
                        attempt = Some(next);
                        break;
                    }
                }
                // Never sent, and its quote too old to send: a fresh one, under the next key.
                Some(PurchaseEntry::InProgress(a))
                    if a.sent_at.is_none() && now - a.quote.quoted_at > SEND_WINDOW =>
                {
                    let next = self.attempt(seller, job, a.number + 1).await?;
                    if self
                        .ledger
                        .start(seller, order, package, &next, Some(&a.idempotency_key))
                        .await?
                    {
                        attempt = Some(next);
                        break;
                    }
                }
                // Begun by someone (maybe a process that died): finish it as it was begun.
                Some(PurchaseEntry::InProgress(a)) => {
                    attempt = Some(a);
                    break;
                }
                None => {
                    let a = self.attempt(seller, job, 1).await?;
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
            let now = self.clock.now();
            let first_send = attempt.sent_at.is_none();
            let claimed = self
                .ledger
                .claim(
                    seller,
                    order,
                    package,
                    &attempt.idempotency_key,
                    self.holder,
                    now,
                    now + LEASE,
                )
                .await?;
            if !claimed {
                return Err(LabelError::Busy {
                    order_id: order.to_string(),
                    package_id: package.to_string(),
                    key: attempt.idempotency_key.clone(),
                });
            }
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
                    // Sealed before the purchase counts as done: a label on record has its
                    // document (sealing again is a no-op).
                    self.vault
                        .seal_label(seller, order, package, &label.document, job.purge_at)
                        .await?;
                    let record = label.record(&attempt, self.clock.now());
                    if !self
                        .ledger
                        .complete(seller, order, package, &record)
                        .await?
                    {
                        // Bought under an attempt no longer on record: voided at once, so it
                        // costs nothing, and the job tries again against what is on record.
                        // Left for the operator only if Amazon will not void it.
                        if self.shipping.cancel(seller, &record).await.is_ok() {
                            tracing::warn!(seller_id = %seller, order_id = %order, package_id = %package, shipment_id = %record.shipment_id, error_kind = "purchase_unrecorded_voided", "a label bought under an attempt no longer on record was voided");
                            return Err(self.contended(request));
                        }
                        return Err(LabelError::Unrecorded {
                            order_id: order.to_string(),
                            package_id: package.to_string(),
                            key: attempt.idempotency_key,
                            shipment_id: label.shipment_id,
                        });
                    }
                    return Ok(Bought::Now(record));
                }
                // Its first send, inside the quote's window: no lost answer can have bought
                // anything before the rate expired. Quote again under the next key.
                Err(ShippingError::RateExpired { .. })
                    if first_send
                        && now - attempt.quote.quoted_at <= SEND_WINDOW
                        && attempt.number <= MAX_REQUOTES =>
                {
                    let next = self.attempt(seller, job, attempt.number + 1).await?;
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
                Err(ShippingError::RateExpired { .. }) => {
                    return Err(LabelError::Unresolved {
                        order_id: order.to_string(),
                        package_id: package.to_string(),
                        key: attempt.idempotency_key,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The operator found that `attempt` (sent, never answered) bought shipment
    /// `shipment_id`: its document fetched from Amazon and sealed, the label recorded under the
    /// attempt's key. Nothing is bought.
    pub async fn settle_bought(
        &self,
        seller: &SellerId,
        order: &crate::kernel::AmazonOrderId,
        package: &crate::kernel::PackageId,
        attempt: &PurchaseAttempt,
        shipment_id: &str,
        purge_at: DateTime<Utc>,
    ) -> Result<LabelRecord, LabelError> {
        let fetched = self
            .shipping
            .documents(
                seller,
                &attempt.quote.business,
                shipment_id,
                package,
                attempt.format,
            )
            .await?;
        self.vault
            .seal_label(seller, order, package, &fetched.document, purge_at)
            .await?;
        let label = PurchasedLabel {
            shipment_id: shipment_id.to_owned(),
            tracking_id: fetched.tracking_id,
            carrier_id: attempt.rate.carrier_id.clone(),
            service_id: attempt.rate.service_id.clone(),
            charge: attempt.rate.charge.clone(),
            delivery_window: attempt.rate.delivery_window,
            format: attempt.format,
            document: fetched.document,
        };
        let record = label.record(attempt, self.clock.now());
        if !self
            .ledger
            .complete(seller, order, package, &record)
            .await?
        {
            return Err(LabelError::Contended {
                order_id: order.to_string(),
                package_id: package.to_string(),
            });
        }
        Ok(record)
    }

    /// A fresh quote and the policy's rate in it, as attempt `number`, held by this process.
    async fn attempt(
        &self,
        seller: &SellerId,
        job: &LabelOrder<'_>,
        number: u32,
    ) -> Result<PurchaseAttempt, LabelError> {
        let request = job.request;
        let quote = self.shipping.quote(seller, request).await?;
        let rate = job
            .policy
            .choose(&quote.rates, job.format, job.deliver_by)
            .cloned()
            .ok_or_else(|| LabelError::NoRate {
                order_id: request.order_id.to_string(),
                package_id: request.package.package_id.to_string(),
                reason: match (job.policy, job.deliver_by) {
                    (
                        RatePolicy::Fixed {
                            carrier_id,
                            service_id,
                        },
                        _,
                    ) => format!(
                        "{carrier_id} {service_id} in {} not offered",
                        job.format.as_str()
                    ),
                    (RatePolicy::CheapestOnTime, Some(_)) => format!(
                        "none of {} rates prints {} with a delivery promise",
                        quote.rates.len(),
                        job.format.as_str()
                    ),
                    (RatePolicy::CheapestOnTime, None) => {
                        format!("no rate prints {}", job.format.as_str())
                    }
                },
            })?;
        let now = self.clock.now();
        Ok(PurchaseAttempt {
            number,
            idempotency_key: PurchaseAttempt::key(
                &request.order_id,
                &request.package.package_id,
                number,
            ),
            quote,
            rate,
            format: job.format,
            started_at: now,
            holder: self.holder.to_owned(),
            lease_until: now + LEASE,
            sent_at: None,
            job_id: Some(job.job_id.to_owned()),
        })
    }

    fn contended(&self, request: &RateRequest) -> LabelError {
        LabelError::Contended {
            order_id: request.order_id.to_string(),
            package_id: request.package.package_id.to_string(),
        }
    }
}
