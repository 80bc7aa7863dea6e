//! DynamoDB's batch requests with an answer per item: many conditional writes in transactions
//! (`transact_each`), many reads in `BatchGetItem` (`get_each`), many plain puts in
//! `BatchWriteItem` (`put_each`).
//!
//! One rule for all three: what a batch request did not do, each item does alone. Items the
//! service left unprocessed (or that met a conflict) are sent again together a few times; a
//! request refused as a whole (one item too large, a throttle) is split into one request per
//! item, so one bad item fails only itself and every error is the item's own.

use super::{StoreError, store_error};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limits per request.
const TRANSACTION_ITEMS: usize = 100;
const GET_KEYS: usize = 100;
const WRITE_ITEMS: usize = 25;
/// Rounds of sending again what a batch request left undone, before each goes alone.
const ROUNDS: usize = 3;

/// What became of one conditional write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Written {
    Yes,
    /// Its condition did not hold: nothing written; the item as it stood when the write
    /// asked for it (`ReturnValuesOnConditionCheckFailure`).
    ConditionFailed(Option<Item>),
}

/// Write each of `items` (distinct items; each may carry its own condition) with as few
/// `TransactWriteItems` requests as their number allows. Items are not written as a whole:
/// one whose condition fails is answered so and the others are written without it.
pub(crate) async fn transact_each(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Vec<Result<Written, StoreError>> {
    let mut answers: Vec<Option<Result<Written, StoreError>>> =
        items.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..items.len()).collect();
    let mut alone: Vec<usize> = Vec::new();
    for _ in 0..ROUNDS {
        if pending.is_empty() {
            break;
        }
        let mut again = Vec::new();
        for chunk in pending.chunks(TRANSACTION_ITEMS) {
            let sent = client
                .transact_write_items()
                .set_transact_items(Some(chunk.iter().map(|&i| items[i].clone()).collect()))
                .send()
                .await;
            match sent {
                Ok(_) => {
                    for &i in chunk {
                        answers[i] = Some(Ok(Written::Yes));
                    }
                }
                Err(e) => match canceled(&e) {
                    Some(reasons) if reasons.len() == chunk.len() => {
                        for (&i, (code, item)) in chunk.iter().zip(reasons) {
                            match code.as_deref() {
                                Some("ConditionalCheckFailed") => {
                                    answers[i] = Some(Ok(Written::ConditionFailed(item)));
                                }
                                // Fine itself, or met a conflict: sent again with the rest.
                                _ => again.push(i),
                            }
                        }
                    }
                    _ => alone.extend_from_slice(chunk),
                },
            }
        }
        pending = again;
    }
    alone.extend(pending);
    for i in alone {
        let sent = client
            .transact_write_items()
            .transact_items(items[i].clone())
            .send()
            .await;
        answers[i] = Some(match sent {
            Ok(_) => Ok(Written::Yes),
            Err(e) => match canceled(&e).as_deref() {
                Some([(Some(c), item)]) if c == "ConditionalCheckFailed" => {
                    Ok(Written::ConditionFailed(item.clone()))
                }
                _ => Err(store_error("TransactWriteItems", e)),
            },
        });
    }
    answers
        .into_iter()
        .map(|a| a.expect("every item answered"))
        .collect()
}

