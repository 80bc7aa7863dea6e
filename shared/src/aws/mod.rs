//! Adapters: the ports implemented on DynamoDB, KMS, Secrets Manager, SQS, CloudTrail.
//! Each AWS client is built once per process (cold start) from [`aws_sdk_config`].

mod audit;
mod batch;
mod budget;
#[cfg(feature = "cloudtrail")]
mod cloudtrail;
mod control;
mod deletions;
#[cfg(feature = "api")]
mod idempotency;
mod label_purchases;
mod notification_claims;
mod order_listing;
mod orders;
mod pii_table;
#[cfg(feature = "sqs")]
mod queues;
#[cfg(feature = "s3")]
mod report_archive;
mod report_jobs;
#[cfg(feature = "secrets")]
mod secrets;
mod stock_table;
mod tracking_watch;
mod unreadable;
#[cfg(feature = "kms")]
mod vault;

pub use audit::DynamoAuditLog;
pub use budget::DynamoRateBudget;
#[cfg(feature = "cloudtrail")]
pub use cloudtrail::CloudTrailAccessTrail;
pub use control::DynamoControl;
pub use label_purchases::LabelSettingsItem;
pub use orders::DynamoOrderStore;
pub use pii_table::PiiTable;
#[cfg(feature = "sqs")]
pub use queues::{SqsBatchQueue, SqsQueue};
#[cfg(feature = "s3")]
pub use report_archive::S3ReportArchive;
#[cfg(feature = "secrets")]
pub use secrets::SecretsManagerCredentials;
pub use stock_table::DynamoStockLedger;
#[cfg(feature = "kms")]
pub use vault::{KmsPiiVault, KmsShipToCorrector};

use crate::kernel::{Failure, IoFailure, PiiKind, StoreError};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// The shared SDK configuration: region, credentials and endpoint from the environment
/// (`AWS_ENDPOINT_URL` points it at moto in the local stack; nothing else changes), and
/// [`call_timeouts`].
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(call_timeouts())
        .load()
        .await
}

/// How long one AWS call may take. The SDK sets no limit on an answer by default: a call whose
/// answer never comes (a connection dropped by the far end without a word) held its batch
/// until the Lambda timed out, and the batch's messages then waited out their queue's
/// visibility timeout. Cut, the attempt fails as a timeout and the SDK's retry sends it again.
/// In-region calls take milliseconds; ten seconds leaves room for a large transaction or a
/// throttled table.
pub fn call_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(10))
        .build()
}

/// What kind of failure an SDK call met, from its variant, status and error code.
pub(crate) fn failure_of<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Failure {
    const THROTTLING: [&str; 5] = [
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    ];
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient
        }
        SdkError::ServiceError(ctx) => {
            if ctx.err().code().is_some_and(|c| THROTTLING.contains(&c)) {
                Failure::Throttled
            } else if ctx.raw().status().is_server_error() {
                Failure::Transient
            } else {
                Failure::Refused
            }
        }
        _ => Failure::Refused,
    }
}

/// An SDK failure in the ports' words, the SDK's account kept as text and as the source.
pub(crate) fn io_failure<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> IoFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    IoFailure {
        operation,
        failure: failure_of(&err),
        detail: DisplayErrorContext(&err).to_string(),
        source: Box::new(err),
    }
}

/// An SDK failure as a store's error.
pub(crate) fn store_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StoreError::Failed(io_failure(operation, err))
}

/// The kinds an item lists, as the vault deletes them by key: every one, or none when one is
/// of a kind this build does not know (the vault then looks every item of the order up).
pub(crate) fn known_kinds<'a>(listed: impl IntoIterator<Item = &'a str>) -> Vec<PiiKind> {
    listed
        .into_iter()
        .map(PiiKind::parse)
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default()
}

/// Every item a query finds, all pages read.
pub(crate) async fn query_all(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<
    Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>,
    StoreError,
> {
    query
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| store_error("Query", e))
}

/// A strongly consistent read of one item by its key attributes, decoded into `T`.
/// `what` names the item (ids only) for the error if it does not decode.
pub(crate) async fn read_item<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: [(&str, String); 2],
    what: impl FnOnce() -> String,
) -> Result<Option<T>, StoreError> {
    let [(k1, v1), (k2, v2)] = key;
    let out = client
        .get_item()
        .table_name(table)
        .key(k1, aws_sdk_dynamodb::types::AttributeValue::S(v1))
        .key(k2, aws_sdk_dynamodb::types::AttributeValue::S(v2))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| store_error("GetItem", e))?;
    out.item
        .map(|item| {
            serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
                what: format!("{}: {e}", what()),
            })
        })
        .transpose()
}

/// Write `record` only if the stored item is still at revision `read` (`None`: only if there is
/// no item yet). `Ok(false)`: another writer got there first; read again.
/// `what` names the item (ids only) for errors.
pub(crate) async fn put_if_revision<T: serde::Serialize>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    record: &T,
    read: Option<u64>,
    what: impl Fn() -> String,
) -> Result<bool, StoreError> {
    match read {
        None => {
            put_if(
                client,
                table,
                record,
                "attribute_not_exists(revision)",
                None,
                what,
            )
            .await
        }
        Some(v) => {
            let read = aws_sdk_dynamodb::types::AttributeValue::N(v.to_string());
            put_if(
                client,
                table,
                record,
                "revision = :read",
                Some((":read", read)),
                what,
            )
            .await
        }
    }
}

/// Write `record` if `condition` holds (with at most one value). `Ok(false)`: it did not.
/// `what` names the item (ids only) for errors.
pub(crate) async fn put_if<T: serde::Serialize>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    record: &T,
    condition: &str,
    value: Option<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
    what: impl Fn() -> String,
) -> Result<bool, StoreError> {
    let item = serde_dynamo::to_item(record).map_err(|e| StoreError::Corrupt {
        what: format!("{}: {e}", what()),
    })?;
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition);
    let put = match value {
        Some((name, v)) => put.expression_attribute_values(name, v),
        None => put,
    };
    match put.send().await {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(store_error("PutItem", e)),
    }
}

/// Why a transaction was canceled, item by item (`ConditionalCheckFailed`,
/// `TransactionConflict`, `None` for an item that was fine), or `None` when it was not canceled
/// but failed otherwise. An empty list: canceled without reasons given.
#[cfg(feature = "kms")]
pub(crate) fn cancellation_codes(
    e: &SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        HttpResponse,
    >,
) -> Option<Vec<Option<String>>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    match e.as_service_error() {
        Some(E::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// A conditional write's answer: `true` written, `false` its condition did not hold (someone
/// else wrote first); any other failure as the store's error.
pub(crate) fn written<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(store_error(operation, e)),
    }
}

/// Whether a DynamoDB error is a lost condition (someone else wrote first, or a later revision).
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}
