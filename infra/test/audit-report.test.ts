// The audit report as deployed: an on-demand function that reads CloudTrail, the audit log, the
// deletion confirmations and the dates of the PII held, and can never open PII.
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

const bySid = (sid: string): any => {
  const found = statementsOf('AuditReportReporter').filter((s) => s.Sid === sid);
  assert.equal(found.length, 1, sid);
  return found[0];
};

test('audit-report: 15 minutes, one at a time, the tables and the PII key ARN in its environment, its own log group', () => {
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
    RUST_LOG: 'info',
  });
  const logGroup = resourcesOf('AWS::Logs::LogGroup')[p.LoggingConfig.LogGroup.Ref];
  assert.equal(logGroup.Properties.LogGroupName, '/fbm/audit-report');
  // One report at a time: CloudTrail's two lookups a second are the whole account's.
  assert.equal(p.ReservedConcurrentExecutions, 1);
});

test('audit-report is invoked on demand only: no schedule, no queue, no other trigger', () => {
  const [fnId] = reportFn();
  const references = (type: string) =>
    Object.entries(resourcesOf(type)).filter(([, r]) => JSON.stringify(r).includes(`"${fnId}"`));
  assert.equal(references('AWS::Events::Rule').length, 0);
  assert.equal(references('AWS::Lambda::EventSourceMapping').length, 0);
  assert.equal(references('AWS::Lambda::Permission').length, 0);
});

test('audit-report: exactly the statements it needs, nothing else', () => {
  const statements = statementsOf('AuditReportReporter');
  assert.deepEqual(
    statements.map((s) => s.Sid),
    ['WriteLogs', 'LookupTrailEvents', 'ReadAuditEvents', 'ReadDeletionConfirmations', 'ListSealedItemDates', 'DataKeyViaDynamoDb'],
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

  const dataKey = bySid('DataKeyViaDynamoDb');
  assert.deepEqual(asList(dataKey.Action), ['kms:Decrypt', 'kms:DescribeKey']);
  assert.deepEqual(asList(dataKey.Resource), [{ 'Fn::GetAtt': [keyId('alias/fbm/data'), 'Arn'] }]);
  assert.deepEqual(dataKey.Condition, { StringEquals: { 'kms:ViaService': ['dynamodb.us-east-1.amazonaws.com'] } });

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
  // Every KMS action of the role (Decrypt, GenerateDataKey or any other) is on the data key alone.
  const kmsGrants = statements.filter((s) => asList(s.Action).some((a: string) => a.startsWith('kms:')));
  assert.equal(kmsGrants.length, 1, 'one KMS statement');
  assert.deepEqual(asList(kmsGrants[0].Resource), [{ 'Fn::GetAtt': [keyId('alias/fbm/data'), 'Arn'] }]);
  assert.ok(!statements.flatMap((s) => asList(s.Action)).some((a: string) => a.startsWith('kms:GenerateDataKey')));
  // Nor does the PII key's own policy name this function's role.
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const key = resourcesOf('AWS::KMS::Key')[piiKey];
  assert.doesNotMatch(JSON.stringify(key.Properties.KeyPolicy), new RegExp(roleId));
  // It names the key only to find its Decrypt events in CloudTrail.
  assert.deepEqual(fn.Properties.Environment.Variables.PII_KEY_ARN, { 'Fn::GetAtt': [piiKey, 'Arn'] });
});

test('audit-report writes nothing to any table', () => {
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
  assert.deepEqual(dynamo.sort(), ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan']);
  for (const w of writes) assert.ok(!dynamo.includes(w), w);
});

test('the function name is an output', () => {
  const [fnId] = reportFn();
  synthesized().template.hasOutput('AuditReportFunctionName', { Value: { Ref: fnId } });
});
