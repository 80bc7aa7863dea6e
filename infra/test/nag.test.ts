// cdk-nag AwsSolutions on the whole app: no finding left unacknowledged, and every
// acknowledgement says why.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { NO_BUNDLING, synthesized } from './helpers.ts';

test('the app synthesizes with AwsSolutions checks and no unacknowledged finding', () => {
  assert.doesNotThrow(() => synthesized());
});

test('every acknowledgement names an AwsSolutions rule and gives a real reason', () => {
  const { app } = synthesized();
  const acks = app.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
    // Recorded as { "<prefix>::<rule id>": "<reason>" } per construct.
    .flatMap((m) => Object.entries(m.data as Record<string, string>))
    .map(([id, reason]) => ({ id, reason }));
  assert.ok(acks.length >= 3, `found ${acks.length} acknowledgements`);
  for (const a of acks) {
    assert.match(a.id, /AwsSolutions-[A-Z]+\d+/, a.id);
    assert.ok(a.reason.length >= 80 && a.reason.split(' ').length >= 12, `reason for ${a.id} is too thin: ${a.reason}`);
  }
});

test('the checks are live: an unencrypted queue without a DLQ fails synthesis', () => {
  const app = new App({ context: NO_BUNDLING });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Bare', { env: { account: '123456789012', region: 'us-east-1' } });
  new sqs.Queue(stack, 'Bare');
  assert.throws(() => app.synth(), /Validation failed/);
});
