// The security properties the README promises, read off the synthesized template.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asList, keyId, mentions, onlyOne, resourcesOf, statementsOf, synthesized } from './helpers.ts';

function tableLogicalId(id: string): string {
  const found = Object.keys(resourcesOf('AWS::DynamoDB::GlobalTable')).filter((k) => k.startsWith(`Tables${id}`));
  assert.equal(found.length, 1, `one table '${id}'`);
  return found[0];
}

const INTAKE = ['OrderSync', 'OrderEvents'] as const;

test('every key (data, PII, notifications, label jobs) rotates and outlives the stack', () => {
  const keys = resourcesOf('AWS::KMS::Key');
  assert.equal(Object.keys(keys).length, 4);
  for (const [id, key] of Object.entries(keys)) {
    assert.equal(key.Properties.EnableKeyRotation, true, id);
    assert.equal(key.DeletionPolicy, 'Retain', id);
  }
});

test('every table is encrypted with the data key, on demand, protected from deletion', () => {
  const dataKey = keyId('alias/fbm/data');
  const tables = resourcesOf('AWS::DynamoDB::GlobalTable');
  assert.equal(Object.keys(tables).length, 5);
  for (const [id, t] of Object.entries(tables)) {
    assert.deepEqual(t.Properties.SSESpecification, { SSEEnabled: true, SSEType: 'KMS' }, id);
    const replica = t.Properties.Replicas[0];
    assert.deepEqual(replica.SSESpecification.KMSMasterKeyId, { 'Fn::GetAtt': [dataKey, 'Arn'] }, id);
    assert.equal(replica.DeletionProtectionEnabled, true, id);
    assert.equal(t.Properties.BillingMode, 'PAY_PER_REQUEST', id);
    assert.equal(t.DeletionPolicy, 'Retain', id);
  }
});

