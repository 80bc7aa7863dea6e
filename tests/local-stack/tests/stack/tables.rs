//! The local stack's tables are the ones `infra/tables.json` defines (the CDK tests prove the
//! same of the deployed template, so the two agree).

use crate::common::stack;
use aws_sdk_dynamodb::types::{KeyType, PointInTimeRecoveryStatus, SseStatus, TimeToLiveStatus};
use local_stack::resources::{KeyDef, TableDefinitions};
use spapi_sim::SimConfig;
use std::collections::BTreeSet;

fn key_pair(schema: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> (String, Option<String>) {
    let of = |t: KeyType| {
        schema
            .iter()
            .find(|k| *k.key_type() == t)
            .map(|k| k.attribute_name().to_owned())
    };
    (of(KeyType::Hash).expect("hash key"), of(KeyType::Range))
}

#[tokio::test]
async fn moto_tables_match_the_single_definition() {
    let t = stack("tables", SimConfig::demo(1, 1, 1)).await;
    let dynamo = t.dynamo();
    let defs = TableDefinitions::load();
    assert_eq!(defs.tables.len(), t.stack.tables.len());
    for def in &defs.tables {
        let name = t.stack.table(&def.id);
        let desc = dynamo
            .describe_table()
            .table_name(name)
            .send()
            .await
            .unwrap();
        let table = desc.table.unwrap();

        let (pk, sk) = key_pair(table.key_schema());
        assert_eq!(pk, def.partition_key.name, "{name}");
        assert_eq!(sk, def.sort_key.as_ref().map(|k| k.name.clone()), "{name}");

        let attrs: BTreeSet<KeyDef> = table
            .attribute_definitions()
            .iter()
            .map(|a| KeyDef {
                name: a.attribute_name().to_owned(),
                kind: a.attribute_type().as_str().to_owned(),
            })
            .collect();
        assert_eq!(attrs, def.key_attributes(), "{name}");

        let mut indexes: Vec<(String, (String, Option<String>))> = table
            .global_secondary_indexes()
            .iter()
            .map(|i| (i.index_name().unwrap().to_owned(), key_pair(i.key_schema())))
            .collect();
        indexes.sort();
        let mut expected: Vec<(String, (String, Option<String>))> = def
            .global_secondary_indexes
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    (
                        i.partition_key.name.clone(),
                        i.sort_key.as_ref().map(|k| k.name.clone()),
                    ),
                )
            })
            .collect();
        expected.sort();
        assert_eq!(indexes, expected, "{name}");

        let sse = table.sse_description().expect("SSE");
        assert_eq!(sse.status(), Some(&SseStatus::Enabled), "{name}");
        assert_eq!(
            sse.kms_master_key_arn(),
            Some(t.stack.data_key_arn.as_str()),
            "{name}"
        );

        let ttl = dynamo
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description.unwrap();
        match &def.time_to_live_attribute {
            Some(attr) => {
                assert_eq!(
                    ttl.time_to_live_status(),
                    Some(&TimeToLiveStatus::Enabled),
                    "{name}"
                );
                assert_eq!(ttl.attribute_name(), Some(attr.as_str()), "{name}");
            }
            None => assert_ne!(
                ttl.time_to_live_status(),
                Some(&TimeToLiveStatus::Enabled),
                "{name}"
            ),
        }

        let backups = dynamo
            .describe_continuous_backups()
            .table_name(name)
            .send()
            .await
            .unwrap();
        let pitr = backups
            .continuous_backups_description
            .and_then(|d| d.point_in_time_recovery_description)
            .and_then(|p| p.point_in_time_recovery_status);
        assert_eq!(
            pitr == Some(PointInTimeRecoveryStatus::Enabled),
            def.point_in_time_recovery,
            "{name}: PITR"
        );
    }
}

