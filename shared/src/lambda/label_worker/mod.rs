//! `label-worker`: label jobs from their SQS queue (labels to buy, labels to void, own-carrier
//! packages to confirm), partial batch failures. Each job ends `Done` (every package labeled,
//! the label voided, the package confirmed), `Retry` (Amazon or a store failed for now, another process
//! holds the package, intake has not stored the order yet) or `DeadLetter` with its reason (a
//! malformed or refused job, a purchase left unresolved, a failure past its receives).

pub mod config;

use super::batch::{Finished, answer, kept, run_batch};
use crate::aws::{
    DynamoAuditLog, DynamoControl, DynamoOrderStore, KmsPiiVault, PiiTable, SqsBatchQueue, SqsQueue,
};
use crate::kernel::{Clock, DeadLetter, Ending, QueuedMessage, SystemClock};
use crate::labels::{JobError, JobOutcome, LabelPurchase, LabelWorker, ShipmentJob};
use crate::spapi::{ConfirmationsApi, ShippingApi};
use aws_lambda_events::event::sqs::SqsEvent;
use config::LabelWorkerConfig;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use std::sync::Arc;

/// Jobs worked at once in a batch (each waits on Amazon most of its time).
const CONCURRENCY: usize = 4;

/// What a batch of jobs came to (tests and the local run read it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LabelBatchReport {
    pub labeled: u32,
    pub labels_bought: u32,
    /// Labels voided by this batch (a repeat of a void not counted).
    pub labels_voided: u32,
    /// Own-carrier packages Amazon took a confirmation of from this batch.
    pub shipments_confirmed: u32,
    /// Unresolved purchases settled as the operator found them.
    pub settled: u32,
    pub refused: u32,
    pub dead_lettered: u32,
    pub retried: u32,
    /// Message ids to leave on the queue (`batchItemFailures`).
    pub keep: Vec<String>,
}

pub struct LabelWorkerHandler {
    orders: DynamoOrderStore,
    control: DynamoControl,
    vault: KmsPiiVault,
    shipping: ShippingApi,
    confirmations: ConfirmationsApi,
    audit: DynamoAuditLog,
    queue: SqsBatchQueue,
    stock: SqsQueue,
    clock: Arc<dyn Clock>,
    max_receives: u32,
}

impl LabelWorkerHandler {
    pub fn new(config: LabelWorkerConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clock(config, sdk, Arc::new(SystemClock))
    }

