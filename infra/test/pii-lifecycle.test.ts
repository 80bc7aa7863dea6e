// The PII lifecycle as deployed: the redactor's least privilege, its triggers, the self-check
// alarm, and the CloudTrail trail an auditor reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app.ts';
import { FulfillmentStack } from '../lib/fulfillment-stack.ts';
import { NO_BUNDLING, asList, onlyOne, resourcesOf, statementsOf, synthesized } from './helpers.ts';

const redactorFn = (): [string, any] =>
  onlyOne('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.DELETION_DLQ_URL !== undefined);

test('pii-redactor: never opens PII, audit writes are append-only, refresh tokens only deleted', () => {
  const statements = statementsOf('PiiLifecyclePiiRedactor');
  const actions = statements.flatMap((s) => asList(s.Action));
  for (const forbidden of ['kms:Decrypt', 'dynamodb:GetItem', 'secretsmanager:GetSecretValue']) {
    const grants = statements.filter((s) => asList(s.Action).includes(forbidden));
    if (forbidden === 'kms:Decrypt') {
      // The data key (tables, queues, secrets at rest); never the PII key.
      for (const g of grants) assert.doesNotMatch(JSON.stringify(g.Resource), /PiiKey/);
    } else if (forbidden === 'dynamodb:GetItem') {
      for (const g of grants) assert.doesNotMatch(JSON.stringify(g.Resource), /Tablespii/);
    } else {
      assert.equal(grants.length, 0);
    }
  }
  assert.ok(!actions.includes('kms:GenerateDataKey') || statements.every((s) => !JSON.stringify(s.Resource).includes('PiiKey')));
  const audit = statements.filter((s) => JSON.stringify(s.Resource).includes('Tablesaudit'));
  assert.deepEqual(audit.flatMap((s) => asList(s.Action)), ['dynamodb:PutItem']);
  const listing = statements.find((s) => s.Sid === 'ListSealedItemKeys');
  assert.deepEqual(listing.Condition['ForAllValues:StringEquals']['dynamodb:Attributes'], ['seller_order', 'kind', 'pii_purge_at']);
  const del = statements.find((s) => s.Sid === 'DeleteSellerRefreshTokens');
  assert.deepEqual(asList(del.Action), ['secretsmanager:DeleteSecret']);
});

test('pii-redactor runs hourly and takes deletion requests from an encrypted queue with a DLQ', () => {
  const [fnId, fn] = redactorFn();
  assert.equal(fn.Properties.Timeout, 900);
  assert.equal(fn.Properties.Environment.Variables.RETENTION_DAYS, '30');
  const [, rule] = onlyOne('AWS::Events::Rule', (r) => JSON.stringify(r.Properties.Targets).includes(fnId));
  assert.equal(rule.Properties.ScheduleExpression, 'rate(1 hour)');
  assert.ok(JSON.stringify(rule.Properties.Targets).includes(fnId));
  const [, esm] = onlyOne('AWS::Lambda::EventSourceMapping', (r) => JSON.stringify(r.Properties.FunctionName).includes(fnId));
  assert.deepEqual(esm.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
  const queueId = esm.Properties.EventSourceArn['Fn::GetAtt'][0];
  const queue = resourcesOf('AWS::SQS::Queue')[queueId];
  assert.ok(queue.Properties.KmsMasterKeyId);
  assert.equal(queue.Properties.RedrivePolicy.maxReceiveCount, 10);
  assert.ok(queue.Properties.VisibilityTimeout >= 6 * 900);
});

test('the self-check raises an alarm when any PII is past its date', () => {
  synthesized().template.hasResourceProperties('AWS::Logs::MetricFilter', {
    FilterPattern: '{ $.fields.pii_past_due > 0 }',
    MetricTransformations: [Match.objectLike({ MetricName: 'PiiPastDue', MetricValue: '$.fields.pii_past_due' })],
  });
  const [, alarm] = onlyOne('AWS::CloudWatch::Alarm', (a) => a.Properties.MetricName === 'PiiPastDue');
  assert.equal(alarm.Properties.Threshold, 1);
  assert.equal(alarm.Properties.AlarmActions.length, 1);
});

test('CloudTrail: validated, encrypted with the CMK, KMS management events and pii table data events, logs kept 400 days', () => {
  const [, trail] = onlyOne('AWS::CloudTrail::Trail');
  const p = trail.Properties;
  assert.equal(p.EnableLogFileValidation, true);
  assert.ok(p.KMSKeyId, 'log files encrypted with the data key');
  assert.equal(p.IsMultiRegionTrail, true);
  assert.equal(p.EventSelectors, undefined);
  const [mgmt, data] = p.AdvancedEventSelectors;
  assert.deepEqual(mgmt.FieldSelectors, [{ Field: 'eventCategory', Equals: ['Management'] }]);
  assert.ok(JSON.stringify(data.FieldSelectors).includes('AWS::DynamoDB::Table'));
  assert.ok(JSON.stringify(data.FieldSelectors).includes('Tablespii'));
  const bucketId = p.S3BucketName.Ref;
  const bucket = resourcesOf('AWS::S3::Bucket')[bucketId];
  assert.equal(bucket.Properties.VersioningConfiguration.Status, 'Enabled');
  const rule = bucket.Properties.LifecycleConfiguration.Rules[0];
  // Current versions expire after 400 days; the noncurrent ones that expiry leaves go the day
  // after (each version is held 400 days by Object Lock in any case).
  assert.ok(rule.ExpirationInDays >= 400);
  assert.equal(rule.NoncurrentVersionExpiration.NoncurrentDays, 1);
  const [, policy] = onlyOne('AWS::S3::BucketPolicy', (b) => b.Properties.Bucket.Ref === bucketId);
  const denyPlain = policy.Properties.PolicyDocument.Statement.find(
    (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
  );
  assert.ok(denyPlain, 'TLS only');
});

test('the stack refuses to keep audit logs under 400 days', () => {
  const { app } = buildApp({ context: NO_BUNDLING });
  assert.throws(
    () =>
      new FulfillmentStack(app, 'Short', {
        env: { account: '123456789012', region: 'us-east-1' },
        spapiEndpoint: 'https://sellingpartnerapi-na.amazon.com',
        auditLogDays: 90,
      }),
    /at least 400/,
  );
});