/// Clients as separate Lambda instances would have them: each its own connections.
///
/// Not with the functions' 10 s attempt limit: the race queues up to 96 writes behind moto's
/// write lock, and on a loaded machine one waited longer than that. The SDK then sent it
/// again, and the copy of an increment already applied was refused by the condition: a grant
/// counted as refused by the harness, not a race in moto (a CI run saw 389 of 400). Five
/// minutes an attempt still ends a connection that hangs, rather than the CI run.
async fn clients(n: usize) -> Vec<aws_sdk_dynamodb::Client> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let sdk = crate::common::moto().sdk_config().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(30))
                    .operation_attempt_timeout(std::time::Duration::from_secs(300))
                    .build(),
            )
            .build();
        out.push(aws_sdk_dynamodb::Client::from_conf(config));
    }
    out
}

/// Run `writes` with 96 in flight at any time: as many as moto's listen queue (128) takes
/// without dropping connections, far more than one item's writes ever meet in the suite.
async fn racing<F: std::future::Future>(writes: impl Iterator<Item = F>) -> Vec<F::Output> {
    use futures::StreamExt;
    futures::stream::iter(writes)
        .buffer_unordered(96)
        .collect()
        .await
}

/// 1,000 conditional increments at one item from 8 clients, 96 at a time, 400 allowed: as on
/// DynamoDB, exactly 400 are granted, the counter says 400, and each granted writer is in the
/// item. moto server alone (`LOCAL_STACK_PLAIN_MOTO=1`) grants more and loses writes.
#[tokio::test]
async fn concurrent_conditional_writes_to_one_item_are_atomic() {
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    const WRITERS: usize = 1000;
    const ALLOWED: i64 = 400;
    let t = stack("atomic", SimConfig::demo(1, 1, 1)).await;
    let table = t.stack.table("control").to_owned();
    let key = |sk: &str| {
        [
            ("pk".to_owned(), Av::S("race".into())),
            ("sk".to_owned(), Av::S(sk.into())),
        ]
    };
    t.dynamo()
        .put_item()
        .table_name(&table)
        .set_item(Some(
            key("counter")
                .into_iter()
                .chain([("n".to_owned(), Av::N("0".into()))])
                .collect(),
        ))
        .send()
        .await
        .unwrap();

    let clients = clients(8).await;
    let increments = (0..WRITERS).map(|i| {
        let client = clients[i % clients.len()].clone();
        let (table, key) = (table.clone(), key("counter"));
        async move {
            client
                .update_item()
                .table_name(table)
                .set_key(Some(key.into_iter().collect()))
                .update_expression("SET n = n + :one ADD holders :me")
                .condition_expression("n < :allowed")
                .expression_attribute_values(":one", Av::N("1".into()))
                .expression_attribute_values(":allowed", Av::N(ALLOWED.to_string()))
                .expression_attribute_values(":me", Av::Ss(vec![format!("w{i}")]))
                .send()
                .await
                .map(|_| i)
                .map_err(|e| {
                    let refused = e
                        .as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception());
                    assert!(refused, "only the condition refuses: {e:?}");
                })
        }
    });
    let granted: BTreeSet<String> = racing(increments)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .map(|i| format!("w{i}"))
        .collect();

    let item = t
        .dynamo()
        .get_item()
        .table_name(&table)
        .set_key(Some(key("counter").into_iter().collect()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let n: i64 = item["n"].as_n().unwrap().parse().unwrap();
    let holders: BTreeSet<String> = item["holders"].as_ss().unwrap().iter().cloned().collect();
    assert_eq!(granted.len() as i64, ALLOWED, "granted");
    assert_eq!(n, ALLOWED, "the counter counts every granted write");
    assert_eq!(holders, granted, "every granted write landed");

    // A claim (put if absent) raced by 200 writers: exactly one wins.
    let claims = (0..200).map(|i| {
        let client = clients[i % clients.len()].clone();
        let (table, key) = (table.clone(), key("claim"));
        async move {
            client
                .put_item()
                .table_name(table)
                .set_item(Some(
                    key.into_iter()
                        .chain([("holder".to_owned(), Av::S(format!("w{i}")))])
                        .collect(),
                ))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .is_ok()
        }
    });
    let winners = racing(claims).await.into_iter().filter(|won| *won).count();
    assert_eq!(winners, 1, "one claim wins");
}