test('the pii table has no backup and expires items at pii_purge_at; the orders table has PITR', () => {
  const tables = resourcesOf('AWS::DynamoDB::GlobalTable');
  const pii = tables[tableLogicalId('pii')];
  assert.equal(pii.Properties.Replicas[0].PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled ?? false, false);
  assert.deepEqual(pii.Properties.TimeToLiveSpecification, { AttributeName: 'pii_purge_at', Enabled: true });
  const orders = tables[tableLogicalId('orders')];
  assert.equal(orders.Properties.Replicas[0].PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
  // No backup plan of any kind exists that could copy the pii table.
  assert.equal(Object.keys(resourcesOf('AWS::Backup::BackupPlan')).length, 0);
});

test('both intake functions can seal PII but never open it', () => {
  const piiKey = keyId('alias/fbm/pii');
  for (const fn of INTAKE) {
    const statements = statementsOf(fn);
    const onPiiKey = statements.filter((s) => mentions(s, piiKey));
    assert.equal(onPiiKey.length, 1, `${fn}: one statement on the PII key`);
    assert.deepEqual(asList(onPiiKey[0].Action), ['kms:GenerateDataKey']);
    assert.deepEqual(onPiiKey[0].Condition['ForAllValues:StringEquals'], {
      'kms:EncryptionContextKeys': ['seller_id', 'order_id'],
    });
    assert.deepEqual(onPiiKey[0].Condition.Null, {
      'kms:EncryptionContext:seller_id': 'false',
      'kms:EncryptionContext:order_id': 'false',
    });
    for (const s of statements) {
      const actions = asList(s.Action);
      assert.ok(!actions.some((a: string) => a === 'kms:*' || a === '*'), `${fn}: no wildcard action in ${s.Sid}`);
      if (actions.some((a: string) => a.startsWith('kms:Decrypt'))) {
        assert.ok(!mentions(s, piiKey), `${fn}: no Decrypt on the PII key`);
      }
    }
  }
});

test('intake appends to the audit table and can change nothing in it', () => {
  const audit = tableLogicalId('audit');
  for (const fn of INTAKE) {
    const onAudit = statementsOf(fn).filter((s) => mentions(s, audit));
    assert.equal(onAudit.length, 1, fn);
    assert.deepEqual(asList(onAudit[0].Action), ['dynamodb:PutItem'], fn);
  }
});

test('intake writes the pii table and never reads it', () => {
  const pii = tableLogicalId('pii');
  const reads = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:*'];
  for (const fn of INTAKE) {
    const onPii = statementsOf(fn).filter((s) => mentions(s, pii));
    assert.equal(onPii.length, 1, fn);
    assert.deepEqual(asList(onPii[0].Action).sort(), ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    assert.ok(!asList(onPii[0].Action).some((a: string) => reads.includes(a)), fn);
  }
});

test('the data key is usable only through DynamoDB, Secrets Manager and SQS', () => {
  const dataKey = keyId('alias/fbm/data');
  for (const fn of INTAKE) {
    const onDataKey = statementsOf(fn).filter((s) => mentions(s, dataKey));
    assert.equal(onDataKey.length, 1, fn);
    assert.deepEqual(onDataKey[0].Condition.StringEquals['kms:ViaService'], [
      'dynamodb.us-east-1.amazonaws.com',
      'secretsmanager.us-east-1.amazonaws.com',
      'sqs.us-east-1.amazonaws.com',
    ]);
  }
});

test('no DynamoDB, KMS, Secrets Manager or SQS action on a * resource', () => {
  for (const fn of INTAKE) {
    for (const s of statementsOf(fn)) {
      const services = new Set(asList(s.Action).map((a: string) => a.split(':')[0]));
      for (const r of asList(s.Resource)) {
        if (['dynamodb', 'kms', 'secretsmanager', 'sqs'].some((svc) => services.has(svc))) {
          assert.notEqual(r, '*', `${fn}: ${s.Sid} on *`);
        }
      }
    }
    const secrets = statementsOf(fn).find((s) => asList(s.Action).includes('secretsmanager:GetSecretValue'));
    assert.deepEqual(asList(secrets.Action), ['secretsmanager:GetSecretValue']);
    assert.match(JSON.stringify(secrets.Resource), /secret:fbm\/sellers\/\*/);
  }
});

test('secrets are referenced by ARN and no secret value is in the template', () => {
  const [secretId, secret] = onlyOne('AWS::SecretsManager::Secret');
  assert.equal(secret.Properties.Name, 'fbm/lwa-app');
  assert.deepEqual(JSON.parse(secret.Properties.SecretString), {}, 'an empty shape, filled by the operator');
  assert.ok(secret.Properties.KmsKeyId, 'encrypted with the data key');
  const functions = Object.values(resourcesOf('AWS::Lambda::Function'));
  assert.equal(functions.length, 8);
  for (const fn of functions) {
    const env = fn.Properties.Environment.Variables;
    // The intake functions name the app secret by ARN; the redactor and the report need none.
    if (env.SPAPI_ENDPOINT) assert.deepEqual(env.LWA_APP_SECRET_ID, { Ref: secretId });
    for (const name of Object.keys(env)) {
      assert.doesNotMatch(name, /SECRET$|TOKEN|PASSWORD/, `${name} must not carry a secret value`);
    }
  }
  const text = JSON.stringify(synthesized().json);
  assert.doesNotMatch(text, /Atzr\||refresh_token"\s*:\s*"[^"]|client_secret"\s*:\s*"[^"]/);
});

test("Amazon's notification account is trusted on the two notification queues and their own key, nowhere else", () => {
  const amazon = '437568002678';
  const notificationsKey = keyId('alias/fbm/notifications');
  const trusted = Object.entries(synthesized().json.Resources as Record<string, any>)
    .filter(([, r]) => JSON.stringify(r).includes(amazon))
    .map(([id, r]) => [id, r.Type]);
  assert.deepEqual(trusted.map(([, t]) => t).sort(), ['AWS::KMS::Key', 'AWS::SQS::QueuePolicy', 'AWS::SQS::QueuePolicy']);
  assert.ok(trusted.some(([id]) => id === notificationsKey));
  const key = resourcesOf('AWS::KMS::Key')[notificationsKey];
  const grant = key.Properties.KeyPolicy.Statement.find((s: any) => JSON.stringify(s.Principal).includes(amazon));
  assert.deepEqual(asList(grant.Action).sort(), ['kms:Decrypt', 'kms:GenerateDataKey']);
  const queues = Object.values(resourcesOf('AWS::SQS::QueuePolicy')).filter((p: any) => JSON.stringify(p).includes(amazon));
  for (const policy of queues as any[]) {
    assert.match(JSON.stringify(policy.Properties.Queues), /^\[\{"Ref":"(Notifications|ListingNotifications)Queue/);
    const send = policy.Properties.PolicyDocument.Statement.find((s: any) => JSON.stringify(s.Principal).includes(amazon));
    assert.deepEqual(asList(send.Action).sort(), ['sqs:GetQueueAttributes', 'sqs:SendMessage']);
    assert.equal(send.Effect, 'Allow');
  }
});