    pub fn with_clock(
        config: LabelWorkerConfig,
        sdk: &aws_config::SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let transport = config
            .spapi
            .transport(sdk, &config.control_table, clock.clone());
        Self {
            orders: DynamoOrderStore::new(dynamo.clone(), config.orders_table),
            control: DynamoControl::new(dynamo.clone(), config.control_table),
            audit: DynamoAuditLog::new(dynamo.clone(), config.audit_table),
            vault: KmsPiiVault::new(
                aws_sdk_kms::Client::new(sdk),
                PiiTable::new(dynamo, config.pii_table),
                config.pii_key_id,
            ),
            shipping: ShippingApi::new(transport.clone(), clock.clone()),
            confirmations: ConfirmationsApi::new(transport, clock.clone()),
            queue: SqsBatchQueue {
                source: None,
                dead_letters: SqsQueue::new(
                    aws_sdk_sqs::Client::new(sdk),
                    config.label_jobs_dlq_url,
                ),
            },
            stock: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), config.stock_queue_url),
            clock,
            max_receives: config.max_receives,
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        let (event, context) = event.into_parts();
        let report = self.handle_jobs(event, &context.request_id).await;
        Ok(serde_json::to_value(answer(report.keep))?)
    }

    /// One batch; `holder` names this invocation. Each job is its own holder of what it sends
    /// (`<invocation>/<message id>`): two copies of a job in one batch are two processes, and
    /// the second waits for the first.
    pub async fn handle_jobs(&self, event: SqsEvent, holder: &str) -> LabelBatchReport {
        let handled = run_batch(&self.queue, event.records, CONCURRENCY, |m| async move {
            self.handle_job(&m, holder).await
        })
        .await;
        let mut report = LabelBatchReport::default();
        for h in &handled {
            match (&h.outcome, h.finished) {
                (_, Finished::Kept) => report.retried += 1,
                (Some(JobOutcome::Refused { .. }), Finished::DeadLettered) => {
                    report.refused += 1;
                    report.dead_lettered += 1;
                }
                (_, Finished::DeadLettered) => report.dead_lettered += 1,
                (Some(JobOutcome::Labeled { bought_now, .. }), Finished::Done) => {
                    report.labeled += 1;
                    report.labels_bought += *bought_now as u32;
                }
                (Some(JobOutcome::Voided { now }), Finished::Done) => {
                    report.labels_voided += u32::from(*now);
                }
                (Some(JobOutcome::Confirmed { now }), Finished::Done) => {
                    report.shipments_confirmed += u32::from(*now);
                }
                (Some(JobOutcome::Settled { .. }), Finished::Done) => report.settled += 1,
                (_, Finished::Done) => {}
            }
        }
        report.keep = kept(&handled);
        report
    }

    async fn handle_job(
        &self,
        m: &QueuedMessage,
        invocation: &str,
    ) -> (Option<JobOutcome>, Ending) {
        let holder = &format!("{invocation}/{}", m.message_id);
        let now = self.clock.now();
        let job = match ShipmentJob::parse(&m.body) {
            Ok(j) => j,
            Err(e) => {
                let reason = format!("not a label job: {e}");
                let letter =
                    DeadLetter::new(&m.message_id, "malformed", reason, m.receive_count, now);
                return (None, Ending::DeadLetter(letter));
            }
        };
        let worker = LabelWorker {
            orders: &self.orders,
            settings: &self.control,
            purchase: LabelPurchase {
                shipping: &self.shipping,
                ledger: &self.control,
                vault: &self.vault,
                clock: self.clock.as_ref(),
                holder,
            },
            confirmations: &self.confirmations,
            sealed: self.vault.table(),
            audit: &self.audit,
            watch: &self.control,
            stock: &self.stock,
        };
        let (seller_id, order_id, job_id) = (job.seller_id(), job.order_id(), job.job_id());
        let letter = |kind: &str, reason: String| DeadLetter {
            seller_id: Some(seller_id.clone()),
            order_id: Some(order_id.clone()),
            ..DeadLetter::new(&m.message_id, kind, reason, m.receive_count, now)
        };
        let done = match &job {
            ShipmentJob::Label(j) => worker.handle(j).await,
            ShipmentJob::Void(j) => worker.void(j).await,
            ShipmentJob::Ship(j) => worker.ship(j).await,
            ShipmentJob::Settle(j) => worker.settle(j).await,
        };
        match done {
            Ok(
                outcome @ (JobOutcome::Labeled { .. }
                | JobOutcome::Voided { .. }
                | JobOutcome::Confirmed { .. }
                | JobOutcome::Settled { .. }),
            ) => {
                tracing::info!(job_id, %seller_id, %order_id, job = job.kind(), outcome = ?outcome, "job done");
                (Some(outcome), Ending::Done)
            }
            Ok(JobOutcome::Refused {
                reason_kind,
                reason,
            }) => {
                tracing::warn!(job_id, %seller_id, %order_id, job = job.kind(), error_kind = reason_kind, "label job refused");
                let l = letter(reason_kind, reason.clone());
                (
                    Some(JobOutcome::Refused {
                        reason_kind,
                        reason,
                    }),
                    Ending::DeadLetter(l),
                )
            }
            Err(e) => {
                let kind = job_error_kind(&job, &e);
                tracing::warn!(job_id, %seller_id, %order_id, job = job.kind(), error_kind = kind, error = %e, receives = m.receive_count, "label job failed");
                if !e.is_retryable() || m.receive_count >= self.max_receives {
                    return (None, Ending::DeadLetter(letter(kind, e.to_string())));
                }
                (None, Ending::Retry(None))
            }
        }
    }
}

/// A short machine-readable kind for logs, metrics and dead letters.
fn job_error_kind(job: &ShipmentJob, e: &JobError) -> &'static str {
    use crate::labels::LabelError;
    match e {
        JobError::OrderNotStored { .. } => "order_not_stored",
        JobError::Contended { .. } => "contended",
        JobError::Stock(_) => "stock_not_announced",
        JobError::Store(_) => "store",
        JobError::Label(LabelError::Busy { .. }) => "busy",
        JobError::Label(LabelError::Unresolved { .. }) => "purchase_unresolved",
        JobError::Label(LabelError::Unrecorded { .. }) => "purchase_unrecorded",
        JobError::Label(LabelError::Shipping(_)) => match job {
            ShipmentJob::Label(_) => "purchase_failed",
            ShipmentJob::Void(_) => "void_failed",
            ShipmentJob::Ship(_) => "confirm_failed",
            ShipmentJob::Settle(_) => "settle_failed",
        },
        JobError::Label(LabelError::OwnCarrier { .. }) => "own_carrier",
        JobError::Label(_) => "label",
    }
}
