// Who may open PII, read off the synthesized template: the PII key's own policy, the pii
// table's resource policy and write conditions, the trail's protection, the key grants'
// kms:ViaService, the tripwires, and the failure records of the scheduled functions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { NOTIFICATIONS_QUEUE_NAME, SPAPI_NOTIFICATIONS_ACCOUNT } from '../lib/fulfillment-stack.ts';
import { PiiKey } from '../lib/pii-key.ts';
import { TRAIL_NAME } from '../lib/pii-lifecycle.ts';
import { NO_COPY_ACTIONS } from '../lib/tables.ts';
import { DATA_KEY_ALARMED_EVENTS, PII_KEY_ALARMED_EVENTS, PII_TABLE_ALARMED_EVENTS } from '../lib/tripwires.ts';
import { NO_BUNDLING, asList, keyId, mentions, onlyOne, resourcesOf, synthesized } from './helpers.ts';

/** Whether an IAM action pattern (`kms:Re*`, `kms:*`, `*`) covers an action. */
function covers(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
  return re.test(action);
}

/** Every KMS operation that uses the key's material or hands it on. */
const KEY_USE = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:CreateGrant',
];

const ORDER_CONTEXT = {
  'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['seller_id', 'order_id'] },
  Null: { 'kms:EncryptionContext:seller_id': 'false', 'kms:EncryptionContext:order_id': 'false' },
};

const keyPolicyOf = (template: Record<string, any>, id: string): any[] =>
  template.Resources[id].Properties.KeyPolicy.Statement;

const allowing = (statements: any[], action: string): any[] =>
  statements.filter((s) => s.Effect === 'Allow' && asList(s.Action).some((p: string) => covers(p, action)));

/** The principals of a statement, as the template writes them. */
const principalsOf = (s: any): string[] => asList(s.Principal.AWS).map((p: any) => JSON.stringify(p));

const roleArnOf = (prefix: string): string => {
  const ids = Object.keys(resourcesOf('AWS::IAM::Role')).filter((id) => id.startsWith(prefix));
  assert.equal(ids.length, 1, `one role ${prefix}`);
  return JSON.stringify({ 'Fn::GetAtt': [ids[0], 'Arn'] });
};

const piiKeyPolicy = (): any[] => keyPolicyOf(synthesized().json, keyId('alias/fbm/pii'));

test('PII key: the account administers it and can do nothing else with it', () => {
  const statements = piiKeyPolicy();
  const byRoot = statements.filter((s) => s.Effect === 'Allow' && JSON.stringify(s.Principal).includes(':root'));
  assert.equal(byRoot.length, 1, 'one statement for the account');
  for (const pattern of asList(byRoot[0].Action) as string[]) {
    for (const use of KEY_USE) assert.ok(!covers(pattern, use), `administrators get ${pattern}, which covers ${use}`);
  }
  assert.ok(asList(byRoot[0].Action).includes('kms:PutKeyPolicy'), 'the key stays manageable');
  // No other statement delegates to IAM: CDK's default (root, kms:*) is gone.
  assert.ok(!statements.some((s) => asList(s.Action).includes('kms:*')));
});

test('PII key: only the staff API opens PII, only under an order\'s context; a test names every opener', () => {
  // The staff API is the one function that shows PII (ship-tos, label documents), each open
  // on the audit log first. Add any other opener here, through PiiKey.allowOpening.
  const OPENERS = [roleArnOf('ApiRole')];
  const opens = allowing(piiKeyPolicy(), 'kms:Decrypt');
  assert.equal(opens.length, 1);
  assert.deepEqual(opens.flatMap(principalsOf).sort(), OPENERS.sort());
  assert.deepEqual(opens[0].Condition, ORDER_CONTEXT);
  // No identity policy but the opener's own grants Decrypt, and that one only under an
  // order's context; nothing re-encrypts or grants.
  const piiKey = keyId('alias/fbm/pii');
  for (const [id, policy] of Object.entries(resourcesOf('AWS::IAM::Policy'))) {
    for (const s of policy.Properties.PolicyDocument.Statement) {
      if (!mentions(s, piiKey) && s.Resource !== '*') continue;
      for (const use of ['kms:Decrypt', 'kms:ReEncryptFrom', 'kms:CreateGrant']) {
        if (!asList(s.Action).some((p: string) => covers(p, use))) continue;
        assert.ok(use === 'kms:Decrypt' && id.startsWith('ApiPolicy'), `${id} ${s.Sid}: ${use}`);
        assert.deepEqual(s.Condition, ORDER_CONTEXT, `${id} ${s.Sid}`);
      }
    }
  }
});

