// cfn-lint (pinned in the repository's .venv by `make setup`) on the synthesized template.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { synthesized } from './helpers.ts';

const CFN_LINT = join(import.meta.dirname, '..', '..', '.venv', 'bin', 'cfn-lint');

test('cfn-lint finds nothing in the synthesized template', () => {
  assert.ok(existsSync(CFN_LINT), `${CFN_LINT} is missing: run \`make setup\` at the repository root`);
  const template = synthesized().templateFile;
  assert.ok(existsSync(template));
  // W3005: CDK's own DependsOn next to a GetAtt on the same resource; harmless and not ours.
  const run = spawnSync(CFN_LINT, ['-i', 'W3005', '--', template], { encoding: 'utf8' });
  assert.equal(run.status, 0, `cfn-lint:\n${run.stdout}${run.stderr}`);
});
