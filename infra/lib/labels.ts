// Labels as deployed: the label-jobs queue (a key of its own, TLS only, a DLQ) and label-worker,
// which buys each package's Buy Shipping label once, seals the document (it can make data keys
// of the PII key, never open it) and marks the order Labeled; voids a label (its document
// deleted, the void audited); confirms own-carrier packages with Orders v0. Alarms: the DLQ's depth, purchases
// left unsettled (unresolved or unrecorded: someone must look), Amazon refusing purchases,
// labels blocked by a SKU the seller's catalog does not know.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { alarmsOn, countSpApiThrottles } from './alarms.ts';
import type { PiiKey } from './pii-key.ts';
import { WorkQueue } from './queues.ts';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import { NO_RETURN_VALUES, type Tables } from './tables.ts';

/** label-worker's time limit: a job's packages each wait on two Shipping calls at most. */
const WORKER_TIMEOUT = Duration.seconds(120);

export interface LabelsProps {
  readonly manifestPath: string;
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
}

export class Labels extends Construct {
  readonly jobs: WorkQueue;
  readonly worker: SuiteFunction;

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
    const counted = (metricName: string, kinds: string[]) => {
      new logs.MetricFilter(this, `${metricName}Filter`, {
        logGroup: this.worker.logGroup,
        filterPattern: logs.FilterPattern.any(
          ...kinds.map((k) => logs.FilterPattern.stringValue('$.fields.error_kind', '=', k)),
        ),
        metricNamespace: 'FBM',
        metricName,
        metricValue: '1',
      });
      return new cloudwatch.Metric({ namespace: 'FBM', metricName, statistic: 'Sum', period: Duration.minutes(15) });
    };
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
  }
}
