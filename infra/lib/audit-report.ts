// The auditor's report, on demand: audit-report reads the PII key's Decrypt events from
// CloudTrail's event history, the audit log, the deletion confirmations and the dates of the PII
// held, and answers with the report. It is invoked directly (no schedule, no queue) with
// {"from", "to", "format"}. It reads ids, names, dates and counts only: it has no permission on
// the PII key, and on the pii table it may list keys and dates, never a ciphertext.
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import type { Tables } from './tables.ts';

/**
 * CloudTrail's LookupEvents answers 2 requests a second per account and region, 50 events a
 * page, and the function pages through every KMS Decrypt event of the range to find the PII
 * key's: a busy range takes minutes. Lambda's longest time limit.
 */
const REPORT_TIMEOUT = Duration.minutes(15);

/** What the report lists of a sealed item: its key and its dates, never its ciphertext. */
export const REPORT_PII_ATTRIBUTES = ['seller_order', 'kind', 'pii_purge_at', 'sealed_at'];

export interface AuditReportProps {
  readonly manifestPath: string;
  readonly tables: Tables;
  /** The tables' SSE key: decrypt through DynamoDB only. */
  readonly dataKey: kms.IKey;
  /** Named in the environment only, to pick its Decrypt events out of CloudTrail; no grant. */
  readonly piiKey: kms.IKey;
}

export class AuditReport extends Construct {
  readonly reporter: SuiteFunction;

  constructor(scope: Construct, id: string, props: AuditReportProps) {
    super(scope, id);
    const { tables } = props;
    const audit = tables.get('audit');
    const control = tables.get('control');
    const pii = tables.get('pii');

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
        // The tables are encrypted with the data key: reading them needs it, through DynamoDB only.
        dataKeyThrough(this, props.dataKey, ['dynamodb'], ['kms:Decrypt', 'kms:DescribeKey']),
      ],
    });
    Validations.of(this.reporter.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudtrail:LookupEvents supports no resource-level permissions (the Service Authorization ' +
        'Reference lists no resource type for it), so it can only be granted on *. The statement grants ' +
        'LookupEvents alone, a read of the event history the report needs for the PII key opens.',
    });
  }
}
