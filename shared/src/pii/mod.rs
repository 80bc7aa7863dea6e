//! The PII lifecycle: the retention rule, sealing and opening, the purge on the day, deletion
//! on request and the self-check (`redactor`, run by the `pii-redactor` function).

pub mod error;
pub mod model;
pub mod ports;
pub mod reader;
pub mod redactor;
pub mod retention;

pub use error::VaultError;
pub use model::{
    DeletionConfirmation, DeletionRequest, DeletionScope, PiiState, PiiStatus, PurgeReason,
    SubjectRecord,
};
pub use ports::*;
pub use reader::{PiiReader, ReaderError};
pub use redactor::{DeletionOutcome, PiiRedactor, PurgeReport, RedactorError};
pub use retention::{MAX_RETENTION_DAYS, RetentionError, RetentionFacts, RetentionPolicy};
