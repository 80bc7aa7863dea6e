// The suite in one stack: keys, tables, secrets, queues, order intake by notification
// (order-events) and by schedule (order-sync), the PII lifecycle, the audit report, alarms.
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
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { IntakeAlarms } from './alarms.ts';
import { Api } from './api.ts';
import { AuditReport } from './audit-report.ts';
import { Labels } from './labels.ts';
import { Stock } from './stock.ts';
import { PiiKey } from './pii-key.ts';
import { PiiLifecycle } from './pii-lifecycle.ts';
import { WorkQueue } from './queues.ts';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import { NO_RETURN_VALUES, Tables } from './tables.ts';
import { Tripwires } from './tripwires.ts';

/**
 * A function's own crate in the Rust workspace: cargo-lambda builds its binary from there, so
 * the build resolves only that function's features of `shared` (and links only its SDKs).
 */
export function functionManifest(name: string): string {
  return join(import.meta.dirname, '..', '..', 'functions', name, 'Cargo.toml');
}

/** Names the function and the operator share: keep in step with README.md and shared/src/lambda/. */
export const LWA_APP_SECRET_NAME = 'fbm/lwa-app';
export const SELLER_SECRET_PREFIX = 'fbm/sellers/';
export const DATA_KEY_ALIAS = 'alias/fbm/data';
export const PII_KEY_ALIAS = 'alias/fbm/pii';
export const NOTIFICATIONS_KEY_ALIAS = 'alias/fbm/notifications';
/** Amazon's account that delivers SP-API notifications to SQS destinations. */
export const SPAPI_NOTIFICATIONS_ACCOUNT = '437568002678';
/** The notifications queue's name: its key's policy names the queue's ARN. */
export const NOTIFICATIONS_QUEUE_NAME = 'fbm-order-notifications';
/** LISTINGS_ITEM_MFN_QUANTITY_CHANGE's destination, under the same key. */
export const LISTING_NOTIFICATIONS_QUEUE_NAME = 'fbm-listing-notifications';
/** order-events' timeout; the notifications queue's visibility is six times it. */
const ORDER_EVENTS_TIMEOUT = Duration.seconds(60);
const NOTIFICATIONS_VISIBILITY = Duration.seconds(6 * ORDER_EVENTS_TIMEOUT.toSeconds());

export interface FulfillmentStackProps extends StackProps {
  /** The SP-API regional endpoint, e.g. https://sellingpartnerapi-na.amazon.com */
  readonly spapiEndpoint: string;
  /** Days PII is kept after its anchor date; the function refuses more than 30. */
  readonly retentionDays?: number;
  /** Days CloudTrail log files are kept; at least 400 (the default). */
  readonly auditLogDays?: number;
}

export class FulfillmentStack extends Stack {
  readonly dataKey: kms.Key;
  readonly piiKey: PiiKey;
  readonly tables: Tables;
  readonly orderSync: lambda.Function;
  readonly orderEvents: lambda.Function;
  readonly scheduleDlq: sqs.Queue;
  readonly notifications: WorkQueue;
  readonly listingNotifications: WorkQueue;
  readonly stock: WorkQueue;
  readonly stockSync: Stock;
  readonly piiLifecycle: PiiLifecycle;
  readonly auditReport: AuditReport;
  readonly labels: Labels;
  readonly api: Api;

