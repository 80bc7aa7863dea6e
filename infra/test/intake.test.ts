// Order intake as deployed: the two functions, the notifications and stock queues, the event
// source, the schedule and the alarms.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { asList, keyId, onlyOne, resourcesOf, statementsOf, synthesized } from './helpers.ts';

/** The notifications queue: the one the event source reads. */
const notificationsQueue = (): [string, any] => {
  const [, esm] = onlyOne('AWS::Lambda::EventSourceMapping', (r) =>
    JSON.stringify(r.Properties.FunctionName).includes('OrderEvents'),
  );
  const id = esm.Properties.EventSourceArn['Fn::GetAtt'][0];
  return [id, resourcesOf('AWS::SQS::Queue')[id]];
};

const orderEventsFunction = (): any => {
  const [, fn] = onlyOne('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.NOTIFICATIONS_QUEUE_URL);
  return fn;
};

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
        STOCK_QUEUE_URL: Match.anyValue(),
      }),
    },
  });
  for (const [id, logGroup] of Object.entries(resourcesOf('AWS::Logs::LogGroup'))) {
    assert.equal(logGroup.Properties.RetentionInDays, 365, id);
    assert.ok(logGroup.Properties.KmsKeyId, `${id} encrypted`);
  }
  for (const [id, role] of Object.entries(resourcesOf('AWS::IAM::Role'))) {
    assert.equal(role.Properties.ManagedPolicyArns, undefined, `no managed policies on ${id}`);
  }
});