test('PII key: data keys only for the intake roles, label-worker and the api (a corrected ship-to), only with the order as context', () => {
  const sealing = allowing(piiKeyPolicy(), 'kms:GenerateDataKey');
  assert.equal(sealing.length, 1);
  assert.deepEqual(asList(sealing[0].Action), ['kms:GenerateDataKey']);
  assert.deepEqual(
    principalsOf(sealing[0]).sort(),
    [roleArnOf('OrderSyncRole'), roleArnOf('OrderEventsRole'), roleArnOf('LabelsLabelWorkerRole'), roleArnOf('ApiRole')].sort(),
  );
  assert.deepEqual(sealing[0].Condition, ORDER_CONTEXT);
});

test('PII key: re-encryption and grants denied to everyone; any use without both ids denied', () => {
  const denies = piiKeyPolicy().filter((s) => s.Effect === 'Deny');
  const unconditional = denies.filter((s) => s.Principal.AWS === '*' && !s.Condition);
  for (const action of ['kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:CreateGrant']) {
    assert.ok(
      unconditional.some((s) => asList(s.Action).some((p: string) => covers(p, action))),
      `${action} denied to everyone`,
    );
    assert.deepEqual(allowing(piiKeyPolicy(), action), [], `${action} allowed to no one`);
  }
  for (const id of ['seller_id', 'order_id']) {
    const without = denies.filter(
      (s) => s.Principal.AWS === '*' && s.Condition?.Null?.[`kms:EncryptionContext:${id}`] === 'true',
    );
    assert.equal(without.length, 1, `use without ${id}`);
    for (const use of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt']) {
      assert.ok(asList(without[0].Action).some((p: string) => covers(p, use)), `${use} without ${id}`);
    }
  }
});

