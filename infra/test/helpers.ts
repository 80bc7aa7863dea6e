// One synthesis per test process, without Rust bundling (CDK tests must not run cargo).
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app.ts';

export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

let cached: { template: Template; json: Record<string, any> } | undefined;

export function synthesized(): { template: Template; json: Record<string, any> } {
  if (!cached) {
    const { stack } = buildApp({ context: NO_BUNDLING });
    const template = Template.fromStack(stack);
    cached = { template, json: template.toJSON() };
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