/// A canceled transaction's reasons, item by item: the code (`None` for an item that was
/// fine) and the item as it stood, when asked for.
fn canceled(
    e: &aws_sdk_dynamodb::error::SdkError<
        TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Option<Vec<(Option<String>, Option<Item>)>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| {
                    (
                        r.code().filter(|c| *c != "None").map(str::to_owned),
                        r.item().cloned(),
                    )
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Ask for the item as it stood when a write's condition fails.
pub(crate) fn old_on_failure() -> ReturnValuesOnConditionCheckFailure {
    ReturnValuesOnConditionCheckFailure::AllOld
}

/// Read each of `keys` (distinct; each a key of `table` whose attributes `key_names` are
/// strings), strongly consistent, with as few `BatchGetItem` requests as their number allows.
pub(crate) async fn get_each(
    client: &Client,
    table: &str,
    key_names: [&str; 2],
    keys: Vec<Item>,
) -> Vec<Result<Option<Item>, StoreError>> {
    let id = |item: &Item| -> Option<(String, String)> {
        let part = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Some((part(key_names[0])?, part(key_names[1])?))
    };
    let index: HashMap<(String, String), usize> = keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| id(k).map(|k| (k, i)))
        .collect();
    let mut answers: Vec<Option<Result<Option<Item>, StoreError>>> =
        keys.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..keys.len()).collect();
    let mut alone: Vec<usize> = Vec::new();
    for _ in 0..ROUNDS {
        if pending.is_empty() {
            break;
        }
        let mut again = Vec::new();
        for chunk in pending.chunks(GET_KEYS) {
            let asked = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|&i| keys[i].clone()).collect()))
                .consistent_read(true)
                .build();
            let Ok(asked) = asked else {
                alone.extend_from_slice(chunk);
                continue;
            };
            match client
                .batch_get_item()
                .request_items(table, asked)
                .send()
                .await
            {
                Ok(out) => {
                    for item in out
                        .responses
                        .and_then(|mut r| r.remove(table))
                        .unwrap_or_default()
                    {
                        if let Some(&i) = id(&item).and_then(|k| index.get(&k)) {
                            answers[i] = Some(Ok(Some(item)));
                        }
                    }
                    let unprocessed: Vec<usize> = out
                        .unprocessed_keys
                        .and_then(|mut u| u.remove(table))
                        .map(|k| k.keys)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|k| id(k).and_then(|k| index.get(&k).copied()))
                        .collect();
                    for &i in chunk {
                        if unprocessed.contains(&i) {
                            again.push(i);
                        } else if answers[i].is_none() {
                            answers[i] = Some(Ok(None));
                        }
                    }
                }
                Err(_) => alone.extend_from_slice(chunk),
            }
        }
        pending = again;
    }
    alone.extend(pending);
    for i in alone {
        let out = client
            .get_item()
            .table_name(table)
            .set_key(Some(keys[i].clone()))
            .consistent_read(true)
            .send()
            .await;
        answers[i] = Some(match out {
            Ok(out) => Ok(out.item),
            Err(e) => Err(store_error("GetItem", e)),
        });
    }
    answers
        .into_iter()
        .map(|a| a.expect("every key answered"))
        .collect()
}

/// Put each of `items` into `table` (distinct items, no conditions) with as few
/// `BatchWriteItem` requests as their number allows.
pub(crate) async fn put_each(
    client: &Client,
    table: &str,
    items: Vec<Item>,
) -> Vec<Result<(), StoreError>> {
    let mut answers: Vec<Option<Result<(), StoreError>>> = items.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..items.len()).collect();
    let mut alone: Vec<usize> = Vec::new();
    for _ in 0..ROUNDS {
        if pending.is_empty() {
            break;
        }
        let mut again = Vec::new();
        for chunk in pending.chunks(WRITE_ITEMS) {
            let requests: Result<Vec<WriteRequest>, _> = chunk
                .iter()
                .map(|&i| {
                    PutRequest::builder()
                        .set_item(Some(items[i].clone()))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build())
                })
                .collect();
            let Ok(requests) = requests else {
                alone.extend_from_slice(chunk);
                continue;
            };
            match client
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
            {
                Ok(out) => {
                    let unprocessed: Vec<Item> = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(table))
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|w| w.put_request.map(|p| p.item))
                        .collect();
                    for &i in chunk {
                        if unprocessed.contains(&items[i]) {
                            again.push(i);
                        } else {
                            answers[i] = Some(Ok(()));
                        }
                    }
                }
                Err(_) => alone.extend_from_slice(chunk),
            }
        }
        pending = again;
    }
    alone.extend(pending);
    for i in alone {
        let out = client
            .put_item()
            .table_name(table)
            .set_item(Some(items[i].clone()))
            .send()
            .await;
        answers[i] = Some(match out {
            Ok(_) => Ok(()),
            Err(e) => Err(store_error("PutItem", e)),
        });
    }
    answers
        .into_iter()
        .map(|a| a.expect("every item answered"))
        .collect()
}
