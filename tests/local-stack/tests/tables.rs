//! The local stack's tables are the ones `infra/tables.json` defines (the CDK tests prove the
//! same of the deployed template, so the two agree).

mod common;

use aws_sdk_dynamodb::types::{KeyType, PointInTimeRecoveryStatus, SseStatus, TimeToLiveStatus};
use common::stack;
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
