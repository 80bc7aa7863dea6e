// Stock as deployed: stock-sync's least privilege (no PII key, no orders or pii table), the
// stock queue feeding it with a DLQ, the daily reconciliation, the stock alarms.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asList, onlyOne, resourcesOf, statementsOf } from './helpers.ts';

const stockFn = (): [string, any] =>
  onlyOne('AWS::Lambda::Function', (r) => r.Properties.Environment?.Variables?.STOCK_DLQ_URL !== undefined);

test('stock-sync touches no PII: no PII key, no orders or pii table; the stock table and its index only', () => {
  const statements = statementsOf('StockSync');
  const text = JSON.stringify(statements);
  assert.doesNotMatch(text, /PiiKey/);
  assert.doesNotMatch(text, /Tablesorders|Tablespii|Tablesaudit/);
  const [, fn] = stockFn();
  assert.equal(fn.Properties.Environment.Variables.PII_KEY_ID, undefined);
  const ledger = statements.find((s) => s.Sid === 'StockLedger');
  assert.ok(!asList(ledger.Action).includes('dynamodb:DeleteItem'), 'the ledger is append-only');
  assert.ok(!asList(ledger.Action).includes('dynamodb:Scan'));
  const control = statements.find((s) => s.Sid === 'SellerRegistryAndRateBudget');
  assert.deepEqual(control.Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['seller', 'rate#*']);
});

test('stock-sync takes the stock queue with partial batch failures; the queue is encrypted with a DLQ', () => {
  const [fnId] = stockFn();
  const sources = Object.values(resourcesOf('AWS::Lambda::EventSourceMapping')).filter((r: any) =>
    JSON.stringify(r.Properties.FunctionName).includes(fnId),
  ) as any[];
  const queueIds = sources.map((esm) => esm.Properties.EventSourceArn['Fn::GetAtt'][0]).sort();
  assert.equal(queueIds.length, 2);
  assert.match(queueIds[0], /^ListingNotificationsQueue/);
  assert.match(queueIds[1], /^StockQueue/);
  for (const esm of sources) assert.deepEqual(esm.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
  for (const id of queueIds) {
    const queue = resourcesOf('AWS::SQS::Queue')[id];
    assert.ok(queue.Properties.KmsMasterKeyId);
    assert.equal(queue.Properties.RedrivePolicy.maxReceiveCount, 5);
  }
  // Feed checks go back to its own queue; the only deletes are of finished feeds' records.
  const statements = statementsOf('StockSync');
  const checks = statements.find((s) => s.Sid === 'FeedChecks');
  assert.deepEqual(checks.Resource, { 'Fn::GetAtt': [queueIds[1], 'Arn'] });
  const deletes = statements.filter((s) => asList(s.Action).includes('dynamodb:DeleteItem'));
  assert.equal(deletes.length, 1);
  assert.deepEqual(deletes[0].Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['feed#*']);
});

test('the reconciliation runs daily and the stock alerts are alarmed', () => {
  const [fnId] = stockFn();
  const [, rule] = onlyOne('AWS::Events::Rule', (r) => JSON.stringify(r.Properties.Targets).includes(fnId));
  assert.equal(rule.Properties.ScheduleExpression, 'cron(30 4 * * ? *)');
  assert.ok(rule.Properties.Targets[0].DeadLetterConfig);
  const filters = Object.values(resourcesOf('AWS::Logs::MetricFilter')).map((f: any) => f.Properties.FilterPattern);
  for (const kind of ['push_rejected', 'low_stock', 'unknown_sku', 'short_pick']) {
    assert.ok(filters.some((f: string) => f.includes(`$.fields.alert = "${kind}"`)), kind);
  }
  for (const kind of ['feed_failed', 'feed_unsettled']) {
    assert.ok(filters.some((f: string) => f.includes(`$.fields.alert = "${kind}"`)), kind);
  }
  const depth = Object.values(resourcesOf('AWS::CloudWatch::Alarm')).filter(
    (a: any) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Properties.Dimensions).includes('ListingNotificationsDlq'),
  );
  assert.equal(depth.length, 1, 'the listing notices DLQ depth is alarmed');
  for (const name of ['StockPushRejected', 'LowStock', 'StockAttention']) {
    onlyOne('AWS::CloudWatch::Alarm', (a) => a.Properties.MetricName === name);
  }
});

test('label-worker announces picks and shipment-tracker shipments on the stock queue, nothing else of it', () => {
  const [fnId] = stockFn();
  const [, esm] = onlyOne(
    'AWS::Lambda::EventSourceMapping',
    (r) => JSON.stringify(r.Properties.FunctionName).includes(fnId) && /"StockQueue/.test(JSON.stringify(r.Properties.EventSourceArn)),
  );
  const stockQueue = esm.Properties.EventSourceArn['Fn::GetAtt'][0];
  for (const [prefix, sid, url] of [
    ['LabelsLabelWorker', 'AnnouncePicks', 'STOCK_QUEUE_URL'],
    ['LabelsShipmentTracker', 'AnnounceShipments', 'STOCK_QUEUE_URL'],
  ]) {
    const statements = Object.entries(resourcesOf('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith(prefix))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const grant = statements.find((s) => s.Sid === sid);
    assert.deepEqual(asList(grant.Action), ['sqs:SendMessage'], prefix);
    assert.deepEqual(grant.Resource, { 'Fn::GetAtt': [stockQueue, 'Arn'] }, prefix);
    const [, fn] = onlyOne('AWS::Lambda::Function', (r) => JSON.stringify(r).includes(`"${prefix}`) || false);
    assert.deepEqual(fn.Properties.Environment.Variables[url], { Ref: stockQueue }, prefix);
  }
});