test('PiiKey.allowOpening names the role for Decrypt under the order context, and no one else', () => {
  const stack = new Stack(new App({ context: NO_BUNDLING }), 'Openers');
  const key = new PiiKey(stack, 'PiiKey', { alias: 'alias/test/pii' });
  const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  new iam.Role(stack, 'Bystander', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  key.allowOpening(reader);
  const json = Template.fromStack(stack).toJSON();
  const keyLogicalId = Object.keys(json.Resources).find((id) => json.Resources[id].Type === 'AWS::KMS::Key')!;
  const opens = allowing(keyPolicyOf(json, keyLogicalId), 'kms:Decrypt');
  assert.equal(opens.length, 1);
  const readerId = Object.keys(json.Resources).find((id) => id.startsWith('Reader'))!;
  assert.deepEqual(principalsOf(opens[0]), [JSON.stringify({ 'Fn::GetAtt': [readerId, 'Arn'] })]);
  assert.deepEqual(opens[0].Condition, ORDER_CONTEXT);
});

test('the pii table refuses every copy of itself: backups, exports, PITR, restores', () => {
  const tables = resourcesOf('AWS::DynamoDB::GlobalTable');
  const [piiId] = Object.keys(tables).filter((k) => k.startsWith('Tablespii'));
  for (const [id, table] of Object.entries(tables)) {
    const policy = table.Properties.Replicas[0].ResourcePolicy?.PolicyDocument;
    if (id !== piiId) {
      assert.equal(policy, undefined, `${id} has no resource policy`);
      continue;
    }
    // PITR off is left unsaid: setting it would be an UpdateContinuousBackups call, denied here
    // to CloudFormation too.
    assert.equal(table.Properties.Replicas[0].PointInTimeRecoverySpecification, undefined);
    const deny = policy.Statement.find((s: any) => s.Effect === 'Deny');
    assert.deepEqual(deny.Principal, { AWS: '*' });
    assert.equal(deny.Condition, undefined, 'denied to everyone, always');
    assert.deepEqual(asList(deny.Action).sort(), [...NO_COPY_ACTIONS].sort());
    for (const action of ['dynamodb:CreateBackup', 'dynamodb:ExportTableToPointInTime', 'dynamodb:UpdateContinuousBackups', 'dynamodb:RestoreTableFromBackup']) {
      assert.ok(asList(deny.Action).includes(action), action);
    }
  }
});

test("no writer of the pii table can ask for an item back; its listers see keys and dates only; one opener reads items by key", () => {
  const piiTable = Object.keys(resourcesOf('AWS::DynamoDB::GlobalTable')).find((k) => k.startsWith('Tablespii'))!;
  let writers = 0;
  let readers = 0;
  let itemReaders = 0;
  for (const [id, policy] of Object.entries(resourcesOf('AWS::IAM::Policy'))) {
    for (const s of policy.Properties.PolicyDocument.Statement) {
      if (!mentions(s, piiTable)) continue;
      const actions = asList(s.Action) as string[];
      if (actions.some((a) => /^dynamodb:(PutItem|DeleteItem|UpdateItem|BatchWriteItem)$/.test(a))) {
        writers += 1;
        assert.deepEqual(s.Condition, { StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } }, `${id} ${s.Sid}`);
      }
      if (actions.some((a) => /^dynamodb:(Scan|Query)$/.test(a))) {
        readers += 1;
        // Select must be given (not IfExists): a Scan without it and without a projection
        // passes an attribute condition and returns whole items.
        assert.ok(s.Condition.StringEquals['dynamodb:Select'], `${id} ${s.Sid}: Select required`);
        assert.equal(s.Condition.StringEqualsIfExists, undefined, `${id} ${s.Sid}`);
        assert.ok(!asList(s.Condition.StringEquals['dynamodb:Select']).includes('ALL_ATTRIBUTES'));
        const attributes = s.Condition['ForAllValues:StringEquals']['dynamodb:Attributes'] as string[];
        for (const sealed of ['edk', 'nonce', 'ct']) assert.ok(!attributes.includes(sealed), `${id} ${s.Sid}: ${sealed}`);
      }
      if (actions.some((a) => /^dynamodb:(GetItem|BatchGetItem|\*)$/.test(a))) {
        // Whole sealed items, one by key: only the one function that opens them.
        itemReaders += 1;
        assert.ok(id.startsWith('ApiPolicy'), `${id} ${s.Sid} reads items`);
        assert.deepEqual(actions, ['dynamodb:GetItem'], `${id} ${s.Sid}`);
      }
    }
  }
  assert.equal(itemReaders, 1, 'the staff API, which opens them');
  assert.equal(writers, 6, 'both intake functions, label-worker, shipment-tracker (dates only), the redactor and the api (a corrected ship-to)');
  assert.equal(readers, 2, 'the redactor and the audit report');
});