  constructor(scope: Construct, id: string, props: FulfillmentStackProps) {
    super(scope, id, props);
    const retentionDays = props.retentionDays ?? 30;
    if (retentionDays < 1 || retentionDays > 30) {
      throw new Error(`retentionDays must be 1 to 30 (Amazon's DPP), got ${retentionDays}`);
    }

    // Two keys: the data key encrypts tables, queues, logs and secrets at rest; the PII key
    // only wraps the per-order data keys of sealed PII, so who may open PII is one key policy
    // (pii-key.ts).
    this.dataKey = new kms.Key(this, 'DataKey', {
      alias: DATA_KEY_ALIAS,
      description: 'FBM suite: tables, queues, secrets, logs at rest',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.piiKey = new PiiKey(this, 'PiiKey', { alias: PII_KEY_ALIAS });

    // A key of its own for the notifications queue: Amazon's account must be allowed to use it
    // to deliver, and that grant then reaches nothing else of the suite.
    const notificationsKey = new kms.Key(this, 'NotificationsKey', {
      alias: NOTIFICATIONS_KEY_ALIAS,
      description: 'FBM suite: the SP-API notifications queue (Amazon delivers into it)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const notificationsQueueArns = [NOTIFICATIONS_QUEUE_NAME, LISTING_NOTIFICATIONS_QUEUE_NAME].map((resource) =>
      this.formatArn({ service: 'sqs', resource }),
    );
    notificationsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        // Through SQS, for the two notification queues only.
        sid: 'SpApiNotificationsDeliverToEncryptedQueue',
        principals: [new iam.AccountPrincipal(SPAPI_NOTIFICATIONS_ACCOUNT)],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:ViaService': `sqs.${this.region}.amazonaws.com`,
            'kms:EncryptionContext:aws:sqs:arn': notificationsQueueArns,
          },
        },
      }),
    );

    this.tables = new Tables(this, 'Tables', { key: this.dataKey });
    // The DPP design: no backup may ever hold PII.
    this.tables.forbidCopies('pii');

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
        'This queue is itself a dead-letter queue: of the schedule targets (events EventBridge could ' +
        'not deliver) and the failure destination of the scheduled functions (runs that failed after ' +
        "Lambda's retries). cdk-nag sees no queue redriving to it; a DLQ behind it would only move " +
        'the same records again. Its depth is alarmed.',
    });
    this.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        // The schedule DLQ and the alarm topic (tripwires) are encrypted with the data key.
        sid: 'EventBridgeSendsToEncryptedTargets',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    // ORDER_CHANGE notifications: a standard queue Amazon's notification service sends to.
    this.notifications = new WorkQueue(this, 'Notifications', {
      queueName: NOTIFICATIONS_QUEUE_NAME,
      key: notificationsKey,
      dlqKey: this.dataKey,
      visibilityTimeout: NOTIFICATIONS_VISIBILITY,
      // order-events dead-letters with a reason after 5 failed tries; deferrals for the rate
      // budget are receives too, so SQS's own redrive only catches a function that keeps dying.
      maxReceiveCount: 100,
    });
    this.notifications.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SpApiNotificationsSend',
        principals: [new iam.AccountPrincipal(SPAPI_NOTIFICATIONS_ACCOUNT)],
        actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
        resources: [this.notifications.queue.queueArn],
      }),
    );
    // Amazon's word that a listing's quantity changed (our push, an edit in Seller Central):
    // stock-sync checks the SKU.
    this.listingNotifications = new WorkQueue(this, 'ListingNotifications', {
      queueName: LISTING_NOTIFICATIONS_QUEUE_NAME,
      key: notificationsKey,
      dlqKey: this.dataKey,
      // Six times stock-sync's time limit, as the stock queue's.
      visibilityTimeout: Duration.minutes(30),
      maxReceiveCount: 5,
    });
    this.listingNotifications.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SpApiNotificationsSend',
        principals: [new iam.AccountPrincipal(SPAPI_NOTIFICATIONS_ACCOUNT)],
        actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
        resources: [this.listingNotifications.queue.queueArn],
      }),
    );
    // Stock changes (reserve on a new order, release on a cancel, ship when it leaves) and staff
    // movements, for stock-sync.
    this.stock = new WorkQueue(this, 'Stock', {
      key: this.dataKey,
      // Six times stock-sync's time limit (infra/lib/stock.ts).
      visibilityTimeout: Duration.minutes(30),
      maxReceiveCount: 5,
    });

    const intake = {
      ORDERS_TABLE: this.tables.get('orders').tableName,
      PII_TABLE: this.tables.get('pii').tableName,
      CONTROL_TABLE: this.tables.get('control').tableName,
      AUDIT_TABLE: this.tables.get('audit').tableName,
      PII_KEY_ID: this.piiKey.keyArn,
      STOCK_QUEUE_URL: this.stock.queue.queueUrl,
      SPAPI_ENDPOINT: props.spapiEndpoint,
      LWA_APP_SECRET_ID: lwaApp.secretArn,
      SELLER_SECRET_PREFIX,
      RETENTION_DAYS: String(retentionDays),
    };
    const sellerSecretsAck = {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${this.region}:${this.account}:secret:${SELLER_SECRET_PREFIX}*]`,
      reason:
        'One refresh-token secret per seller, created by the operator at onboarding, so their ' +
        `names are not known at deploy time. The grant is GetSecretValue only, under the ${SELLER_SECRET_PREFIX} prefix.`,
    };
    this.allowLogEncryption();

    const orderSyncFn = new SuiteFunction(this, 'OrderSync', {
      manifestPath: functionManifest('order-sync'),
      binaryName: 'order-sync',
      description: 'Per-seller catch-up sweep of SP-API searchOrders into the orders and pii tables',
      logKey: this.dataKey,
      statements: [
        ...this.intakeStatements(lwaApp, sellerSecrets),
        new iam.PolicyStatement({
          // An unreadable order goes off the record once it reads; nothing else is deleted.
          sid: 'UnreadableOrdersOffRecord',
          actions: ['dynamodb:DeleteItem'],
          resources: [this.tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['unreadable#*'] } },
        }),
      ],
      timeout: Duration.minutes(5),
      // A sweep must never overlap itself: checkpoints are per seller, one writer at a time.
      reservedConcurrentExecutions: 1,
      environment: intake,
    });
    Validations.of(orderSyncFn.policy).acknowledge(sellerSecretsAck);
    this.orderSync = orderSyncFn.fn;
    orderSyncFn.recordFailuresOn(this.scheduleDlq, Duration.hours(1));

    const orderEventsFn = new SuiteFunction(this, 'OrderEvents', {
      manifestPath: functionManifest('order-events'),
      binaryName: 'order-events',
      description: 'ORDER_CHANGE notifications: dedupe, getOrder, store order, seal PII, reserve stock',
      logKey: this.dataKey,
      statements: [
        ...this.intakeStatements(lwaApp, sellerSecrets),
        new iam.PolicyStatement({
          sid: 'DeadLetterWithReason',
          actions: ['sqs:SendMessage'],
          resources: [this.notifications.dlq.queueArn],
        }),
      ],
      timeout: ORDER_EVENTS_TIMEOUT,
      environment: {
        ...intake,
        NOTIFICATIONS_QUEUE_URL: this.notifications.queue.queueUrl,
        NOTIFICATIONS_DLQ_URL: this.notifications.dlq.queueUrl,
        NOTIFICATION_MAX_FAILURES: '5',
        NOTIFICATION_CLAIM_SECS: String(NOTIFICATIONS_VISIBILITY.toSeconds()),
      },
    });
    Validations.of(orderEventsFn.policy).acknowledge(sellerSecretsAck);
    this.orderEvents = orderEventsFn.fn;
    // Receive, delete and ChangeMessageVisibility (which deferral uses: a message waits on
    // its queue while the rate budget refills).
    this.notifications.feed(orderEventsFn, {
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(2),
      // Every instance shares the sellers' rate budgets: more would only defer more.
      maxConcurrency: 4,
    });
    // Both intake routes seal; nothing else may make a data key of the PII key.
    for (const sealer of [orderSyncFn, orderEventsFn]) this.piiKey.allowSealing(sealer.role);

    // Label jobs (packed orders) to Buy Shipping labels.
    this.labels = new Labels(this, 'Labels', {
      manifestPath: functionManifest('label-worker'),
      trackerManifestPath: functionManifest('shipment-tracker'),
      scheduleDlq: this.scheduleDlq,
      retentionDays,
      tables: this.tables,
      dataKey: this.dataKey,
      piiKey: this.piiKey,
      topic: alarmTopic,
      lwaApp,
      sellerSecrets,
      sellerSecretPrefix: SELLER_SECRET_PREFIX,
      spapiEndpoint: props.spapiEndpoint,
      sellerSecretsAck,
      stockQueue: this.stock.queue,
    });

    // Stock: the stock queue's movements, the pushes to Amazon, the daily reconciliation.
    this.stockSync = new Stock(this, 'StockSync', {
      manifestPath: functionManifest('stock-sync'),
      queue: this.stock,
      listingNotifications: this.listingNotifications,
      scheduleDlq: this.scheduleDlq,
      tables: this.tables,
      dataKey: this.dataKey,
      topic: alarmTopic,
      lwaApp,
      sellerSecrets,
      sellerSecretPrefix: SELLER_SECRET_PREFIX,
      spapiEndpoint: props.spapiEndpoint,
      sellerSecretsAck,
    });

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

    this.piiLifecycle = new PiiLifecycle(this, 'PiiLifecycle', {
      manifestPath: functionManifest('pii-redactor'),
      tables: this.tables,
      dataKey: this.dataKey,
      topic: alarmTopic,
      scheduleDlq: this.scheduleDlq,
      sellerSecretPrefix: SELLER_SECRET_PREFIX,
      sellerSecrets,
      retentionDays,
      auditLogDays: props.auditLogDays ?? 400,
    });

    // On demand: invoked with {"from", "to", "format"}, or a report job an auditor asked for
    // over the API; the reports it keeps are read and written on the record of the trail.
    this.auditReport = new AuditReport(this, 'AuditReport', {
      manifestPath: functionManifest('audit-report'),
      tables: this.tables,
      dataKey: this.dataKey,
      piiKey: this.piiKey.key,
      topic: alarmTopic,
    });
    this.piiLifecycle.recordObjectEvents('Reads and writes of the audit reports', this.auditReport.reports);

    // Staff and auditors over HTTP.
    this.api = new Api(this, 'Api', {
      manifestPath: functionManifest('api'),
      tables: this.tables,
      dataKey: this.dataKey,
      piiKey: this.piiKey,
      labelJobs: this.labels.jobs,
      stockQueue: this.stock.queue,
      deletions: this.piiLifecycle.deletions,
      reportJobs: this.auditReport.jobs,
      reports: this.auditReport.reports,
    });
    new CfnOutput(this, 'ApiUrl', { value: this.api.httpApi.apiEndpoint });
    new CfnOutput(this, 'StaffUserPoolId', { value: this.api.userPool.userPoolId });

    new Tripwires(this, 'Tripwires', {
      topic: alarmTopic,
      piiKey: this.piiKey.key,
      piiKeyAlias: PII_KEY_ALIAS,
      dataKey: this.dataKey,
      dataKeyAlias: DATA_KEY_ALIAS,
      piiTable: this.tables.get('pii'),
    });

    new IntakeAlarms(this, 'Alarms', {
      topic: alarmTopic,
      orderSync: orderSyncFn,
      orderEvents: orderEventsFn,
      scheduleDlq: this.scheduleDlq,
      notifications: this.notifications,
      stock: this.stock,
    });

    new CfnOutput(this, 'OrderSyncFunctionName', { value: this.orderSync.functionName });
    new CfnOutput(this, 'OrderEventsFunctionName', { value: this.orderEvents.functionName });
    new CfnOutput(this, 'NotificationsQueueArn', {
      value: this.notifications.queue.queueArn,
      description: 'The SQS destination to register with the Notifications API (createDestination)',
    });
    new CfnOutput(this, 'LwaAppSecretArn', { value: lwaApp.secretArn });
    new CfnOutput(this, 'DeletionRequestsQueueUrl', {
      value: this.piiLifecycle.deletions.queue.queueUrl,
      description: 'Send deletion requests here (by order or by seller); confirmations land in the control table',
    });
    new CfnOutput(this, 'PiiRedactorFunctionName', { value: this.piiLifecycle.redactor.fn.functionName });
    new CfnOutput(this, 'AuditReportFunctionName', {
      value: this.auditReport.reporter.fn.functionName,
      description: 'Invoke with {"from", "to", "format": "json" | "csv"} for the audit report of a range',
    });
    new CfnOutput(this, 'LabelJobsQueueUrl', {
      value: this.labels.jobs.queue.queueUrl,
      description: 'Send label jobs here ({job_id, seller_id, order_id, packages, requested_by})',
    });
    new CfnOutput(this, 'StockSyncFunctionName', {
      value: this.stockSync.sync.fn.functionName,
      description:
        'Invoke with {"command": "movements" | "set_locations" | "set_sku" | "reconcile", ...}; staff movements may also go on the stock queue',
    });
    new CfnOutput(this, 'TrailBucketName', { value: this.piiLifecycle.trailBucket.bucketName });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn });
    for (const [id, { table }] of Object.entries(this.tables.byId)) {
      new CfnOutput(this, `${id}TableName`, { value: table.tableName });
    }
  }

  /** CloudWatch Logs may use the data key for the suite's log groups, and only for those. */
  private allowLogEncryption(): void {
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
  }

  /** What taking an order in needs, for either route (notification or sweep). */
  private intakeStatements(lwaApp: secretsmanager.ISecret, sellerSecrets: string): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        // Read the stored orders (lifecycle merge; a batch's in one BatchGetItem), write each
        // conditionally (a batch's in one TransactWriteItems, authorized item by item as
        // PutItem).
        sid: 'UpsertOrders',
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'],
        resources: [this.tables.get('orders').tableArn],
      }),
      // Write-only: intake seals and purges PII but never reads it back (UpdateItem: a ship-to
      // its buyer corrected keeps it, but takes the purge date Amazon's update sets).
      new iam.PolicyStatement({
        sid: 'SealAndPurgePii',
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.tables.get('pii').tableArn],
        conditions: NO_RETURN_VALUES,
      }),
      new iam.PolicyStatement({
        // A purge on a cancel or a passed date goes on record. Append-only: PutItem alone.
        sid: 'AppendAuditEvents',
        actions: ['dynamodb:PutItem'],
        resources: [this.tables.get('audit').tableArn],
      }),
      new iam.PolicyStatement({
        // Checkpoints, the seller registry, notification dedupe (a batch's claims in one
        // TransactWriteItems, marked done in one BatchWriteItem), the shared rate budget and
        // the record of unreadable orders.
        sid: 'ControlTable',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem'],
        resources: [this.tables.get('control').tableArn],
      }),
      // One data key per order, only with the order's identity as encryption context (the
      // key's policy says the same). No Decrypt: intake can seal PII but can never open it.
      this.piiKey.sealingStatement(),
      // The data key only through the services whose data it protects.
      dataKeyThrough(this, this.dataKey, ['dynamodb', 'secretsmanager', 'sqs']),
      new iam.PolicyStatement({
        sid: 'ReadLwaCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [lwaApp.secretArn, sellerSecrets],
      }),
      new iam.PolicyStatement({
        // SendMessage authorizes SendMessageBatch too.
        sid: 'AnnounceStockChanges',
        actions: ['sqs:SendMessage'],
        resources: [this.stock.queue.queueArn],
      }),
    ];
  }
}
