// The PII lifecycle as deployed: pii-redactor (hourly purge runs, deletion requests from their
// queue), its self-check alarm, and the CloudTrail trail an auditor reads: management events
// (each KMS Decrypt of the PII key carries the order's encryption context) and data events on
// the pii table, to an encrypted, versioned, TLS-only bucket kept at least 400 days.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmsOn } from './alarms.ts';
import { WorkQueue } from './queues.ts';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import { NO_RETURN_VALUES, type Tables } from './tables.ts';

/** The trail's name: its ARN is known before it exists. */
export const TRAIL_NAME = 'fbm-audit';

/** The redactor's time limit; a run stops 30 s before it and the next run goes on. */
const REDACTOR_TIMEOUT = Duration.minutes(15);

export interface PiiLifecycleProps {
  readonly manifestPath: string;
  readonly tables: Tables;
  readonly dataKey: kms.IKey;
  readonly topic: sns.ITopic;
  readonly scheduleDlq: sqs.IQueue;
  readonly sellerSecretPrefix: string;
  readonly sellerSecrets: string;
  readonly retentionDays: number;
  /** Days the trail's log files are kept; at least 400. */
  readonly auditLogDays: number;
}

export class PiiLifecycle extends Construct {
  readonly redactor: SuiteFunction;
  readonly deletions: WorkQueue;
  readonly trail: cloudtrail.CfnTrail;
  readonly trailBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: PiiLifecycleProps) {
    super(scope, id);
    if (props.auditLogDays < 400) {
      throw new Error(`auditLogDays must be at least 400, got ${props.auditLogDays}`);
    }
    const stack = Stack.of(this);
    const { tables } = props;
    const orders = tables.get('orders');
    const pii = tables.get('pii');
    const control = tables.get('control');
    const audit = tables.get('audit');

    this.deletions = new WorkQueue(this, 'DeletionRequests', {
      key: props.dataKey,
      visibilityTimeout: Duration.seconds(6 * REDACTOR_TIMEOUT.toSeconds()),
      // The redactor dead-letters with a reason at the fifth receive; this is the backstop.
      maxReceiveCount: 10,
    });

    this.redactor = new SuiteFunction(this, 'PiiRedactor', {
      manifestPath: props.manifestPath,
      binaryName: 'pii-redactor',
      description: 'PII purge on the day, deletion requests with confirmation, self-check, audit events',
      logKey: props.dataKey,
      timeout: REDACTOR_TIMEOUT,
      // Purge runs and deletions may meet; every step is conditional, but one at a time is enough.
      reservedConcurrentExecutions: 2,
      environment: {
        ORDERS_TABLE: orders.tableName,
        PII_TABLE: pii.tableName,
        CONTROL_TABLE: control.tableName,
        AUDIT_TABLE: audit.tableName,
        DELETION_DLQ_URL: this.deletions.dlq.queueUrl,
        DELETION_MAX_RECEIVES: '5',
        SELLER_SECRET_PREFIX: props.sellerSecretPrefix,
        RETENTION_DAYS: String(props.retentionDays),
      },
      statements: [
        new iam.PolicyStatement({
          // Orders holding PII by date (the sparse index); mark them purged.
          sid: 'FindAndMarkOrders',
          actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [orders.tableArn, ...tables.indexArns('orders')],
        }),
        new iam.PolicyStatement({
          // Keys and dates only: the redactor never reads a ciphertext.
          sid: 'ListSealedItemKeys',
          actions: ['dynamodb:Query', 'dynamodb:Scan'],
          resources: [pii.tableArn],
          conditions: {
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['seller_order', 'kind', 'pii_purge_at'] },
            // Select must be there: without it (and without a projection) the attribute list
            // is empty, ForAllValues holds, and a Scan would return whole items. COUNT: the
            // self-check counts past-due items without reading them.
            StringEquals: { 'dynamodb:Select': ['SPECIFIC_ATTRIBUTES', 'COUNT'] },
          },
        }),
        new iam.PolicyStatement({
          sid: 'DeleteSealedItems',
          actions: ['dynamodb:DeleteItem'],
          resources: [pii.tableArn],
          conditions: NO_RETURN_VALUES,
        }),
        new iam.PolicyStatement({
          // Seller registry (purge for all, remove on offboarding), checkpoints, deletion confirmations.
          sid: 'ControlTable',
          actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
          resources: [control.tableArn],
        }),
        new iam.PolicyStatement({
          // Append-only: no UpdateItem, no DeleteItem.
          sid: 'AppendAuditEvents',
          actions: ['dynamodb:PutItem'],
          resources: [audit.tableArn],
        }),
        new iam.PolicyStatement({
          sid: 'DeleteSellerRefreshTokens',
          actions: ['secretsmanager:DeleteSecret'],
          resources: [props.sellerSecrets],
        }),
        new iam.PolicyStatement({
          sid: 'DeadLetterWithReason',
          actions: ['sqs:SendMessage'],
          resources: [this.deletions.dlq.queueArn],
        }),
        dataKeyThrough(this, props.dataKey, ['dynamodb', 'secretsmanager', 'sqs']),
      ],
    });
    Validations.of(this.redactor.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${stack.region}:${stack.account}:secret:${props.sellerSecretPrefix}*]`,
      reason:
        "Offboarding deletes the seller's refresh token; seller secrets are created per seller at " +
        `onboarding, so only their prefix (${props.sellerSecretPrefix}) is known at deploy time. The grant is DeleteSecret only.`,
    });
    const fn = this.redactor.fn;
    this.deletions.feed(this.redactor, { batchSize: 1 });
    this.redactor.recordFailuresOn(props.scheduleDlq, Duration.hours(1));
    // Hourly: PII is gone within the hour its date passes, and a run stopped by its time limit
    // goes on at the next one. TTL on the pii table is only the backstop.
    new events.Rule(this, 'PurgeSchedule', {
      description: 'pii-redactor purge run: PII past its date, then the self-check',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [
        new targets.LambdaFunction(fn, {
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: props.scheduleDlq,
        }),
      ],
    });

    const alarm = alarmsOn(this, props.topic);
    new logs.MetricFilter(this, 'PiiPastDueFilter', {
      logGroup: this.redactor.logGroup,
      filterPattern: logs.FilterPattern.numberValue('$.fields.pii_past_due', '>', 0),
      metricNamespace: 'FBM',
      metricName: 'PiiPastDue',
      metricValue: '$.fields.pii_past_due',
    });
    alarm(
      'PiiPastDue',
      new cloudwatch.Metric({ namespace: 'FBM', metricName: 'PiiPastDue', statistic: 'Maximum', period: Duration.hours(1) }),
      'The self-check found sealed PII past its purge date (Amazon DPP: 30 days after delivery). ' +
        'See the pii-redactor log and the audit table (pii_past_due events).',
    );
    alarm('PiiRedactorErrors', fn.metricErrors({ period: Duration.hours(1) }), 'pii-redactor failed a purge run or a deletion batch');
    alarm(
      'DeletionDlqDepth',
      this.deletions.dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A deletion request was given up (malformed, id reused, or failing): each message names its ids and reason',
    );

    // The trail. Its bucket keeps log files at least `auditLogDays` under S3 Object Lock in
    // compliance mode: no one, the account root included, deletes or overwrites a log file
    // before then. Versioned (Object Lock requires it), TLS only.
    this.trailBucket = new s3.Bucket(this, 'TrailBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.dataKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(props.auditLogDays)),
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'KeepAuditLogs',
          expiration: Duration.days(props.auditLogDays),
          // A version turns noncurrent when the expiry above marks it deleted, auditLogDays
          // after it was written: gone the day after (Object Lock has held it until then).
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
    });
    Validations.of(this.trailBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket holds the CloudTrail log files themselves; the trail records every change to its ' +
        'objects (data events) and to the bucket (management events), and server access logs would need ' +
        'yet another bucket with the same question.',
    });
    // A fixed name: the bucket policy and the key policy name the trail's ARN, and the trail
    // depends on both.
    const trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: TRAIL_NAME });
    const cloudTrail = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
    const fromThisTrail = { StringEquals: { 'aws:SourceArn': trailArn } };
    this.trailBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudTrailReadsBucketAcl',
        principals: [cloudTrail],
        actions: ['s3:GetBucketAcl'],
        resources: [this.trailBucket.bucketArn],
        conditions: fromThisTrail,
      }),
    );
    this.trailBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudTrailWritesLogFiles',
        principals: [cloudTrail],
        actions: ['s3:PutObject'],
        resources: [this.trailBucket.arnForObjects(`AWSLogs/${stack.account}/*`)],
        conditions: {
          StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': trailArn },
        },
      }),
    );
    props.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudTrailEncryptsItsLogs',
        principals: [cloudTrail],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          ...fromThisTrail,
          StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${stack.partition}:cloudtrail:*:${stack.account}:trail/*` },
        },
      }),
    );
    // DescribeKey carries no encryption context: a statement of its own, or it never holds.
    props.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudTrailDescribesItsKey',
        principals: [cloudTrail],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
        conditions: fromThisTrail,
      }),
    );
    // The L1 trail: CDK's Trail writes its own bucket statements, without aws:SourceArn.
    this.trail = new cloudtrail.CfnTrail(this, 'Trail', {
      trailName: TRAIL_NAME,
      isLogging: true,
      s3BucketName: this.trailBucket.bucketName,
      kmsKeyId: props.dataKey.keyArn,
      enableLogFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: true,
      // Every management event (KMS among them: each Decrypt of the PII key with the order's
      // context, each change to a key or a bucket), the pii table's data events, and every
      // change to the trail's own log files but CloudTrail's deliveries (PutObject; recording
      // those would log each delivery in the next one, without end).
      advancedEventSelectors: [
        {
          name: 'Management events, KMS included',
          fieldSelectors: [{ field: 'eventCategory', equalTo: ['Management'] }],
        },
        {
          name: 'Data events on the pii table',
          fieldSelectors: [
            { field: 'eventCategory', equalTo: ['Data'] },
            { field: 'resources.type', equalTo: ['AWS::DynamoDB::Table'] },
            { field: 'resources.ARN', equalTo: [pii.tableArn] },
          ],
        },
        {
          name: "Changes to the trail's own log files",
          fieldSelectors: [
            { field: 'eventCategory', equalTo: ['Data'] },
            { field: 'resources.type', equalTo: ['AWS::S3::Object'] },
            { field: 'resources.ARN', startsWith: [`${this.trailBucket.bucketArn}/`] },
            { field: 'readOnly', equalTo: ['false'] },
            { field: 'eventName', notEquals: ['PutObject'] },
          ],
        },
      ],
    });
    // CloudTrail checks the bucket policy and the key when the trail is made.
    this.trail.node.addDependency(this.trailBucket.policy!, props.dataKey);
  }

  /** Every read and write of `bucket`'s objects, as data events of the trail (who, when, which). */
  recordObjectEvents(name: string, bucket: s3.IBucket): void {
    const selectors = this.trail.advancedEventSelectors as cloudtrail.CfnTrail.AdvancedEventSelectorProperty[];
    selectors.push({
      name,
      fieldSelectors: [
        { field: 'eventCategory', equalTo: ['Data'] },
        { field: 'resources.type', equalTo: ['AWS::S3::Object'] },
        { field: 'resources.ARN', startsWith: [`${bucket.bucketArn}/`] },
      ],
    });
  }
}
