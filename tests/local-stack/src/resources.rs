//! Resources from the single source of definitions: the tables of `infra/tables.json` (the
//! same file the CDK app builds from), the two KMS keys, the secrets and the seller registry.

use crate::repo_root;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    SseSpecification, SseType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Deserialize;
use shared::aws::DynamoControl;
use shared::kernel::{MarketplaceId, SellerId};
use shared::sellers::SellerAccount;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Deserialize)]
pub struct TableDefinitions {
    pub tables: Vec<TableDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDef {
    pub id: String,
    pub env_var: String,
    pub partition_key: KeyDef,
    pub sort_key: Option<KeyDef>,
    pub global_secondary_indexes: Vec<IndexDef>,
    pub time_to_live_attribute: Option<String>,
    pub point_in_time_recovery: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexDef {
    pub name: String,
    pub partition_key: KeyDef,
    pub sort_key: Option<KeyDef>,
}

impl TableDefinitions {
    pub fn load() -> Self {
        let path = repo_root().join("infra/tables.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid: {e}", path.display()))
    }
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema")
}

fn keys(pk: &KeyDef, sk: Option<&KeyDef>) -> Vec<KeySchemaElement> {
    let mut k = vec![key(&pk.name, KeyType::Hash)];
    if let Some(sk) = sk {
        k.push(key(&sk.name, KeyType::Range));
    }
    k
}

impl TableDef {
    /// Every attribute used in a key of the table or its indexes, once.
    pub fn key_attributes(&self) -> BTreeSet<KeyDef> {
        let mut all = BTreeSet::new();
        all.insert(self.partition_key.clone());
        all.extend(self.sort_key.clone());
        for i in &self.global_secondary_indexes {
            all.insert(i.partition_key.clone());
            all.extend(i.sort_key.clone());
        }
        all
    }
}

/// What the local stack created, by name.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// Table id (`orders`, `pii`, ...) to table name.
    pub tables: BTreeMap<String, String>,
    /// Table id to the environment variable that carries its name.
    pub table_env: BTreeMap<String, String>,
    pub data_key_arn: String,
    pub pii_key_arn: String,
    pub lwa_app_secret_id: String,
    pub seller_secret_prefix: String,
    /// Queue id (`notifications`, `notifications-dlq`, `stock`, `stock-dlq`) to queue URL.
    pub queues: BTreeMap<String, String>,
    /// Where `audit-report` keeps the reports auditors ask for over the API.
    pub reports_bucket: String,
}

impl Provisioned {
    /// `<TABLE>_TABLE` variables for the tables `ids`.
    fn table_vars(&self, ids: &[&str]) -> Vec<(String, String)> {
        ids.iter()
            .map(|id| (self.table_env[*id].clone(), self.tables[*id].clone()))
            .collect()
    }

    pub fn table(&self, id: &str) -> &str {
        &self.tables[id]
    }

    pub fn queue(&self, id: &str) -> &str {
        &self.queues[id]
    }
}

/// The queues, as the CDK app declares them (`infra/lib/fulfillment-stack.ts`): id, how many receives
/// before SQS itself moves a message to the DLQ, visibility timeout in seconds.
/// `order-events` dead-letters with a reason after its own bounded tries; the redrive is the
/// backstop for a function that dies before it can (deferrals count as receives too).
/// `pii-redactor` dead-letters a deletion request with its reason at its fifth receive; the
/// redrive at ten is the backstop.
/// `label-worker` dead-letters a job with its reason by its fifth receive; ten is the backstop.
/// `audit-reports` is FIFO with one message group (one report at a time, in the order
/// asked); `audit-report` gives a job up at its third try (each may take its 15 minutes: the
/// visibility timeout is six times that); ten receives is the backstop.
/// Amazon delivers `LISTINGS_ITEM_MFN_QUANTITY_CHANGE` to `listing-notifications`, which
/// `stock-sync` reads beside the stock queue.
pub const QUEUES: [(&str, u32, u32); 6] = [
    ("notifications", 100, 360),
    ("stock", 5, 1800),
    ("listing-notifications", 5, 1800),
    ("deletion-requests", 10, 960),
    ("label-jobs", 10, 360),
    ("audit-reports", 10, 5400),
];

/// The queues that are FIFO (and so are their DLQs).
const FIFO_QUEUES: [&str; 1] = ["audit-reports"];

/// Secret values the local stack stores: the simulator's app credentials and sellers.
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    /// `(seller account, refresh token)`.
    pub sellers: Vec<(SellerAccount, String)>,
}

