use super::lock;
use crate::kernel::{AuditEvent, AuditKind, AuditLog, QueueError, StoreError};
use crate::kernel::{BatchQueue, DeadLetter};
use crate::stock::{StockChange, StockEvents};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// Stands in for the audit table (`DynamoAuditLog`): append-only events.
#[derive(Default)]
pub struct MemAudit {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemAudit {
    pub fn events(&self) -> Vec<AuditEvent> {
        lock(&self.events).clone()
    }

    pub fn of_kind(&self, kind: AuditKind) -> Vec<AuditEvent> {
        lock(&self.events)
            .iter()
            .filter(|e| e.kind == kind)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl AuditLog for MemAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        lock(&self.events).push(event.clone());
        Ok(())
    }

    async fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events: Vec<AuditEvent> = lock(&self.events)
            .iter()
            .filter(|e| from <= e.at && e.at < to)
            .cloned()
            .collect();
        events.sort_by_key(|e| e.at);
        Ok(events)
    }
}

/// Stands in for the stock queue (`SqsQueue`): every change published, in order,
/// repeats included (the consumer applies each `change_id` once).
#[derive(Default)]
pub struct MemStock {
    published: Mutex<Vec<StockChange>>,
    movements: Mutex<Vec<crate::stock::StaffMovement>>,
    faults: std::sync::Arc<super::Faults>,
}

impl MemStock {
    pub(super) fn with_faults(self, faults: std::sync::Arc<super::Faults>) -> Self {
        Self { faults, ..self }
    }

    pub fn published(&self) -> Vec<StockChange> {
        lock(&self.published).clone()
    }

    pub fn movements(&self) -> Vec<crate::stock::StaffMovement> {
        lock(&self.movements).clone()
    }
}

#[async_trait]
impl StockEvents for MemStock {
    async fn publish(&self, change: &StockChange) -> Result<(), QueueError> {
        lock(&self.published).push(change.clone());
        Ok(())
    }

    async fn publish_many(&self, changes: &[StockChange]) -> Vec<Result<(), QueueError>> {
        changes
            .iter()
            .map(|c| {
                if self
                    .faults
                    .hit(super::BatchStep::Stock, c.order_id.as_str())
                {
                    Err(QueueError::Failed {
                        queue: "stock".into(),
                        io: super::Faults::io(super::BatchStep::Stock),
                    })
                } else {
                    lock(&self.published).push(c.clone());
                    Ok(())
                }
            })
            .collect()
    }

    async fn publish_movement(
        &self,
        movement: &crate::stock::StaffMovement,
    ) -> Result<(), QueueError> {
        lock(&self.movements).push(movement.clone());
        Ok(())
    }
}

/// Stands in for a consumer's queue and its dead-letter queue (`SqsBatchQueue`):
/// the delays asked for by receipt handle, and the letters sent.
#[derive(Default)]
pub struct MemQueue {
    deferred: Mutex<Vec<(String, Duration)>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
}

impl MemQueue {
    pub fn deferred(&self) -> Vec<(String, Duration)> {
        lock(&self.deferred).clone()
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        lock(&self.dead_letters).clone()
    }
}

#[async_trait]
impl BatchQueue for MemQueue {
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        lock(&self.deferred).push((receipt_handle.to_owned(), delay));
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), QueueError> {
        lock(&self.dead_letters).push(letter.clone());
        Ok(())
    }
}