test('the trail: log files under compliance-mode Object Lock, only this trail writes, its own files watched', () => {
  const { json } = synthesized();
  const [bucketId, bucket] = onlyOne('AWS::S3::Bucket', (b) => b.Properties.ObjectLockEnabled);
  assert.deepEqual(bucket.Properties.ObjectLockConfiguration, {
    ObjectLockEnabled: 'Enabled',
    Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 400 } },
  });
  assert.equal(bucket.Properties.VersioningConfiguration.Status, 'Enabled');
  const [, trail] = onlyOne('AWS::CloudTrail::Trail');
  assert.equal(trail.Properties.TrailName, TRAIL_NAME);
  assert.deepEqual(trail.Properties.S3BucketName, { Ref: bucketId });
  const trailArn = JSON.stringify({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudtrail:us-east-1:123456789012:trail/${TRAIL_NAME}`]],
  });
  const [, bucketPolicy] = onlyOne('AWS::S3::BucketPolicy', (p) => p.Properties.Bucket.Ref === bucketId);
  const byCloudTrail = bucketPolicy.Properties.PolicyDocument.Statement.filter(
    (s: any) => s.Principal?.Service === 'cloudtrail.amazonaws.com',
  );
  assert.equal(byCloudTrail.length, 2, 'GetBucketAcl and PutObject');
  for (const s of byCloudTrail) assert.equal(JSON.stringify(s.Condition.StringEquals['aws:SourceArn']), trailArn, s.Sid);
  const keyStatement = keyPolicyOf(json, keyId('alias/fbm/data')).find(
    (s) => s.Principal?.Service === 'cloudtrail.amazonaws.com',
  );
  assert.equal(JSON.stringify(keyStatement.Condition.StringEquals['aws:SourceArn']), trailArn);
  const own = trail.Properties.AdvancedEventSelectors.find((s: any) =>
    s.FieldSelectors.some((f: any) => f.Field === 'resources.type' && f.Equals?.[0] === 'AWS::S3::Object'),
  );
  assert.ok(own, "the trail records changes to its own log files");
  const field = (name: string) => own.FieldSelectors.find((f: any) => f.Field === name);
  assert.deepEqual(field('resources.ARN').StartsWith, [
    { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/']] },
  ]);
  assert.deepEqual(field('readOnly').Equals, ['false']);
  assert.deepEqual(field('eventName').NotEquals, ['PutObject'], "CloudTrail's own deliveries left out");
});

test('every data-key and notifications-key grant goes through a named service', () => {
  const viaServiceKeys = [keyId('alias/fbm/data'), keyId('alias/fbm/notifications')];
  let checked = 0;
  for (const [id, policy] of Object.entries(resourcesOf('AWS::IAM::Policy'))) {
    for (const s of policy.Properties.PolicyDocument.Statement) {
      if (!viaServiceKeys.some((k) => mentions(s, k))) continue;
      checked += 1;
      assert.ok(s.Condition?.StringEquals?.['kms:ViaService'], `${id} ${s.Sid}: no kms:ViaService`);
    }
  }
  assert.ok(checked >= 6, `${checked} statements`);
  // The event sources' own grants are gone: each consumer's statement names SQS.
  for (const fn of ['OrderEvents', 'PiiLifecyclePiiRedactor']) {
    const policies = Object.entries(resourcesOf('AWS::IAM::Policy')).filter(([id]) => id.startsWith(fn));
    const consume = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Sid?.endsWith('KeyViaSqs'));
    assert.equal(consume.length, 1, fn);
    assert.match(JSON.stringify(consume[0].Condition.StringEquals['kms:ViaService']), /sqs\./);
  }
});

test("Amazon's notification account may use its key only through SQS, for the notifications queue", () => {
  const { json } = synthesized();
  const amazon = keyPolicyOf(json, keyId('alias/fbm/notifications')).filter((s) =>
    JSON.stringify(s.Principal).includes(SPAPI_NOTIFICATIONS_ACCOUNT),
  );
  assert.equal(amazon.length, 1);
  const conditions = amazon[0].Condition.StringEquals;
  assert.match(JSON.stringify(conditions['kms:ViaService']), /sqs\.us-east-1\.amazonaws\.com/);
  assert.match(JSON.stringify(conditions['kms:EncryptionContext:aws:sqs:arn']), new RegExp(`:${NOTIFICATIONS_QUEUE_NAME}"`));
  const [, queue] = onlyOne('AWS::SQS::Queue', (q) => q.Properties.QueueName === NOTIFICATIONS_QUEUE_NAME);
  assert.ok(queue.Properties.RedrivePolicy, 'the work queue, not its DLQ');
});

