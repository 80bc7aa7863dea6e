// Labels as deployed: the label-jobs queue (a key of its own, TLS only, a DLQ) and label-worker,
// which buys each package's Buy Shipping label once, seals the document (it can make data keys
// of the PII key, never open it) and marks the order Labeled; voids a label (its document
// deleted, the void audited); confirms own-carrier packages with Orders v0. Alarms: the DLQ's depth, purchases
// left unsettled (unresolved or unrecorded: someone must look), Amazon refusing purchases,
// labels blocked by a SKU the seller's catalog does not know. A labeled order's pick and a
// shipped order's departure go to the stock queue.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmsOn, countErrorKinds, countSpApiThrottles } from './alarms.ts';
import type { PiiKey } from './pii-key.ts';
import { WorkQueue } from './queues.ts';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import { NO_RETURN_VALUES, type Tables } from './tables.ts';

/** label-worker's time limit: a job's packages each wait on two Shipping calls at most. */
const WORKER_TIMEOUT = Duration.seconds(120);

export interface LabelsProps {
  readonly manifestPath: string;
  readonly trackerManifestPath: string;
  /** Where the tracker's failed runs and undelivered schedule events are recorded. */
  readonly scheduleDlq: sqs.IQueue;
  readonly tables: Tables;
  readonly dataKey: kms.IKey;
  readonly piiKey: PiiKey;
  readonly topic: sns.ITopic;
  readonly lwaApp: secretsmanager.ISecret;
  readonly sellerSecrets: string;
  readonly sellerSecretPrefix: string;
  readonly spapiEndpoint: string;
  /** The acknowledgement of the seller-secrets prefix grant, shared with intake. */
  readonly sellerSecretsAck: { id: string; reason: string };
  /** Days after delivery PII is kept (the tracker brings purge dates forward to them). */
  readonly retentionDays: number;
  /** Where a labeled order's pick and a shipped order's departure are announced. */
  readonly stockQueue: sqs.IQueue;
}

export class Labels extends Construct {
  readonly jobs: WorkQueue;
  readonly worker: SuiteFunction;
  readonly tracker: SuiteFunction;

