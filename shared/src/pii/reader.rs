//! The one way to open PII after intake: for an actor and a purpose, on record before it
//! happens.

use super::error::VaultError;
use super::ports::{OpenedPii, PiiOpener};
use crate::kernel::{
    AmazonOrderId, AuditEvent, AuditKind, AuditLog, Clock, PiiKind, SellerId, StoreError,
};

/// Why PII could not be opened. Ids only.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The read could not be put on record, so it did not happen.
    #[error("the read could not be recorded: {0}")]
    NotRecorded(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The one way to open PII: for an actor and a purpose, recorded before it happens.
pub struct PiiReader<'a> {
    pub vault: &'a dyn PiiOpener,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
}

impl PiiReader<'_> {
    /// Open one sealed part of an order's PII. The audit event is written first: a read that
    /// cannot be recorded does not happen. The KMS `Decrypt` behind it is what CloudTrail
    /// records with the order's encryption context.
    pub async fn open(
        &self,
        actor: &str,
        purpose: &str,
        seller: &SellerId,
        order: &AmazonOrderId,
        kind: PiiKind,
    ) -> Result<Option<OpenedPii>, ReaderError> {
        self.audit
            .record(
                &AuditEvent::new(AuditKind::PiiRead, actor, purpose, self.clock.now())
                    .order(seller, order),
            )
            .await?;
        Ok(self.vault.open(seller, order, kind).await?)
    }
}
