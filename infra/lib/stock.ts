// Stock as deployed: stock-sync on the stock queue (intake's reservations, releases and
// shipments; staff movements), invoked on demand for staff commands, and the daily
// reconciliation. It reads and writes the stock table, reads the seller registry and takes
// places in the shared SP-API rate budget; it has no grant on the PII key, the orders table or
// the pii table at all. Alarms: the DLQ's depth, Amazon refusing quantities, low stock, stock
// reserved for SKUs the suite has no record of, picks that found too little on the shelves.
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmsOn, countErrorKinds, countSpApiThrottles } from './alarms.ts';
import type { WorkQueue } from './queues.ts';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import type { Tables } from './tables.ts';

/** stock-sync's time limit; the stock queue's visibility timeout is six times it. */
const SYNC_TIMEOUT = Duration.minutes(5);

export interface StockProps {
  readonly manifestPath: string;
  readonly queue: WorkQueue;
  /** Amazon's LISTINGS_ITEM_MFN_QUANTITY_CHANGE notifications (each checks its SKU). */
  readonly listingNotifications: WorkQueue;
  readonly scheduleDlq: sqs.IQueue;
  readonly tables: Tables;
  readonly dataKey: kms.IKey;
  readonly topic: sns.ITopic;
  readonly lwaApp: secretsmanager.ISecret;
  readonly sellerSecrets: string;
  readonly sellerSecretPrefix: string;
  readonly spapiEndpoint: string;
  readonly sellerSecretsAck: { id: string; reason: string };
}

export class Stock extends Construct {
  readonly sync: SuiteFunction;

  constructor(scope: Construct, id: string, props: StockProps) {
    super(scope, id);
    const { tables } = props;
    this.sync = new SuiteFunction(this, 'StockSync', {
      manifestPath: props.manifestPath,
      binaryName: 'stock-sync',
      description: 'Stock movements applied once, available quantities pushed to Amazon, daily reconciliation',
      logKey: props.dataKey,
      timeout: SYNC_TIMEOUT,
      environment: {
        STOCK_TABLE: tables.get('stock').tableName,
        CONTROL_TABLE: tables.get('control').tableName,
        STOCK_DLQ_URL: props.queue.dlq.queueUrl,
        STOCK_QUEUE_URL: props.queue.queue.queueUrl,
        STOCK_MAX_RECEIVES: '5',
        STOCK_FEED_MIN_SKUS: '1000',
        STOCK_FEED_CHECK_SECS: '60',
        SPAPI_ENDPOINT: props.spapiEndpoint,
        LWA_APP_SECRET_ID: props.lwaApp.secretArn,
        SELLER_SECRET_PREFIX: props.sellerSecretPrefix,
      },
      statements: [
        new iam.PolicyStatement({
          // Positions and holds read, movements written in transactions, listing state kept.
          sid: 'StockLedger',
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
          resources: [tables.get('stock').tableArn, `${tables.get('stock').tableArn}/index/skus_by_seller`],
        }),
        new iam.PolicyStatement({
          // A submitted feed's lines are kept until its result is read, then dropped: the only
          // deletes, and never of the ledger.
          sid: 'FinishedFeedRecords',
          actions: ['dynamodb:DeleteItem'],
          resources: [tables.get('stock').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['feed#*'] } },
        }),
        new iam.PolicyStatement({
          // A note to itself to read a feed's result once Amazon has processed it.
          sid: 'FeedChecks',
          actions: ['sqs:SendMessage'],
          resources: [props.queue.queue.queueArn],
        }),
        new iam.PolicyStatement({
          // The seller registry (marketplaces) and the shared SP-API rate budget only.
          sid: 'SellerRegistryAndRateBudget',
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['seller', 'rate#*'] } },
        }),
        dataKeyThrough(this, props.dataKey, ['dynamodb', 'secretsmanager', 'sqs']),
        new iam.PolicyStatement({
          sid: 'ReadLwaCredentials',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.lwaApp.secretArn, props.sellerSecrets],
        }),
        new iam.PolicyStatement({
          sid: 'DeadLetterWithReason',
          actions: ['sqs:SendMessage'],
          resources: [props.queue.dlq.queueArn],
        }),
      ],
    });
    Validations.of(this.sync.policy).acknowledge(props.sellerSecretsAck);
    props.queue.feed(this.sync, {
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(5),
      // The sellers' Listings budgets are shared; two instances keep a burst moving.
      maxConcurrency: 2,
    });
    props.listingNotifications.feed(this.sync, {
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(5),
      maxConcurrency: 2,
    });
    this.sync.recordFailuresOn(props.scheduleDlq, Duration.hours(6));
    new events.Rule(this, 'ReconciliationSchedule', {
      description: 'stock-sync reconciliation: every SKU against what Amazon holds',
      schedule: events.Schedule.cron({ minute: '30', hour: '4' }),
      targets: [
        new targets.LambdaFunction(this.sync.fn, {
          retryAttempts: 2,
          maxEventAge: Duration.hours(6),
          deadLetterQueue: props.scheduleDlq,
        }),
      ],
    });

    const alarm = alarmsOn(this, props.topic);
    alarm('StockSyncErrors', this.sync.fn.metricErrors({ period: Duration.minutes(15) }), 'stock-sync failed a batch, a command or a reconciliation');
    // Stock alerts are log lines with an `alert` field (ids and counts only).
    const countAlerts = (metricName: string, kinds: string[]) =>
      countErrorKinds(this, this.sync.logGroup, metricName, kinds, Duration.minutes(15), 'alert');
    alarm(
      'StockPushRejected',
      countAlerts('StockPushRejected', ['push_rejected']),
      "Amazon refused a SKU's quantity (the log names seller, SKU and Amazon's issue codes); the SKU's listing needs fixing",
    );
    alarm(
      'StockAttention',
      countAlerts('StockAttention', ['unknown_sku', 'short_pick', 'seller_not_registered', 'feed_failed', 'feed_unsettled']),
      'Stock reserved for a SKU with no stock record, a pick that found too little on the shelves, stock of an ' +
        'unregistered seller, or a listings feed Amazon failed or never finished (see the stock-sync log)',
    );
    // Low stock is a signal for purchasing, not an outage: counted, alarmed on its own metric.
    alarm(
      'LowStock',
      countAlerts('LowStock', ['low_stock']),
      'A SKU reached its low-stock threshold (the log names seller and SKU)',
    );
    alarm(
      'ListingNotificationsDlqDepth',
      props.listingNotifications.dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      "Amazon's quantity notices stock-sync could not check (SQS moved them after 5 receives)",
    );
    countSpApiThrottles(this, 'StockSpApiThrottled', this.sync.logGroup);
  }
}