test('tripwires: the dangerous calls on either key and on the pii table policy alarm at once', () => {
  const [topicId] = onlyOne('AWS::SNS::Topic');
  const rules = Object.values(resourcesOf('AWS::Events::Rule')).filter((r) => r.Properties.EventPattern);
  const rule = (source: string, names: string[]) => {
    const found = rules.filter(
      (r) => r.Properties.EventPattern.source[0] === source && JSON.stringify(r.Properties.EventPattern.detail.eventName) === JSON.stringify(names),
    );
    assert.equal(found.length, 1, `${source} ${names}`);
    const r = found[0];
    assert.deepEqual(r.Properties.EventPattern['detail-type'], ['AWS API Call via CloudTrail']);
    assert.deepEqual(r.Properties.Targets.map((t: any) => t.Arn), [{ Ref: topicId }]);
    return r.Properties.EventPattern.detail;
  };
  assert.deepEqual(PII_KEY_ALARMED_EVENTS, ['ReEncrypt', 'CreateGrant', 'PutKeyPolicy', 'DisableKey', 'ScheduleKeyDeletion']);
  for (const [names, alias] of [
    [PII_KEY_ALARMED_EVENTS, 'alias/fbm/pii'],
    [DATA_KEY_ALARMED_EVENTS, 'alias/fbm/data'],
  ] as const) {
    // By ARN in resources, or by ARN, id or alias in the request (a refused call too).
    const key = keyId(alias);
    assert.deepEqual(rule('aws.kms', [...names]).$or, [
      { resources: { ARN: [{ 'Fn::GetAtt': [key, 'Arn'] }] } },
      { requestParameters: { keyId: [{ 'Fn::GetAtt': [key, 'Arn'] }, { Ref: key }, alias] } },
    ]);
  }
  const table = rule('aws.dynamodb', PII_TABLE_ALARMED_EVENTS);
  assert.match(JSON.stringify(table.requestParameters.resourceArn), /Tablespii/);
  // EventBridge may publish to the topic.
  const [, topicPolicy] = onlyOne('AWS::SNS::TopicPolicy');
  assert.ok(
    topicPolicy.Properties.PolicyDocument.Statement.some((s: any) => s.Principal?.Service === 'events.amazonaws.com'),
  );
});

