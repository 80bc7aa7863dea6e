//! What every capability shares: validated ids, `Pii<T>`, the clock, audit events, and the
//! words a port's failure is told in. Pure: no I/O, no AWS or HTTP types.

pub mod answers;
pub mod audit;
pub mod clock;
pub mod ids;
pub mod pii;
pub mod queue;
mod refusal;
pub mod store;

pub use answers::{Chunk, answered, in_rounds, unanswered};
pub use audit::{AuditEvent, AuditKind, AuditLog};
pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use ids::{
    AmazonOrderId, IdError, MarketplaceId, OrderItemId, PackageId, ReportId, SellerId, Sku,
    SubjectRequestId,
};
pub use pii::{Address, BuyerPii, OrderPii, Pii, PiiKind};
pub use queue::{BatchQueue, DeadLetter, Ending, QueueError, QueuedMessage};
pub use refusal::serde_reason;
pub use store::{BoxError, Failure, IoFailure, Revisioned, StoreError};