  constructor(scope: Construct, id: string, props: LabelsProps) {
    super(scope, id);
    const { tables } = props;
    const jobsKey = new kms.Key(this, 'JobsKey', {
      alias: 'alias/fbm/label-jobs',
      description: 'FBM suite: the label-jobs queue',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.jobs = new WorkQueue(this, 'LabelJobs', {
      key: jobsKey,
      dlqKey: props.dataKey,
      visibilityTimeout: Duration.seconds(6 * WORKER_TIMEOUT.toSeconds()),
      // label-worker dead-letters with a reason by the fifth receive; this is the backstop.
      maxReceiveCount: 10,
    });
    this.worker = new SuiteFunction(this, 'LabelWorker', {
      manifestPath: props.manifestPath,
      binaryName: 'label-worker',
      description: 'Label jobs: each package bought once on Buy Shipping, its document sealed, the order Labeled',
      logKey: props.dataKey,
      timeout: WORKER_TIMEOUT,
      environment: {
        ORDERS_TABLE: tables.get('orders').tableName,
        PII_TABLE: tables.get('pii').tableName,
        CONTROL_TABLE: tables.get('control').tableName,
        AUDIT_TABLE: tables.get('audit').tableName,
        PII_KEY_ID: props.piiKey.keyArn,
        LABEL_JOBS_DLQ_URL: this.jobs.dlq.queueUrl,
        LABEL_JOB_MAX_RECEIVES: '5',
        STOCK_QUEUE_URL: props.stockQueue.queueUrl,
        SPAPI_ENDPOINT: props.spapiEndpoint,
        LWA_APP_SECRET_ID: props.lwaApp.secretArn,
        SELLER_SECRET_PREFIX: props.sellerSecretPrefix,
      },
      statements: [
        new iam.PolicyStatement({
          // The stored order (open? which items?), then the order Labeled over its revision.
          sid: 'ReadAndLabelOrders',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [tables.get('orders').tableArn],
        }),
        new iam.PolicyStatement({
          // Seals label documents, and deletes a voided label's; never reads (the redactor
          // purges the rest on the day).
          sid: 'SealAndDeleteLabelDocuments',
          actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
          resources: [tables.get('pii').tableArn],
          conditions: NO_RETURN_VALUES,
        }),
        new iam.PolicyStatement({
          // A voided label, audited. Append-only: no UpdateItem, no DeleteItem.
          sid: 'AuditVoids',
          actions: ['dynamodb:PutItem'],
          resources: [tables.get('audit').tableArn],
        }),
        new iam.PolicyStatement({
          // Its own records only: the purchase ledger (an order's packages read together), the
          // sellers' label settings and the shared SP-API rate budget.
          sid: 'LabelRecordsAndRateBudget',
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [tables.get('control').tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['label#*', 'label-settings', 'rate#*'] },
          },
        }),
        new iam.PolicyStatement({
          // A bought label's parcel put on the tracker's watch; taken off when it is voided.
          sid: 'WatchParcels',
          actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
          resources: [tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['tracking'] } },
        }),
        props.piiKey.sealingStatement(),
        dataKeyThrough(this, props.dataKey, ['dynamodb', 'secretsmanager', 'sqs']),
        new iam.PolicyStatement({
          sid: 'ReadLwaCredentials',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.lwaApp.secretArn, props.sellerSecrets],
        }),
        new iam.PolicyStatement({
          sid: 'DeadLetterWithReason',
          actions: ['sqs:SendMessage'],
          resources: [this.jobs.dlq.queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'AnnouncePicks',
          actions: ['sqs:SendMessage'],
          resources: [props.stockQueue.queueArn],
        }),
      ],
    });
    Validations.of(this.worker.policy).acknowledge(props.sellerSecretsAck);
    props.piiKey.allowSealing(this.worker.role);
    this.jobs.feed(this.worker, {
      batchSize: 5,
      maxBatchingWindow: Duration.seconds(1),
      // Every instance shares the sellers' Shipping budgets.
      maxConcurrency: 4,
    });

    const alarm = alarmsOn(this, props.topic);
    alarm(
      'LabelJobsDlqDepth',
      this.jobs.dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'Label jobs were given up (refused: canceled, not open, bad items, no rate; or failing): each names its ids and reason',
    );
    const counted = (metricName: string, kinds: string[]) =>
      countErrorKinds(this, this.worker.logGroup, metricName, kinds, Duration.minutes(15));
    alarm(
      'LabelPurchasesUnsettled',
      counted('LabelPurchasesUnsettled', ['purchase_unresolved', 'purchase_unrecorded']),
      'A label purchase may have been bought and is not on record as it should be (unresolved after an expired ' +
        'rate, or bought under another attempt): settle it by its idempotency key before anyone buys again',
    );
    alarm(
      'LabelsBlocked',
      counted('LabelsBlocked', ['label_blocked']),
      "An order's label is blocked: a job named no packages and a SKU of the order has no weight and " +
        "dimensions in the seller's catalog (the dead letter names the SKU); add them and send the job again",
    );
    // Amazon's 429s to this function count toward the suite's SpApiThrottled alarm too.
    countSpApiThrottles(this, 'SpApiThrottled', this.worker.logGroup);
    alarm(
      'LabelPurchasesFailed',
      counted('LabelPurchasesFailed', ['purchase_failed']),
      'Buy Shipping refused or failed label purchases (see the label-worker log: Amazon code, order, package)',
    );
    alarm(
      'ShipmentsFailed',
      counted('ShipmentsFailed', ['void_failed', 'confirm_failed', 'confirm_refused']),
      'Voids or own-carrier confirmations failed, or Amazon refused a confirmation (an unconfirmed package costs ' +
        'the seller its Valid Tracking Rate): see the label-worker log and the dead letters',
    );

    // Tracking: every bought label's parcel until it is delivered (first scan, the no-scan
    // alert, delivery as the purge anchor). Hourly: a missing scan is alerted within the hour
    // it is a day late.
    this.tracker = new SuiteFunction(this, 'ShipmentTracker', {
      manifestPath: props.trackerManifestPath,
      binaryName: 'shipment-tracker',
      description: 'Hourly: tracking of every bought label until delivery; the first scan, the no-scan alert, delivery',
      logKey: props.dataKey,
      timeout: Duration.minutes(5),
      // One run at a time: two would check every parcel twice.
      reservedConcurrentExecutions: 1,
      environment: {
        ORDERS_TABLE: tables.get('orders').tableName,
        PII_TABLE: tables.get('pii').tableName,
        CONTROL_TABLE: tables.get('control').tableName,
        SPAPI_ENDPOINT: props.spapiEndpoint,
        LWA_APP_SECRET_ID: props.lwaApp.secretArn,
        SELLER_SECRET_PREFIX: props.sellerSecretPrefix,
        RETENTION_DAYS: String(props.retentionDays),
        STOCK_QUEUE_URL: props.stockQueue.queueUrl,
      },
      statements: [
        new iam.PolicyStatement({
          // Shipped at the first scan, Delivered (with the carrier's time) over the revision read.
          sid: 'ShipAndDeliverOrders',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [tables.get('orders').tableArn],
        }),
        new iam.PolicyStatement({
          // A delivered order's sealed items purged sooner: their date attribute brought
          // forward. Nothing read, nothing put, nothing deleted.
          sid: 'BringPurgeDatesForward',
          actions: ['dynamodb:UpdateItem'],
          resources: [tables.get('pii').tableArn],
          conditions: NO_RETURN_VALUES,
        }),
        new iam.PolicyStatement({
          // The watched parcels and the shared SP-API rate budget only.
          sid: 'WatchedParcelsAndRateBudget',
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
          resources: [tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['tracking', 'rate#*'] } },
        }),
        dataKeyThrough(this, props.dataKey, ['dynamodb', 'secretsmanager', 'sqs']),
        new iam.PolicyStatement({
          sid: 'ReadLwaCredentials',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.lwaApp.secretArn, props.sellerSecrets],
        }),
        new iam.PolicyStatement({
          sid: 'AnnounceShipments',
          actions: ['sqs:SendMessage'],
          resources: [props.stockQueue.queueArn],
        }),
      ],
    });
    Validations.of(this.tracker.policy).acknowledge(props.sellerSecretsAck);
    this.tracker.recordFailuresOn(props.scheduleDlq, Duration.hours(1));
    new events.Rule(this, 'TrackingSchedule', {
      description: 'shipment-tracker run: every watched parcel once',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [
        new targets.LambdaFunction(this.tracker.fn, {
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: props.scheduleDlq,
        }),
      ],
    });
    const trackerCounted = (metricName: string, kinds: string[]) =>
      countErrorKinds(this, this.tracker.logGroup, metricName, kinds, Duration.hours(1));
    alarm(
      'ParcelsNotScanned',
      trackerCounted('ParcelsNotScanned', ['no_first_scan']),
      "A parcel has no carrier scan a day after its label was bought (Amazon's Valid Tracking Rate counts it): " +
        'hand it to the carrier, or void the label (the log names seller, order and package)',
    );
    alarm(
      'TrackingFailed',
      trackerCounted('TrackingFailed', ['tracking_run_failed', 'tracking_refused', 'tracking_not_recorded']),
      'Tracking runs failed, or Amazon refused to track a parcel (see the shipment-tracker log)',
    );
    countSpApiThrottles(this, 'TrackerSpApiThrottled', this.tracker.logGroup);
  }
}
