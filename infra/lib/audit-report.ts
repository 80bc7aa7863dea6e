// The auditor's report: audit-report reads the PII key's Decrypt events from CloudTrail's event
// history, the audit log, the deletion confirmations and the dates of the PII held. Two ways in:
// invoked directly with {"from", "to", "format"} (an operator, an export), answered with the
// report; or a report job from its queue (an auditor asked over the API), the report kept in the
// reports bucket for the API to hand out. It reads ids, names, dates and counts only: it has no
// permission on the PII key, and on the pii table it may list keys and dates, never a ciphertext.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { alarmsOn } from './alarms.ts';
import { WorkQueue } from './queues.ts';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import type { Tables } from './tables.ts';

/**
 * CloudTrail's LookupEvents answers 2 requests a second per account and region, 50 events a
 * page, and the function pages through every KMS Decrypt event of the range to find the PII
 * key's: a busy range takes minutes. Lambda's longest time limit.
 */
const REPORT_TIMEOUT = Duration.minutes(15);

/** How long a report asked over the API is kept (its job record expires with it). */
export const REPORT_KEPT_DAYS = 30;

/** Tries of one report job before audit-report gives it up to the DLQ with its reason. */
const REPORT_MAX_TRIES = 3;

/** A grant on the reports' objects names their prefix: their keys are made at run time. */
export function acknowledgeReportObjects(policy: iam.Policy, reports: s3.Bucket): void {
  const bucket = Stack.of(reports).getLogicalId(reports.node.defaultChild as s3.CfnBucket);
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/reports/*]`,
    reason:
      'The objects are the audit reports audit-report keeps, one per report id under reports/, their ' +
      'keys made at run time from the id; the grant names that prefix alone, with object actions only ' +
      '(no listing, no bucket action, no other prefix).',
  });
}

/** What the report lists of a sealed item: its key and its dates, never its ciphertext. */
export const REPORT_PII_ATTRIBUTES = ['seller_order', 'kind', 'pii_purge_at', 'sealed_at'];

export interface AuditReportProps {
  readonly manifestPath: string;
  readonly tables: Tables;
  /** The tables' SSE key: decrypt through DynamoDB only. */
  readonly dataKey: kms.IKey;
  /** Named in the environment only, to pick its Decrypt events out of CloudTrail; no grant. */
  readonly piiKey: kms.IKey;
  /** Where a report job given up is alarmed. */
  readonly topic: sns.ITopic;
}

export class AuditReport extends Construct {
  readonly reporter: SuiteFunction;
  /** Reports auditors asked for over the API, for audit-report. */
  readonly jobs: WorkQueue;
  /** Where those reports are kept: ids, dates and counts, no PII. */
  readonly reports: s3.Bucket;

  constructor(scope: Construct, id: string, props: AuditReportProps) {
    super(scope, id);
    const { tables } = props;
    const audit = tables.get('audit');
    const control = tables.get('control');
    const pii = tables.get('pii');

    // Private, TLS only, encrypted with the suite's data key; each report kept 30 days.
    this.reports = new s3.Bucket(this, 'Reports', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.dataKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'ExpireReports',
          prefix: 'reports/',
          expiration: Duration.days(REPORT_KEPT_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(this.reports).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "Every read and write of this bucket's objects is a data event of the suite's CloudTrail trail " +
        '(PiiLifecycle.recordObjectEvents), naming the principal of each download, presigned links ' +
        'included; server access logs would need another bucket and record less.',
    });

    // FIFO with one message group: one report at a time, in the order asked, and no poller
    // throttled against the reserved concurrency of 1 (a throttled message would wait out the
    // visibility timeout). A try may take the function's 15 minutes: the visibility timeout is
    // six of them. The function gives a job up with its reason at its third try (a failed try
    // comes back after 2 minutes); ten receives is the backstop.
    this.jobs = new WorkQueue(this, 'ReportJobs', {
      key: props.dataKey,
      visibilityTimeout: Duration.seconds(6 * REPORT_TIMEOUT.toSeconds()),
      maxReceiveCount: 10,
      fifo: true,
    });

    this.reporter = new SuiteFunction(this, 'Reporter', {
      manifestPath: props.manifestPath,
      binaryName: 'audit-report',
      description: 'Auditor report on demand: PII key opens joined with the audit log, purges, deletions, PII held',
      logKey: props.dataKey,
      timeout: REPORT_TIMEOUT,
      // One report at a time: CloudTrail's LookupEvents allows 2 requests a second for the
      // whole account, and two reports would share them (and both run long).
      reservedConcurrentExecutions: 1,
      environment: {
        AUDIT_TABLE: audit.tableName,
        CONTROL_TABLE: control.tableName,
        PII_TABLE: pii.tableName,
        PII_KEY_ARN: props.piiKey.keyArn,
        REPORTS_BUCKET: this.reports.bucketName,
        REPORT_QUEUE_URL: this.jobs.queue.queueUrl,
        REPORT_DLQ_URL: this.jobs.dlq.queueUrl,
        REPORT_MAX_TRIES: String(REPORT_MAX_TRIES),
      },
      statements: [
        new iam.PolicyStatement({
          // The PII key's Decrypt events (management events) from the 90-day event history.
          sid: 'LookupTrailEvents',
          actions: ['cloudtrail:LookupEvents'],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          // The audit log by day: read-only.
          sid: 'ReadAuditEvents',
          actions: ['dynamodb:Query'],
          resources: [audit.tableArn],
        }),
        new iam.PolicyStatement({
          // Deletion confirmations only (pk deletion#<request_id>): not the seller registry,
          // checkpoints or rate budgets.
          sid: 'ReadDeletionConfirmations',
          actions: ['dynamodb:GetItem'],
          resources: [control.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['deletion#*'] },
          },
        }),
        new iam.PolicyStatement({
          // Keys and dates only: the report never reads a ciphertext.
          sid: 'ListSealedItemDates',
          actions: ['dynamodb:Scan'],
          resources: [pii.tableArn],
          conditions: {
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': REPORT_PII_ATTRIBUTES },
            // Required, not IfExists: a Scan without Select and projection would return whole items.
            StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          },
        }),
        new iam.PolicyStatement({
          // Report jobs (pk report#<id>): read, moved along, never deleted (they expire).
          sid: 'ReportJobRecords',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [control.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['report#*'] },
          },
        }),
        new iam.PolicyStatement({
          // The reports it makes, under reports/ only: written, never read back or deleted.
          sid: 'KeepReports',
          actions: ['s3:PutObject'],
          resources: [this.reports.arnForObjects('reports/*')],
        }),
        // The tables, the queue and the bucket are encrypted with the data key: through those
        // services only (data keys for the DLQ's messages and the reports it writes).
        dataKeyThrough(this, props.dataKey, ['dynamodb', 'sqs', 's3'], ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']),
      ],
    });

    // One job a batch (FIFO: one message group, so one at a time).
    this.jobs.feed(this.reporter, { batchSize: 1 });
    this.reporter.policy.addStatements(
      new iam.PolicyStatement({
        sid: 'DeadLetterReportJobs',
        actions: ['sqs:SendMessage'],
        resources: [this.jobs.dlq.queueArn],
      }),
    );
    acknowledgeReportObjects(this.reporter.policy, this.reports);
    const alarm = alarmsOn(this, props.topic);
    alarm(
      'ReportJobsDeadLettered',
      this.jobs.dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'An audit report asked over the API was given up: its message names the report id and reason',
    );
    Validations.of(this.reporter.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudtrail:LookupEvents supports no resource-level permissions (the Service Authorization ' +
        'Reference lists no resource type for it), so it can only be granted on *. The statement grants ' +
        'LookupEvents alone, a read of the event history the report needs for the PII key opens.',
    });
  }
}
