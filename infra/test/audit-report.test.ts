// The audit report as deployed: a function that reads CloudTrail, the audit log, the deletion
// confirmations and the dates of the PII held, and can never open PII; invoked directly, or fed
// the report jobs auditors ask for over the API, whose reports it keeps in an encrypted bucket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asList, keyId, mentions, onlyOne, resourcesOf, statementsOf, synthesized } from './helpers.ts';

const reportFn = (): [string, any] =>
  onlyOne('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.PII_KEY_ARN !== undefined);

function tableLogicalId(id: string): string {
  const found = Object.keys(resourcesOf('AWS::DynamoDB::GlobalTable')).filter((k) => k.startsWith(`Tables${id}`));
  assert.equal(found.length, 1, `one table '${id}'`);
  return found[0];
}

const reportsBucketId = (): string => {
  const found = Object.keys(resourcesOf('AWS::S3::Bucket')).filter((k) => k.startsWith('AuditReportReports'));
  assert.equal(found.length, 1, 'one reports bucket');
  return found[0];
};

const reportJobsQueueId = (which: 'Queue' | 'Dlq'): string => {
  const found = Object.keys(resourcesOf('AWS::SQS::Queue')).filter((k) => k.startsWith(`AuditReportReportJobs${which}`));
  assert.equal(found.length, 1, `one report jobs ${which}`);
  return found[0];
};

const bySid = (sid: string): any => {
  const found = statementsOf('AuditReportReporter').filter((s) => s.Sid === sid);
  assert.equal(found.length, 1, sid);
  return found[0];
};

test('audit-report: 15 minutes, one at a time, the tables, the PII key ARN and its reports in its environment, its own log group', () => {
  const [, fn] = reportFn();
  const p = fn.Properties;
  assert.equal(p.Timeout, 900);
  assert.equal(p.MemorySize, 256);
  assert.equal(p.Runtime, 'provided.al2023');
  assert.equal(p.Handler, 'bootstrap');
  assert.deepEqual(p.Environment.Variables, {
    AUDIT_TABLE: { Ref: tableLogicalId('audit') },
    CONTROL_TABLE: { Ref: tableLogicalId('control') },
    PII_TABLE: { Ref: tableLogicalId('pii') },
    PII_KEY_ARN: { 'Fn::GetAtt': [keyId('alias/fbm/pii'), 'Arn'] },
    REPORTS_BUCKET: { Ref: reportsBucketId() },
    REPORT_QUEUE_URL: { Ref: reportJobsQueueId('Queue') },
    REPORT_DLQ_URL: { Ref: reportJobsQueueId('Dlq') },
    REPORT_MAX_TRIES: '3',
    RUST_LOG: 'info',
  });
  const logGroup = resourcesOf('AWS::Logs::LogGroup')[p.LoggingConfig.LogGroup.Ref];
  assert.equal(logGroup.Properties.LogGroupName, '/fbm/audit-report');
  // One report at a time: CloudTrail's two lookups a second are the whole account's.
  assert.equal(p.ReservedConcurrentExecutions, 1);
});

test('audit-report runs on demand and from its report-jobs queue only: no schedule, no other trigger', () => {
  const [fnId] = reportFn();
  const references = (type: string) =>
    Object.entries(resourcesOf(type)).filter(([, r]) => JSON.stringify(r).includes(`"${fnId}"`));
  assert.equal(references('AWS::Events::Rule').length, 0);
  assert.equal(references('AWS::Lambda::Permission').length, 0);
  const sources = references('AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties);
  assert.equal(sources.length, 1);
  assert.deepEqual(sources[0].EventSourceArn, { 'Fn::GetAtt': [reportJobsQueueId('Queue'), 'Arn'] });
  assert.equal(sources[0].BatchSize, 1);
  assert.deepEqual(sources[0].FunctionResponseTypes, ['ReportBatchItemFailures']);
  // FIFO (one report at a time, no poller throttled), its DLQ too; six of the function's 15
  // minutes a try; the function gives up at its third try, ten receives the backstop.
  const queue = resourcesOf('AWS::SQS::Queue')[reportJobsQueueId('Queue')].Properties;
  assert.equal(queue.FifoQueue, true);
  assert.equal(resourcesOf('AWS::SQS::Queue')[reportJobsQueueId('Dlq')].Properties.FifoQueue, true);
  assert.equal(queue.VisibilityTimeout, 5400);
  assert.equal(queue.RedrivePolicy.maxReceiveCount, 10);
  const alarms = Object.entries(resourcesOf('AWS::CloudWatch::Alarm')).filter(([id]) => id.startsWith('AuditReport'));
  assert.deepEqual(alarms.map(([, a]) => a.Properties.MetricName), ['ApproximateNumberOfMessagesVisible']);
});

test('the reports bucket: private, TLS only, encrypted with the data key, reports expire after 30 days, every object access on the trail', () => {
  const bucket = resourcesOf('AWS::S3::Bucket')[reportsBucketId()].Properties;
  assert.deepEqual(bucket.PublicAccessBlockConfiguration, {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  });
  const sse = bucket.BucketEncryption.ServerSideEncryptionConfiguration[0];
  assert.equal(sse.ServerSideEncryptionByDefault.SSEAlgorithm, 'aws:kms');
  assert.deepEqual(sse.ServerSideEncryptionByDefault.KMSMasterKeyID, { 'Fn::GetAtt': [keyId('alias/fbm/data'), 'Arn'] });
  assert.deepEqual(
    bucket.LifecycleConfiguration.Rules.map((r: any) => [r.Prefix, r.ExpirationInDays]),
    [['reports/', 30]],
  );
  const policy = onlyOne('AWS::S3::BucketPolicy', (p) => p.Properties.Bucket.Ref === reportsBucketId())[1];
  const tlsOnly = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Effect === 'Deny');
  assert.deepEqual(tlsOnly.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
  const [, trail] = onlyOne('AWS::CloudTrail::Trail');
  const selector = trail.Properties.AdvancedEventSelectors.find((s: any) => /audit reports/.test(s.Name));
  assert.ok(selector, 'the reports bucket is on the trail');
  assert.deepEqual(
    selector.FieldSelectors.find((f: any) => f.Field === 'resources.ARN').StartsWith,
    [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [reportsBucketId(), 'Arn'] }, '/']] }],
  );
  assert.equal(selector.FieldSelectors.find((f: any) => f.Field === 'readOnly'), undefined, 'reads and writes');
});

