//! How the PII vault failed.

use crate::kernel::{IoFailure, StoreError};

/// Errors of the PII vault. Never carries plaintext, keys or ciphertext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("kms for order {order_id}: {io}")]
    Kms {
        order_id: String,
        #[source]
        io: IoFailure,
    },
    #[error(
        "sealed {kind} item of order {order_id} does not open under its own order's key and context"
    )]
    DoesNotOpen {
        order_id: String,
        kind: &'static str,
    },
    #[error("encryption failed for order {order_id}")]
    Seal { order_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
