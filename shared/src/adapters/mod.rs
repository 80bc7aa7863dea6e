//! Adapters: the ports implemented on DynamoDB, KMS, Secrets Manager, SQS, CloudTrail.
//! Each AWS client is built once per process (cold start) from [`aws_sdk_config`].

mod audit;
mod budget;
mod cloudtrail;
mod control;
mod deletions;
mod ledger;
mod orders;
mod queues;
mod secrets;
mod unreadable;
mod vault;

pub use audit::DynamoAuditLog;
pub use budget::DynamoRateBudget;
pub use cloudtrail::CloudTrailAccessTrail;
pub use control::DynamoControl;
pub use orders::DynamoOrderStore;
pub use queues::{QueueError, SqsNotificationQueue, SqsQueue};
pub use secrets::SecretsManagerSecrets;
pub use vault::KmsPiiVault;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The shared SDK configuration: region, credentials and endpoint from the environment
/// (`AWS_ENDPOINT_URL` points it at moto in the local stack; nothing else changes).
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Errors of the DynamoDB stores. Messages carry table operations and ids, never item data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conditional write lost: {what}")]
    Conflict { what: String },
    #[error("dynamodb {operation} failed: {message}")]
    Dynamo {
        operation: &'static str,
        message: String,
    },
    #[error("stored item is not readable: {what}")]
    Corrupt { what: String },
}

impl StoreError {
    pub(crate) fn dynamo<E, R>(
        operation: &'static str,
        err: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> Self
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        StoreError::Dynamo {
            operation,
            message: DisplayErrorContext(&err).to_string(),
        }
    }
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
        .map_err(|e| StoreError::dynamo("Query", e))
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
        .map_err(|e| StoreError::dynamo("GetItem", e))?;
    out.item
        .map(|item| {
            serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
                what: format!("{}: {e}", what()),
            })
        })
        .transpose()
}

/// Write `record` only if the stored item is still at version `read` (`None`: only if there is
/// no item yet). `Ok(false)`: another writer got there first; read again.
/// `what` names the item (ids only) for errors.
pub(crate) async fn put_if_version<T: serde::Serialize>(
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
                "attribute_not_exists(version)",
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
                "version = :read",
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
        Err(e) => Err(StoreError::dynamo("PutItem", e)),
    }
}

/// Whether a DynamoDB error is a lost condition (someone else wrote first, or a newer version).
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata>(
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// Errors of the PII vault. Never carries plaintext, keys or ciphertext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("kms {operation} failed for order {order_id}: {message}")]
    Kms {
        operation: &'static str,
        order_id: String,
        message: String,
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

/// Reading CloudTrail failed. Carries the operation and the service's message, never an
/// event's content.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error("cloudtrail {operation} failed: {message}")]
    Service {
        operation: &'static str,
        message: String,
    },
    #[error("cloudtrail event {event_id} is not in the documented record format: {reason}")]
    Malformed { event_id: String, reason: String },
}

/// Errors reading secrets. Never carries a secret's value or a parser message about it.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret {secret_id} not found")]
    NotFound { secret_id: String },
    #[error("secret {secret_id} does not hold the expected JSON fields ({expected})")]
    Malformed {
        secret_id: String,
        expected: &'static str,
    },
    #[error("secrets manager failed reading {secret_id}: {message}")]
    Service { secret_id: String, message: String },
}