test('audit-report: exactly the statements it needs, nothing else', () => {
  const statements = statementsOf('AuditReportReporter');
  assert.deepEqual(
    statements.map((s) => s.Sid),
    [
      'WriteLogs',
      'LookupTrailEvents',
      'ReadAuditEvents',
      'ReadDeletionConfirmations',
      'ListSealedItemDates',
      'ReportJobRecords',
      'KeepReports',
      'DataKeyViaDynamoDbSqsS3',
      'ConsumeReportJobs',
      'ConsumeReportJobsKeyViaSqs',
      'DeadLetterReportJobs',
    ],
  );
  for (const s of statements) {
    assert.equal(s.Effect, 'Allow', s.Sid);
    assert.ok(!asList(s.Action).some((a: string) => a.includes('*')), `${s.Sid}: no wildcard action`);
  }

  // LookupEvents has no resource-level permissions: * is the only resource it takes, and
  // nothing else in this role is granted on *.
  const lookup = bySid('LookupTrailEvents');
  assert.deepEqual(asList(lookup.Action), ['cloudtrail:LookupEvents']);
  assert.deepEqual(asList(lookup.Resource), ['*']);
  assert.deepEqual(
    statements.filter((s) => asList(s.Resource).includes('*')).map((s) => s.Sid),
    ['LookupTrailEvents'],
  );

  const audit = bySid('ReadAuditEvents');
  assert.deepEqual(asList(audit.Action), ['dynamodb:Query']);
  assert.deepEqual(asList(audit.Resource), [{ 'Fn::GetAtt': [tableLogicalId('audit'), 'Arn'] }]);
  assert.equal(audit.Condition, undefined);

  const control = bySid('ReadDeletionConfirmations');
  assert.deepEqual(asList(control.Action), ['dynamodb:GetItem']);
  assert.deepEqual(asList(control.Resource), [{ 'Fn::GetAtt': [tableLogicalId('control'), 'Arn'] }]);
  assert.deepEqual(control.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['deletion#*'] } });

  const pii = bySid('ListSealedItemDates');
  assert.deepEqual(asList(pii.Action), ['dynamodb:Scan']);
  assert.deepEqual(asList(pii.Resource), [{ 'Fn::GetAtt': [tableLogicalId('pii'), 'Arn'] }]);
  assert.deepEqual(pii.Condition, {
    'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['seller_order', 'kind', 'pii_purge_at', 'sealed_at'] },
    StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
  });

  const jobs = bySid('ReportJobRecords');
  assert.deepEqual(asList(jobs.Action), ['dynamodb:GetItem', 'dynamodb:PutItem']);
  assert.deepEqual(jobs.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['report#*'] } });
  const kept = bySid('KeepReports');
  assert.deepEqual(asList(kept.Action), ['s3:PutObject']);
  assert.deepEqual(asList(kept.Resource), [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [reportsBucketId(), 'Arn'] }, '/reports/*']] }]);

  const dataKey = bySid('DataKeyViaDynamoDbSqsS3');
  assert.deepEqual(asList(dataKey.Action), ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']);
  assert.deepEqual(asList(dataKey.Resource), [{ 'Fn::GetAtt': [keyId('alias/fbm/data'), 'Arn'] }]);
  assert.deepEqual(dataKey.Condition, {
    StringEquals: {
      'kms:ViaService': ['dynamodb.us-east-1.amazonaws.com', 'sqs.us-east-1.amazonaws.com', 's3.us-east-1.amazonaws.com'],
    },
  });

  const logs = bySid('WriteLogs');
  assert.deepEqual(asList(logs.Action), ['logs:CreateLogStream', 'logs:PutLogEvents']);
});

