// One synthesis for all the CDK tests (test/suite.ts runs them in one process), without Rust
// bundling (CDK tests must not run cargo). It runs cdk-nag's checks and writes the cloud
// assembly to a temporary directory, where cfn-lint reads the template.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { STACK_NAME, buildApp } from '../lib/app.ts';

export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

export interface Synthesized {
  app: App;
  template: Template;
  json: Record<string, any>;
  /** The stack's template file in the cloud assembly. */
  templateFile: string;
}

let cached: Synthesized | undefined;

export function synthesized(): Synthesized {
  if (!cached) {
    const outdir = mkdtempSync(join(tmpdir(), 'fbm-cdk-'));
    process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));
    const { app, stack } = buildApp({ context: NO_BUNDLING, outdir });
    // Throws on any unacknowledged cdk-nag finding; Template.fromStack reads the same assembly.
    app.synth();
    const template = Template.fromStack(stack);
    cached = { app, template, json: template.toJSON(), templateFile: join(outdir, `${STACK_NAME}.template.json`) };
  }
  return cached;
}

/** Resources of one CloudFormation type, by logical id. */
export function resourcesOf(type: string): Record<string, any> {
  const all = synthesized().json.Resources as Record<string, any>;
  return Object.fromEntries(Object.entries(all).filter(([, r]) => r.Type === type));
}

export function onlyOne(type: string, match: (r: any) => boolean = () => true): [string, any] {
  const found = Object.entries(resourcesOf(type)).filter(([, r]) => match(r));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

export const keyId = (alias: string): string => {
  const [, a] = onlyOne('AWS::KMS::Alias', (r) => r.Properties.AliasName === alias);
  return a.Properties.TargetKeyId['Fn::GetAtt'][0];
};

/** Every statement of every policy of one function (its own and what event sources add). */
export function statementsOf(
  fn: 'OrderSync' | 'OrderEvents' | 'PiiLifecyclePiiRedactor' | 'AuditReportReporter' | 'StockSync',
): any[] {
  const policies = Object.entries(resourcesOf('AWS::IAM::Policy')).filter(([id]) => id.startsWith(fn));
  assert.ok(policies.length >= 1, `policies of ${fn}`);
  return policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

export const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Whether a statement's resources name the logical id (GetAtt, Ref or inside Fn::Join). */
export const mentions = (statement: any, logicalId: string): boolean =>
  JSON.stringify(statement.Resource).includes(`"${logicalId}"`);
