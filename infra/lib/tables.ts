// The suite's DynamoDB tables, built from ../tables.json: the one definition the local stack
// (tests/local-stack) provisions from too. Nothing about a table is declared here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N' | 'B';
}

export interface IndexDefinition {
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute | null;
}

export interface TableDefinition {
  id: string;
  envVar: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute | null;
  globalSecondaryIndexes: IndexDefinition[];
  timeToLiveAttribute: string | null;
  pointInTimeRecovery: boolean;
}

/**
 * For a writer of sealed items: it may not ask for the item back (`ReturnValues` other than
 * NONE), so writing is never a way to read. IAM has no key for
 * `ReturnValuesOnConditionCheckFailure`; what that could return is ciphertext under the PII
 * key, which no writer can open.
 */
export const NO_RETURN_VALUES = { StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } };

/**
 * Every way DynamoDB copies a table's items out of it: backups (on demand and by AWS Backup),
 * exports, point-in-time recovery and restores, and streaming every change to Kinesis.
 */
export const NO_COPY_ACTIONS = [
  'dynamodb:CreateBackup',
  'dynamodb:StartAwsBackupJob',
  'dynamodb:ExportTableToPointInTime',
  'dynamodb:UpdateContinuousBackups',
  'dynamodb:RestoreTableFromBackup',
  'dynamodb:RestoreTableToPointInTime',
  'dynamodb:EnableKinesisStreamingDestination',
];

export const TABLES_JSON = join(import.meta.dirname, '..', 'tables.json');

export function tableDefinitions(): TableDefinition[] {
  return (JSON.parse(readFileSync(TABLES_JSON, 'utf8')) as { tables: TableDefinition[] }).tables;
}

const attributeType = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
} as const;

function attribute(a: KeyAttribute): dynamodb.Attribute {
  return { name: a.name, type: attributeType[a.type] };
}

export class Tables extends Construct {
  readonly byId: Record<string, { table: dynamodb.TableV2; definition: TableDefinition }> = {};

  constructor(scope: Construct, id: string, props: { key: kms.IKey }) {
    super(scope, id);
    for (const def of tableDefinitions()) {
      const table = new dynamodb.TableV2(this, def.id, {
        partitionKey: attribute(def.partitionKey),
        sortKey: def.sortKey ? attribute(def.sortKey) : undefined,
        billing: dynamodb.Billing.onDemand(),
        encryption: dynamodb.TableEncryptionV2.customerManagedKey(props.key),
        // The pii table has none on purpose: PII must never outlive its purge in a backup. Off
        // is left unsaid rather than set: setting it is an UpdateContinuousBackups call, which
        // the pii table's own policy denies to everyone, CloudFormation included.
        pointInTimeRecoverySpecification: def.pointInTimeRecovery ? { pointInTimeRecoveryEnabled: true } : undefined,
        timeToLiveAttribute: def.timeToLiveAttribute ?? undefined,
        globalSecondaryIndexes: def.globalSecondaryIndexes.map((gsi) => ({
          indexName: gsi.name,
          partitionKey: attribute(gsi.partitionKey),
          sortKey: gsi.sortKey ? attribute(gsi.sortKey) : undefined,
        })),
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      this.byId[def.id] = { table, definition: def };
    }
  }

  get(id: string): dynamodb.TableV2 {
    const entry = this.byId[id];
    if (!entry) throw new Error(`tables.json has no table '${id}'`);
    return entry.table;
  }

  /**
   * No copy of the table, ever, by anyone: its resource policy denies on-demand and AWS
   * Backup backups, exports, turning point-in-time recovery on, and restores. A change to that
   * policy alarms (tripwires.ts).
   */
  forbidCopies(id: string): void {
    this.get(id).addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NoCopies',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: NO_COPY_ACTIONS,
        // The table the policy is attached to (its own ARN would be a circular reference).
        resources: ['*'],
      }),
    );
  }

  /** The table's index ARNs, named one by one (no `index/*` wildcard in any policy). */
  indexArns(id: string): string[] {
    const entry = this.byId[id];
    return entry.definition.globalSecondaryIndexes.map((g) => `${entry.table.tableArn}/index/${g.name}`);
  }
}