test('audit-report can never open PII: no grant on the PII key, in its role or in the key policy', () => {
  const [, fn] = reportFn();
  const piiKey = keyId('alias/fbm/pii');
  const statements = statementsOf('AuditReportReporter');
  for (const s of statements) {
    assert.ok(!mentions(s, piiKey), `${s.Sid} names the PII key`);
    assert.doesNotMatch(JSON.stringify(s), new RegExp(piiKey), `${s.Sid} names the PII key`);
  }
  // Every KMS action of the role (Decrypt, GenerateDataKey or any other) is on the data key
  // alone, through the services that hold its data (its queue's messages, the reports).
  const kmsGrants = statements.filter((s) => asList(s.Action).some((a: string) => a.startsWith('kms:')));
  assert.deepEqual(kmsGrants.map((s) => s.Sid), ['DataKeyViaDynamoDbSqsS3', 'ConsumeReportJobsKeyViaSqs']);
  for (const s of kmsGrants) {
    assert.deepEqual(asList(s.Resource), [{ 'Fn::GetAtt': [keyId('alias/fbm/data'), 'Arn'] }]);
    assert.ok(s.Condition.StringEquals['kms:ViaService'], `${s.Sid} through a service only`);
  }
  // Nor does the PII key's own policy name this function's role.
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const key = resourcesOf('AWS::KMS::Key')[piiKey];
  assert.doesNotMatch(JSON.stringify(key.Properties.KeyPolicy), new RegExp(roleId));
  // It names the key only to find its Decrypt events in CloudTrail.
  assert.deepEqual(fn.Properties.Environment.Variables.PII_KEY_ARN, { 'Fn::GetAtt': [piiKey, 'Arn'] });
});

test('audit-report writes no table but its own report jobs', () => {
  const writes = [
    'dynamodb:PutItem',
    'dynamodb:DeleteItem',
    'dynamodb:UpdateItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:PartiQLInsert',
    'dynamodb:PartiQLUpdate',
    'dynamodb:PartiQLDelete',
    'dynamodb:TransactWriteItems',
  ];
  const dynamo = statementsOf('AuditReportReporter')
    .flatMap((s) => asList(s.Action))
    .filter((a: string) => a.startsWith('dynamodb:'));
  assert.deepEqual(dynamo.sort(), ['dynamodb:GetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan']);
  const writers = statementsOf('AuditReportReporter').filter((s) => asList(s.Action).some((a: string) => writes.includes(a)));
  assert.deepEqual(writers.map((s) => s.Sid), ['ReportJobRecords']);
  assert.deepEqual(writers[0].Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['report#*'] } });
});

test('the function name is an output', () => {
  const [fnId] = reportFn();
  synthesized().template.hasOutput('AuditReportFunctionName', { Value: { Ref: fnId } });
});
