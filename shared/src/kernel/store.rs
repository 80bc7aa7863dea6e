//! How a store's I/O failed, in the words a service decides on. Adapters map their SDK's
//! failures into these and keep the original as the source; no service sees an SDK type.

/// Any error an adapter keeps as the source of its port's error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What kind of failure an I/O call met: what the caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The service asked us to slow down: retry after a pause.
    Throttled,
    /// Timeouts, connection failures, server errors: another attempt may succeed.
    Transient,
    /// Refused for good (validation, access denied, a resource that does not exist):
    /// retrying will not help until someone changes the request or the configuration.
    Refused,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Throttled => "throttled",
            Failure::Transient => "transient",
            Failure::Refused => "refused",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed I/O call, as every port's error carries it: the operation, the kind of failure,
/// the SDK's own account of it (codes and messages, never item data), and the original.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed ({failure}): {detail}")]
pub struct IoFailure {
    pub operation: &'static str,
    pub failure: Failure,
    pub detail: String,
    #[source]
    pub source: BoxError,
}

/// Errors of the stores (tables). Messages carry operations and ids, never item data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conditional write lost: {what}")]
    Conflict { what: String },
    #[error(transparent)]
    Failed(IoFailure),
    #[error("stored item is not readable: {what}")]
    Corrupt { what: String },
}

/// A stored value with the revision its conditional write needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revisioned<T> {
    pub value: T,
    pub revision: u64,
}
