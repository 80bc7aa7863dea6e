// The suite in one stack: keys, tables, secrets, order-sync on a schedule, alarms.
import { join } from 'node:path';
import {
  Arn,
  ArnFormat,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import type { Construct } from 'constructs';
import { Tables } from './tables.ts';

/** Where the Rust workspace is: cargo-lambda builds the function binaries from it. */
export const WORKSPACE_MANIFEST = join(import.meta.dirname, '..', '..', 'Cargo.toml');

/** Names the function and the operator share: keep in step with README.md and shared/src/config.rs. */
export const LWA_APP_SECRET_NAME = 'fbm/lwa-app';
export const SELLER_SECRET_PREFIX = 'fbm/sellers/';
export const DATA_KEY_ALIAS = 'alias/fbm/data';
export const PII_KEY_ALIAS = 'alias/fbm/pii';

export interface FulfillmentStackProps extends StackProps {
  /** The SP-API regional endpoint, e.g. https://sellingpartnerapi-na.amazon.com */
  readonly spapiEndpoint: string;
  /** Days PII is kept after its anchor date; the function refuses more than 30. */
  readonly retentionDays?: number;
}

export class FulfillmentStack extends Stack {
  readonly dataKey: kms.Key;
  readonly piiKey: kms.Key;
  readonly tables: Tables;
  readonly orderSync: lambda.Function;
  readonly scheduleDlq: sqs.Queue;

  constructor(scope: Construct, id: string, props: FulfillmentStackProps) {
    super(scope, id, props);
    const retentionDays = props.retentionDays ?? 30;
    if (retentionDays < 1 || retentionDays > 30) {
      throw new Error(`retentionDays must be 1 to 30 (Amazon's DPP), got ${retentionDays}`);
    }

    // Two keys: the data key encrypts tables, queues, logs and secrets at rest; the PII key
    // only wraps the per-order data keys of sealed PII, so who may open PII is one key policy.
    this.dataKey = new kms.Key(this, 'DataKey', {
      alias: DATA_KEY_ALIAS,
      description: 'FBM suite: tables, queues, secrets, logs at rest',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.piiKey = new kms.Key(this, 'PiiKey', {
      alias: PII_KEY_ALIAS,
      description: 'FBM suite: envelope key of sealed buyer PII (context seller_id, order_id)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.tables = new Tables(this, 'Tables', { key: this.dataKey });

    // The app's LWA credentials. The operator writes the value after deploy; the template
    // holds only an empty shape.
    const lwaApp = new secretsmanager.Secret(this, 'LwaAppSecret', {
      secretName: LWA_APP_SECRET_NAME,
      description: 'LWA client_id and client_secret of the SP-API application',
      encryptionKey: this.dataKey,
      secretObjectValue: {},
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(lwaApp).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Amazon issues and rotates LWA client secrets (rotateApplicationClientSecret, notified by ' +
        'APPLICATION_OAUTH_CLIENT_NEW_SECRET); a Secrets Manager rotation Lambda cannot mint one. ' +
        'The operator stores the new secret when Amazon rotates it.',
    });
    const sellerSecrets = Arn.format(
      {
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${SELLER_SECRET_PREFIX}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      this,
    );

    // Alarms go to one encrypted topic the operator subscribes to.
    const alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'FBM suite alarms',
      masterKey: this.dataKey,
      enforceSSL: true,
    });
    this.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    this.scheduleDlq = new sqs.Queue(this, 'ScheduleDlq', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.dataKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.scheduleDlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the order-sync schedule target; a DLQ ' +
        'behind it would only move the same failed events again. Its depth is alarmed.',
    });
    this.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeSendsToEncryptedDlq',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    this.orderSync = this.orderSyncFunction(props.spapiEndpoint, retentionDays, lwaApp, sellerSecrets);

    new events.Rule(this, 'OrderSyncSchedule', {
      description: 'Catch-up sweep of searchOrders for every registered seller',
      schedule: events.Schedule.rate(Duration.minutes(10)),
      targets: [
        new targets.LambdaFunction(this.orderSync, {
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: this.scheduleDlq,
        }),
      ],
    });

    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new cwActions.SnsAction(alarmTopic));
    };
    alarm(
      'OrderSyncErrors',
      this.orderSync.metricErrors({ period: Duration.minutes(15) }),
      'order-sync failed (store unavailable or bad event); orders are late until it recovers',
    );
    alarm(
      'OrderSyncThrottles',
      this.orderSync.metricThrottles({ period: Duration.minutes(15) }),
      'order-sync was throttled by Lambda: a sweep overlapped the previous one',
    );
    alarm(
      'ScheduleDlqDepth',
      this.scheduleDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'scheduled order-sync invocations failed after retries and were dead-lettered',
    );

    new CfnOutput(this, 'OrderSyncFunctionName', { value: this.orderSync.functionName });
    new CfnOutput(this, 'LwaAppSecretArn', { value: lwaApp.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn });
    for (const [id, { table }] of Object.entries(this.tables.byId)) {
      new CfnOutput(this, `${id}TableName`, { value: table.tableName });
    }
  }

  private orderSyncFunction(
    spapiEndpoint: string,
    retentionDays: number,
    lwaApp: secretsmanager.ISecret,
    sellerSecrets: string,
  ): lambda.Function {
    const logGroupName = '/fbm/order-sync';
    const logGroup = new logs.LogGroup(this, 'OrderSyncLogs', {
      logGroupName,
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: this.dataKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsEncryptsTheSuitesLogGroups',
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:/fbm/*`,
          },
        },
      }),
    );

    // A role of its own, so that nothing but these statements is granted.
    const role = new iam.Role(this, 'OrderSyncRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'order-sync: write orders and sealed PII, read its checkpoints and sellers',
    });
    const statements: iam.PolicyStatement[] = [
      new iam.PolicyStatement({
        sid: 'WriteLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${logGroup.logGroupArn}`],
      }),
      new iam.PolicyStatement({
        sid: 'UpsertOrders',
        actions: ['dynamodb:PutItem'],
        resources: [this.tables.get('orders').tableArn],
      }),
      // Write-only: order-sync seals and purges PII but never reads it back.
      new iam.PolicyStatement({
        sid: 'SealAndPurgePii',
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [this.tables.get('pii').tableArn],
      }),
      new iam.PolicyStatement({
        // Checkpoints, the seller registry and the shared SP-API rate budget.
        sid: 'ControlTable',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        resources: [this.tables.get('control').tableArn],
      }),
      // One data key per order, only with the order's identity as encryption context. No
      // Decrypt: this function can seal PII but can never open it.
      new iam.PolicyStatement({
        sid: 'PiiDataKeysBoundToOrder',
        actions: ['kms:GenerateDataKey'],
        resources: [this.piiKey.keyArn],
        conditions: {
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['seller_id', 'order_id'] },
          Null: {
            'kms:EncryptionContext:seller_id': 'false',
            'kms:EncryptionContext:order_id': 'false',
          },
        },
      }),
      // The data key only through the services whose data it protects.
      new iam.PolicyStatement({
        sid: 'DataKeyViaDynamoDbAndSecretsManager',
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [this.dataKey.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': [`dynamodb.${this.region}.amazonaws.com`, `secretsmanager.${this.region}.amazonaws.com`],
          },
        },
      }),
      new iam.PolicyStatement({
        sid: 'ReadLwaCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [lwaApp.secretArn, sellerSecrets],
      }),
    ];
    const policy = new iam.Policy(this, 'OrderSyncPolicy', { statements });
    role.attachInlinePolicy(policy);
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${this.region}:${this.account}:secret:${SELLER_SECRET_PREFIX}*]`,
      reason:
        'One refresh-token secret per seller, created by the operator at onboarding, so their ' +
        `names are not known at deploy time. The grant is GetSecretValue only, under the ${SELLER_SECRET_PREFIX} prefix.`,
    });

    const fn = new RustFunction(this, 'OrderSync', {
      manifestPath: WORKSPACE_MANIFEST,
      binaryName: 'order-sync',
      description: 'Per-seller catch-up sweep of SP-API searchOrders into the orders and pii tables',
      architecture: lambda.Architecture.X86_64,
      memorySize: 256,
      timeout: Duration.minutes(5),
      // A sweep must never overlap itself: checkpoints are per seller, one writer at a time.
      reservedConcurrentExecutions: 1,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        ORDERS_TABLE: this.tables.get('orders').tableName,
        PII_TABLE: this.tables.get('pii').tableName,
        CONTROL_TABLE: this.tables.get('control').tableName,
        PII_KEY_ID: this.piiKey.keyArn,
        SPAPI_ENDPOINT: spapiEndpoint,
        LWA_APP_SECRET_ID: lwaApp.secretArn,
        SELLER_SECRET_PREFIX,
        RETENTION_DAYS: String(retentionDays),
        RUST_LOG: 'info',
      },
    });
    fn.node.addDependency(policy);
    return fn;
  }
}