test('order-events: SQS event source reporting batch item failures, bounded concurrency', () => {
  const [, esm] = onlyOne('AWS::Lambda::EventSourceMapping', (r) => JSON.stringify(r.Properties.FunctionName).includes('OrderEvents'));
  assert.deepEqual(esm.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
  assert.equal(esm.Properties.BatchSize, 10);
  assert.equal(esm.Properties.ScalingConfig.MaximumConcurrency, 4);
  const [queueId, queue] = notificationsQueue();
  const fn = orderEventsFunction();
  assert.equal(fn.Properties.Timeout, 60);
  assert.equal(queue.Properties.VisibilityTimeout, 6 * fn.Properties.Timeout, "six times the function's timeout");
  const env = fn.Properties.Environment.Variables;
  assert.equal(env.NOTIFICATION_MAX_FAILURES, '5');
  assert.equal(env.NOTIFICATION_CLAIM_SECS, '360', 'a claim lasts as long as a receive');
  assert.deepEqual(env.NOTIFICATIONS_QUEUE_URL, { Ref: queueId });
  // It may dead-letter with a reason, and defer on its own queue.
  const sends = statementsOf('OrderEvents').filter((s) => asList(s.Action).includes('sqs:SendMessage'));
  assert.equal(sends.length, 2, 'stock queue and notifications DLQ');
  assert.ok(
    statementsOf('OrderEvents').some(
      (s) => asList(s.Action).includes('sqs:ChangeMessageVisibility') && JSON.stringify(s.Resource).includes(queueId),
    ),
  );
});

test('every queue is KMS-encrypted and TLS-only; work queues have a DLQ', () => {
  const queues = resourcesOf('AWS::SQS::Queue');
  // notifications, listing notifications, stock, deletion requests, label jobs, report jobs,
  // their DLQs, and the schedules' DLQ.
  assert.equal(Object.keys(queues).length, 13);
  const policies = Object.values(resourcesOf('AWS::SQS::QueuePolicy'));
  for (const [id, q] of Object.entries(queues)) {
    assert.ok(q.Properties.KmsMasterKeyId, `${id} encrypted`);
    const policy = policies.find((p) => JSON.stringify(p.Properties.Queues).includes(`"${id}"`));
    const denyPlain = policy?.Properties.PolicyDocument.Statement.find(
      (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
    );
    assert.ok(denyPlain, `${id} TLS-only`);
  }
  const withDlq = Object.values(queues).filter((q) => q.Properties.RedrivePolicy);
  assert.deepEqual(withDlq.map((q) => q.Properties.RedrivePolicy.maxReceiveCount).sort((a, b) => a - b), [5, 5, 10, 10, 10, 100]);
  const [, notifications] = notificationsQueue();
  assert.equal(notifications.Properties.RedrivePolicy.maxReceiveCount, 100);
  assert.deepEqual(notifications.Properties.KmsMasterKeyId, { 'Fn::GetAtt': [keyId('alias/fbm/notifications'), 'Arn'] });
});

test('the schedule runs every 10 minutes with retries and an encrypted DLQ', () => {
  const [, rule] = onlyOne('AWS::Events::Rule', (r) => r.Properties.ScheduleExpression === 'rate(10 minutes)');
  assert.equal(rule.Properties.ScheduleExpression, 'rate(10 minutes)');
  const target = rule.Properties.Targets[0];
  assert.deepEqual(target.RetryPolicy, { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 2 });
  const dlqId = target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
  assert.ok(resourcesOf('AWS::SQS::Queue')[dlqId].Properties.KmsMasterKeyId);
});

test('alarms on errors, throttles, DLQ depth, backlog age and Amazon 429s go to an encrypted topic', () => {
  // Intake's own; the PII lifecycle's, the labels', stock's and the reports' alarms are tested
  // with them.
  const alarms = Object.entries(resourcesOf('AWS::CloudWatch::Alarm'))
    .filter(([id]) => !['PiiLifecycle', 'Labels', 'StockSync', 'AuditReport'].some((p) => id.startsWith(p)))
    .map(([, a]) => a);
  const metrics = alarms.map((a: any) => a.Properties.MetricName).sort();
  assert.deepEqual(metrics, [
    'ApproximateAgeOfOldestMessage',
    'ApproximateNumberOfMessagesVisible',
    'ApproximateNumberOfMessagesVisible',
    'ApproximateNumberOfMessagesVisible',
    'Errors',
    'Errors',
    'OrdersUnreadable',
    'SpApiThrottled',
    'Throttles',
    'Throttles',
  ]);
  for (const a of alarms) assert.equal(a.Properties.AlarmActions.length, 1);
  const [, topic] = onlyOne('AWS::SNS::Topic');
  assert.ok(topic.Properties.KmsMasterKeyId);
  // The 429 count comes from both intake functions' logs.
  const filters = Object.entries(resourcesOf('AWS::Logs::MetricFilter'))
    .filter(([id]) => !id.startsWith('PiiLifecycle') && !id.startsWith('Labels') && !id.startsWith('StockSync'))
    .map(([, f]) => f);
  const throttles = filters.filter((f: any) => f.Properties.MetricTransformations[0].MetricName === 'SpApiThrottled');
  assert.equal(throttles.length, 2);
  for (const f of throttles) assert.equal(f.Properties.FilterPattern, '{ $.fields.error = "throttled" }');
  // Unreadable orders are counted from order-sync's log.
  const unreadable = filters.filter((f: any) => f.Properties.MetricTransformations[0].MetricName === 'OrdersUnreadable');
  assert.equal(unreadable.length, 1);
  assert.equal(unreadable[0].Properties.FilterPattern, '{ $.fields.error_kind = "order_unreadable" }');
  assert.equal(filters.length, 3);
});

test('order-sync may delete in the control table only the record of unreadable orders', () => {
  const statements = Object.values(resourcesOf('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
  const deletes = statements.filter((s: any) => s.Sid === 'UnreadableOrdersOffRecord');
  assert.equal(deletes.length, 1);
  assert.deepEqual(deletes[0].Action, 'dynamodb:DeleteItem');
  assert.deepEqual(deletes[0].Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['unreadable#*'] } });
});

test('both intake functions take a batch together: records read in one request, claims marked done in one', () => {
  for (const fn of ['OrderSync', 'OrderEvents'] as const) {
    const statements = statementsOf(fn);
    const bySid = (sid: string) => {
      const found = statements.filter((s: any) => s.Sid === sid);
      assert.equal(found.length, 1, `${fn}: one ${sid}`);
      return asList(found[0].Action);
    };
    assert.deepEqual(bySid('UpsertOrders'), ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem']);
    assert.ok(bySid('ControlTable').includes('dynamodb:BatchWriteItem'), fn);
  }
});