impl Credentials {
    /// What the simulator `config` accepts: its app and every seller it serves.
    pub fn of(config: &spapi_sim::SimConfig) -> Result<Self, String> {
        let sellers = config
            .sellers
            .iter()
            .map(|s| {
                let account = SellerAccount {
                    seller_id: SellerId::parse(s.seller_id.clone()).map_err(|e| e.to_string())?,
                    marketplace_ids: vec![
                        MarketplaceId::parse(s.marketplace_id.clone())
                            .map_err(|e| e.to_string())?,
                    ],
                };
                Ok((account, s.refresh_token.clone()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            client_id: config.app.client_id.clone(),
            client_secret: config.app.client_secret.clone(),
            sellers,
        })
    }
}

/// Create a queue; its URL and ARN.
async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<(String, String), String> {
    let err = |e: &dyn std::fmt::Display| format!("provisioning queue {name}: {e}");
    let mut create = sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        create = create.attributes(k.clone(), v);
    }
    let url = create
        .send()
        .await
        .map_err(|e| err(&aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .queue_url
        .ok_or_else(|| err(&"no url"))?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| err(&aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| err(&"no arn"))?;
    Ok((url, arn))
}

/// Every item of a table (tests and summaries read what landed).
pub async fn scan_all(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>, String>
{
    dynamo
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            format!(
                "scan {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })
}

/// Create keys, tables, secrets and the seller registry under `prefix` (unique per run or test).
pub async fn provision(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    creds: &Credentials,
) -> Result<Provisioned, String> {
    let kms = aws_sdk_kms::Client::new(sdk);
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let err = |what: &str, e: &dyn std::fmt::Display| format!("provisioning {what}: {e}");

    let mut key_arns = Vec::new();
    for purpose in ["data", "pii"] {
        let key = kms
            .create_key()
            .description(format!("{prefix} {purpose} key"))
            .send()
            .await
            .map_err(|e| err("kms key", &aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let meta = key.key_metadata.ok_or("kms key without metadata")?;
        kms.enable_key_rotation()
            .key_id(meta.key_id())
            .send()
            .await
            .map_err(|e| err("kms rotation", &aws_sdk_kms::error::DisplayErrorContext(e)))?;
        kms.create_alias()
            .alias_name(format!("alias/{prefix}/{purpose}"))
            .target_key_id(meta.key_id())
            .send()
            .await
            .map_err(|e| err("kms alias", &aws_sdk_kms::error::DisplayErrorContext(e)))?;
        key_arns.push(meta.arn.ok_or("kms key without arn")?);
    }
    let (data_key_arn, pii_key_arn) = (key_arns[0].clone(), key_arns[1].clone());

    let defs = TableDefinitions::load();
    let mut tables = BTreeMap::new();
    let mut table_env = BTreeMap::new();
    for t in &defs.tables {
        let name = format!("{prefix}-{}", t.id);
        let mut create = dynamo
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(keys(&t.partition_key, t.sort_key.as_ref())))
            .sse_specification(
                SseSpecification::builder()
                    .enabled(true)
                    .sse_type(SseType::Kms)
                    .kms_master_key_id(&data_key_arn)
                    .build(),
            );
        for a in t.key_attributes() {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&a.name)
                    .attribute_type(ScalarAttributeType::from(a.kind.as_str()))
                    .build()
                    .map_err(|e| err("attribute definition", &e))?,
            );
        }
        for i in &t.global_secondary_indexes {
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&i.name)
                    .set_key_schema(Some(keys(&i.partition_key, i.sort_key.as_ref())))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| err("index", &e))?,
            );
        }
        create
            .send()
            .await
            .map_err(|e| err(&name, &aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        if let Some(attr) = &t.time_to_live_attribute {
            dynamo
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(attr)
                        .build()
                        .map_err(|e| err("ttl", &e))?,
                )
                .send()
                .await
                .map_err(|e| err(&name, &aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        }
        if t.point_in_time_recovery {
            dynamo
                .update_continuous_backups()
                .table_name(&name)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()
                        .map_err(|e| err("pitr", &e))?,
                )
                .send()
                .await
                .map_err(|e| err(&name, &aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        }
        tables.insert(t.id.clone(), name);
        table_env.insert(t.id.clone(), t.env_var.clone());
    }

    let lwa_app_secret_id = format!("{prefix}/lwa-app");
    let seller_secret_prefix = format!("{prefix}/sellers/");
    let app =
        serde_json::json!({"client_id": creds.client_id, "client_secret": creds.client_secret});
    secrets
        .create_secret()
        .name(&lwa_app_secret_id)
        .kms_key_id(&data_key_arn)
        .secret_string(app.to_string())
        .send()
        .await
        .map_err(|e| {
            err(
                "lwa secret",
                &aws_sdk_secretsmanager::error::DisplayErrorContext(e),
            )
        })?;
    let control = DynamoControl::new(dynamo.clone(), tables["control"].clone());
    for (account, refresh_token) in &creds.sellers {
        secrets
            .create_secret()
            .name(format!("{seller_secret_prefix}{}", account.seller_id))
            .kms_key_id(&data_key_arn)
            .secret_string(serde_json::json!({ "refresh_token": refresh_token }).to_string())
            .send()
            .await
            .map_err(|e| {
                err(
                    "seller secret",
                    &aws_sdk_secretsmanager::error::DisplayErrorContext(e),
                )
            })?;
        control
            .register_seller(account)
            .await
            .map_err(|e| err("seller registry", &e))?;
    }

    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut queues = BTreeMap::new();
    for (id, max_receives, visibility) in QUEUES {
        let fifo = FIFO_QUEUES.contains(&id);
        let (suffix, fifo_attributes) = if fifo {
            (
                ".fifo",
                vec![(QueueAttributeName::FifoQueue, "true".to_owned())],
            )
        } else {
            ("", vec![])
        };
        let mut dlq_attributes = vec![
            (QueueAttributeName::KmsMasterKeyId, data_key_arn.clone()),
            (QueueAttributeName::MessageRetentionPeriod, "1209600".into()),
        ];
        dlq_attributes.extend(fifo_attributes.clone());
        let (dlq_url, dlq_arn) =
            create_queue(&sqs, &format!("{prefix}-{id}-dlq{suffix}"), &dlq_attributes).await?;
        let redrive =
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives});
        let mut attributes = vec![
            (QueueAttributeName::KmsMasterKeyId, data_key_arn.clone()),
            (
                QueueAttributeName::VisibilityTimeout,
                visibility.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ];
        attributes.extend(fifo_attributes);
        let (url, _) = create_queue(&sqs, &format!("{prefix}-{id}{suffix}"), &attributes).await?;
        queues.insert(id.to_owned(), url);
        queues.insert(format!("{id}-dlq"), dlq_url);
    }

    // The reports bucket, encrypted by default with the data key, as the CDK app makes it.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let reports_bucket = format!("{prefix}-reports").to_ascii_lowercase();
    let s3_err = |what: &str, e: &dyn std::fmt::Display| err(what, e);
    s3.create_bucket()
        .bucket(&reports_bucket)
        .send()
        .await
        .map_err(|e| s3_err("reports bucket", &aws_sdk_s3::error::DisplayErrorContext(e)))?;
    let by_key = aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
        .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .kms_master_key_id(&data_key_arn)
        .build()
        .map_err(|e| s3_err("reports bucket encryption", &e))?;
    let encryption = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
        .rules(
            aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_key)
                .bucket_key_enabled(true)
                .build(),
        )
        .build()
        .map_err(|e| s3_err("reports bucket encryption", &e))?;
    s3.put_bucket_encryption()
        .bucket(&reports_bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| {
            s3_err(
                "reports bucket encryption",
                &aws_sdk_s3::error::DisplayErrorContext(e),
            )
        })?;

    Ok(Provisioned {
        reports_bucket,
        queues,
        tables,
        table_env,
        data_key_arn,
        pii_key_arn,
        lwa_app_secret_id,
        seller_secret_prefix,
    })
}

impl Provisioned {
    /// The environment `order-sync` reads (see `shared::lambda::intake`), for this stack.
    pub fn order_sync_env(
        &self,
        spapi_endpoint: &str,
        lwa_token_url: &str,
    ) -> Vec<(String, String)> {
        let mut env = self.table_vars(&["orders", "pii", "control", "audit"]);
        env.extend(self.spapi_env(spapi_endpoint, lwa_token_url));
        env.extend(
            [
                ("RETENTION_DAYS", "30"),
                ("STOCK_QUEUE_URL", self.queue("stock")),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        env
    }

    /// The environment `order-events` reads: `order-sync`'s plus its queues.
    pub fn order_events_env(
        &self,
        spapi_endpoint: &str,
        lwa_token_url: &str,
    ) -> Vec<(String, String)> {
        let mut env = self.order_sync_env(spapi_endpoint, lwa_token_url);
        env.extend(
            [
                ("NOTIFICATIONS_QUEUE_URL", self.queue("notifications")),
                ("NOTIFICATIONS_DLQ_URL", self.queue("notifications-dlq")),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        env
    }

    /// The environment `pii-redactor` reads.
    pub fn pii_redactor_env(&self) -> Vec<(String, String)> {
        let mut env = self.table_vars(&["orders", "pii", "control", "audit"]);
        env.extend(
            [
                ("SELLER_SECRET_PREFIX", self.seller_secret_prefix.as_str()),
                ("RETENTION_DAYS", "30"),
                ("DELETION_DLQ_URL", self.queue("deletion-requests-dlq")),
                ("DELETION_MAX_RECEIVES", "5"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        env
    }

    /// What every function that calls SP-API and seals PII reads: the PII key, the endpoints,
    /// the LWA secrets.
    fn spapi_env(&self, spapi_endpoint: &str, lwa_token_url: &str) -> Vec<(String, String)> {
        [
            ("PII_KEY_ID", self.pii_key_arn.as_str()),
            ("SPAPI_ENDPOINT", spapi_endpoint),
            ("LWA_ENDPOINT", lwa_token_url),
            ("LWA_APP_SECRET_ID", self.lwa_app_secret_id.as_str()),
            ("SELLER_SECRET_PREFIX", self.seller_secret_prefix.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    /// The environment `label-worker` reads.
    pub fn label_worker_env(
        &self,
        spapi_endpoint: &str,
        lwa_token_url: &str,
    ) -> Vec<(String, String)> {
        let mut env = self.table_vars(&["orders", "pii", "control", "audit"]);
        env.extend(self.spapi_env(spapi_endpoint, lwa_token_url));
        env.extend(
            [
                ("LABEL_JOBS_DLQ_URL", self.queue("label-jobs-dlq")),
                ("LABEL_JOB_MAX_RECEIVES", "5"),
                ("STOCK_QUEUE_URL", self.queue("stock")),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        env
    }

    /// The environment `api` reads: no SP-API (it sends jobs, `label-worker` calls Amazon).
    pub fn api_env(&self) -> Vec<(String, String)> {
        let mut env = self.table_vars(&["stock", "orders", "pii", "control", "audit"]);
        env.extend(
            [
                ("PII_KEY_ID", self.pii_key_arn.as_str()),
                ("LABEL_JOBS_QUEUE_URL", self.queue("label-jobs")),
                ("STOCK_QUEUE_URL", self.queue("stock")),
                ("DELETION_QUEUE_URL", self.queue("deletion-requests")),
                ("REPORT_QUEUE_URL", self.queue("audit-reports")),
                ("REPORTS_BUCKET", self.reports_bucket.as_str()),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        env
    }

    /// The environment `shipment-tracker` reads.
    pub fn shipment_tracker_env(
        &self,
        spapi_endpoint: &str,
        lwa_token_url: &str,
    ) -> Vec<(String, String)> {
        let mut env = self.table_vars(&["orders", "pii", "control"]);
        env.extend(self.spapi_env(spapi_endpoint, lwa_token_url));
        env.push(("RETENTION_DAYS".into(), "30".into()));
        env.push(("STOCK_QUEUE_URL".into(), self.queue("stock").to_owned()));
        env
    }

    /// The environment `stock-sync` reads: no PII key (it never touches PII).
    pub fn stock_sync_env(
        &self,
        spapi_endpoint: &str,
        lwa_token_url: &str,
    ) -> Vec<(String, String)> {
        let mut env = self.table_vars(&["stock", "control"]);
        env.extend(
            self.spapi_env(spapi_endpoint, lwa_token_url)
                .into_iter()
                .filter(|(k, _)| k != "PII_KEY_ID"),
        );
        env.extend(
            [
                ("STOCK_DLQ_URL", self.queue("stock-dlq")),
                ("STOCK_QUEUE_URL", self.queue("stock")),
                ("STOCK_MAX_RECEIVES", "5"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        env
    }

    /// The environment `audit-report` reads.
    pub fn audit_report_env(&self) -> Vec<(String, String)> {
        let mut env = self.table_vars(&["pii", "control", "audit"]);
        env.extend(
            [
                ("PII_KEY_ARN", self.pii_key_arn.as_str()),
                ("REPORTS_BUCKET", self.reports_bucket.as_str()),
                ("REPORT_QUEUE_URL", self.queue("audit-reports")),
                ("REPORT_DLQ_URL", self.queue("audit-reports-dlq")),
                ("REPORT_MAX_TRIES", "3"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        env
    }
}
