// The security properties the README promises, read off the synthesized template.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { onlyOne, resourcesOf, synthesized } from './helpers.ts';

const keyId = (alias: string): string => {
  const [, a] = onlyOne('AWS::KMS::Alias', (r) => r.Properties.AliasName === alias);
  return a.Properties.TargetKeyId['Fn::GetAtt'][0];
};

function tableLogicalId(id: string): string {
  const found = Object.keys(resourcesOf('AWS::DynamoDB::GlobalTable')).filter((k) => k.startsWith(`Tables${id}`));
  assert.equal(found.length, 1, `one table '${id}'`);
  return found[0];
}

function orderSyncStatements(): any[] {
  const [, policy] = onlyOne('AWS::IAM::Policy');
  return policy.Properties.PolicyDocument.Statement;
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Whether a statement's resources name the logical id (GetAtt, Ref or inside Fn::Join). */
const mentions = (statement: any, logicalId: string): boolean =>
  JSON.stringify(statement.Resource).includes(`"${logicalId}"`);

test('both keys rotate', () => {
  const keys = resourcesOf('AWS::KMS::Key');
  assert.equal(Object.keys(keys).length, 2);
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

test('order-sync can seal PII but never open it', () => {
  const piiKey = keyId('alias/fbm/pii');
  const statements = orderSyncStatements();
  const onPiiKey = statements.filter((s) => mentions(s, piiKey));
  assert.equal(onPiiKey.length, 1, 'one statement on the PII key');
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
    assert.ok(!actions.some((a: string) => a === 'kms:*' || a === '*'), `no wildcard action in ${s.Sid}`);
    if (actions.some((a: string) => a.startsWith('kms:Decrypt'))) {
      assert.ok(!mentions(s, piiKey), 'no Decrypt on the PII key');
    }
  }
});

test('order-sync writes the pii table and never reads it', () => {
  const pii = tableLogicalId('pii');
  const reads = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:*'];
  const onPii = orderSyncStatements().filter((s) => mentions(s, pii));
  assert.equal(onPii.length, 1);
  assert.deepEqual(asList(onPii[0].Action).sort(), ['dynamodb:DeleteItem', 'dynamodb:PutItem']);
  for (const s of onPii) {
    assert.ok(!asList(s.Action).some((a: string) => reads.includes(a)));
  }
});

test('the data key is usable only through DynamoDB and Secrets Manager', () => {
  const dataKey = keyId('alias/fbm/data');
  const onDataKey = orderSyncStatements().filter((s) => mentions(s, dataKey));
  assert.equal(onDataKey.length, 1);
  assert.deepEqual(onDataKey[0].Condition.StringEquals['kms:ViaService'], [
    'dynamodb.us-east-1.amazonaws.com',
    'secretsmanager.us-east-1.amazonaws.com',
  ]);
});

test('no DynamoDB, KMS or Secrets Manager action on a * resource', () => {
  for (const s of orderSyncStatements()) {
    const services = new Set(asList(s.Action).map((a: string) => a.split(':')[0]));
    for (const r of asList(s.Resource)) {
      if (['dynamodb', 'kms', 'secretsmanager'].some((svc) => services.has(svc))) {
        assert.notEqual(r, '*', `${s.Sid} on *`);
      }
    }
  }
  const secretsStatement = orderSyncStatements().find((s) => asList(s.Action).includes('secretsmanager:GetSecretValue'));
  assert.deepEqual(asList(secretsStatement.Action), ['secretsmanager:GetSecretValue']);
  assert.match(JSON.stringify(secretsStatement.Resource), /secret:fbm\/sellers\/\*/);
});

test('secrets are referenced by ARN and no secret value is in the template', () => {
  const [secretId, secret] = onlyOne('AWS::SecretsManager::Secret');
  assert.equal(secret.Properties.Name, 'fbm/lwa-app');
  assert.deepEqual(JSON.parse(secret.Properties.SecretString), {}, 'an empty shape, filled by the operator');
  assert.ok(secret.Properties.KmsKeyId, 'encrypted with the data key');
  const [, fn] = onlyOne('AWS::Lambda::Function');
  const env = fn.Properties.Environment.Variables;
  assert.deepEqual(env.LWA_APP_SECRET_ID, { Ref: secretId });
  const text = JSON.stringify(synthesized().json);
  assert.doesNotMatch(text, /Atzr\||refresh_token"\s*:\s*"[^"]|client_secret"\s*:\s*"[^"]/);
  for (const name of Object.keys(env)) {
    assert.doesNotMatch(name, /SECRET$|TOKEN|PASSWORD/, `${name} must not carry a secret value`);
  }
});

test('order-sync: JSON logs kept a year, one instance at a time, current runtime', () => {
  synthesized().template.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'provided.al2023',
    Handler: 'bootstrap',
    Architectures: ['x86_64'],
    ReservedConcurrentExecutions: 1,
    Timeout: 300,
    MemorySize: 256,
    LoggingConfig: Match.objectLike({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO' }),
    Environment: {
      Variables: Match.objectLike({
        RETENTION_DAYS: '30',
        SELLER_SECRET_PREFIX: 'fbm/sellers/',
        SPAPI_ENDPOINT: 'https://sellingpartnerapi-na.amazon.com',
      }),
    },
  });
  const [, logGroup] = onlyOne('AWS::Logs::LogGroup');
  assert.equal(logGroup.Properties.RetentionInDays, 365);
  assert.ok(logGroup.Properties.KmsKeyId, 'log group encrypted');
  const [, role] = onlyOne('AWS::IAM::Role');
  assert.equal(role.Properties.ManagedPolicyArns, undefined, 'no managed policies on the role');
});

test('the schedule runs every 10 minutes with retries and an encrypted, TLS-only DLQ', () => {
  const [dlqId, dlq] = onlyOne('AWS::SQS::Queue');
  assert.ok(dlq.Properties.KmsMasterKeyId, 'DLQ is KMS-encrypted');
  const [, rule] = onlyOne('AWS::Events::Rule');
  assert.equal(rule.Properties.ScheduleExpression, 'rate(10 minutes)');
  const target = rule.Properties.Targets[0];
  assert.deepEqual(target.RetryPolicy, { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 2 });
  assert.deepEqual(target.DeadLetterConfig.Arn, { 'Fn::GetAtt': [dlqId, 'Arn'] });
  const [, policy] = onlyOne('AWS::SQS::QueuePolicy');
  const denyPlain = policy.Properties.PolicyDocument.Statement.find(
    (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
  );
  assert.ok(denyPlain, 'TLS-only queue policy');
});

test('alarms on function errors, throttles and DLQ depth go to an encrypted topic', () => {
  const alarms = Object.values(resourcesOf('AWS::CloudWatch::Alarm'));
  const metrics = alarms.map((a: any) => a.Properties.MetricName).sort();
  assert.deepEqual(metrics, ['ApproximateNumberOfMessagesVisible', 'Errors', 'Throttles']);
  for (const a of alarms) assert.equal(a.Properties.AlarmActions.length, 1);
  const [, topic] = onlyOne('AWS::SNS::Topic');
  assert.ok(topic.Properties.KmsMasterKeyId);
});