test('a scheduled run that fails after retries leaves a record; audit-report runs one at a time', () => {
  const scheduleDlq = Object.keys(resourcesOf('AWS::SQS::Queue')).find((id) => id.startsWith('ScheduleDlq'))!;
  const configs = Object.values(resourcesOf('AWS::Lambda::EventInvokeConfig'));
  const functionsWithRecord = configs.map((c) => {
    assert.deepEqual(c.Properties.DestinationConfig.OnFailure.Destination, { 'Fn::GetAtt': [scheduleDlq, 'Arn'] });
    assert.equal(c.Properties.MaximumRetryAttempts, 2);
    return c.Properties.FunctionName.Ref as string;
  });
  const scheduled = ['OrderSync', 'PiiLifecyclePiiRedactor', 'LabelsShipmentTracker', 'StockSync'];
  assert.equal(functionsWithRecord.length, scheduled.length);
  for (const prefix of scheduled) {
    assert.ok(functionsWithRecord.some((f) => f.startsWith(prefix)), prefix);
    const statements = Object.entries(resourcesOf('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith(prefix))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    assert.ok(
      statements.some((s: any) => asList(s.Action).includes('sqs:SendMessage') && mentions(s, scheduleDlq)),
      `${prefix} may send its failure record`,
    );
  }
  const [, report] = onlyOne('AWS::Lambda::Function', (f) => f.Properties.Environment.Variables.PII_KEY_ARN);
  assert.equal(report.Properties.ReservedConcurrentExecutions, 1);
});

test('label-worker: its queue on a key of its own, seals but never opens PII, its own control records only, alarmed', () => {
  const [fnId, fn] = onlyOne('AWS::Lambda::Function', (f) => f.Properties.Environment.Variables.LABEL_JOBS_DLQ_URL);
  assert.equal(fn.Properties.Timeout, 120);
  const [, esm] = onlyOne('AWS::Lambda::EventSourceMapping', (r) => JSON.stringify(r.Properties.FunctionName).includes(fnId));
  assert.deepEqual(esm.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
  const queue = resourcesOf('AWS::SQS::Queue')[esm.Properties.EventSourceArn['Fn::GetAtt'][0]];
  assert.deepEqual(queue.Properties.KmsMasterKeyId, { 'Fn::GetAtt': [keyId('alias/fbm/label-jobs'), 'Arn'] });
  assert.ok(queue.Properties.VisibilityTimeout >= 6 * 120);
  const statements = Object.entries(resourcesOf('AWS::IAM::Policy'))
    .filter(([id]) => id.startsWith('LabelsLabelWorker'))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  const piiKey = keyId('alias/fbm/pii');
  const onPiiKey = statements.filter((s: any) => mentions(s, piiKey));
  assert.deepEqual(onPiiKey.map((s: any) => asList(s.Action)), [['kms:GenerateDataKey']]);
  const control = statements.find((s: any) => s.Sid === 'LabelRecordsAndRateBudget');
  assert.deepEqual(control.Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['label#*', 'label-settings', 'rate#*']);
  // Every control-table call the worker makes is granted: its ledger, settings and budget,
  // and the tracker's watch (put when a label is bought, deleted when it is voided).
  const watch = statements.find((s: any) => s.Sid === 'WatchParcels');
  assert.deepEqual(watch.Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['tracking']);
  assert.deepEqual(asList(watch.Action), ['dynamodb:PutItem', 'dynamodb:DeleteItem']);
  const onPii = statements.filter((s: any) => mentions(s, Object.keys(resourcesOf('AWS::DynamoDB::GlobalTable')).find((k) => k.startsWith('Tablespii'))!));
  assert.deepEqual(
    onPii.flatMap((s: any) => asList(s.Action)),
    ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
    'writes label documents and deletes voided ones, reads nothing',
  );
  const audit = Object.keys(resourcesOf('AWS::DynamoDB::GlobalTable')).find((k) => k.startsWith('Tablesaudit'))!;
  assert.deepEqual(
    statements.filter((s: any) => mentions(s, audit)).flatMap((s: any) => asList(s.Action)),
    ['dynamodb:PutItem'],
    'appends void events, nothing else',
  );
  const alarms = Object.entries(resourcesOf('AWS::CloudWatch::Alarm')).filter(([id]) => id.startsWith('Labels'));
  assert.equal(
    alarms.length,
    7,
    'DLQ depth, unsettled purchases, failed purchases, blocked labels, failed voids and confirmations; ' +
      'parcels not scanned, failed tracking',
  );
});

test('shipment-tracker: hourly, one run at a time, no PII key, pii dates only, its own control records', () => {
  const [fnId, fn] = onlyOne('AWS::Lambda::Function', (f) =>
    JSON.stringify(f.Properties.Description ?? '').includes('tracking of every bought label'),
  );
  assert.equal(fn.Properties.ReservedConcurrentExecutions, 1);
  const [, rule] = onlyOne('AWS::Events::Rule', (r) => JSON.stringify(r.Properties.Targets).includes(fnId));
  assert.equal(rule.Properties.ScheduleExpression, 'rate(1 hour)');
  const statements = Object.entries(resourcesOf('AWS::IAM::Policy'))
    .filter(([id]) => id.startsWith('LabelsShipmentTracker'))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  assert.ok(!statements.some((s: any) => mentions(s, keyId('alias/fbm/pii'))), 'no use of the PII key');
  const pii = Object.keys(resourcesOf('AWS::DynamoDB::GlobalTable')).find((k) => k.startsWith('Tablespii'))!;
  assert.deepEqual(
    statements.filter((s: any) => mentions(s, pii)).flatMap((s: any) => asList(s.Action)),
    ['dynamodb:UpdateItem'],
    'brings purge dates forward, reads and deletes nothing',
  );
  const control = statements.find((s: any) => s.Sid === 'WatchedParcelsAndRateBudget');
  assert.deepEqual(control.Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['tracking', 'rate#*']);
});
