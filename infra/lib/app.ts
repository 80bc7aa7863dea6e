// The app as bin/app.ts synthesizes it and as the tests build it: one stack, cdk-nag's
// AwsSolutions checks on every synth.
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FulfillmentStack } from './fulfillment-stack.ts';

export const STACK_NAME = 'FbmFulfillment';

export function buildApp(props: AppProps = {}): { app: App; stack: FulfillmentStack } {
  const app = new App(props);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const spapiEndpoint =
    (app.node.tryGetContext('spapiEndpoint') as string | undefined) ?? 'https://sellingpartnerapi-na.amazon.com';
  const stack = new FulfillmentStack(app, STACK_NAME, {
    // TableV2 with a customer-managed key needs a concrete region; the CLI sets these from the
    // profile, tests and offline synths get placeholders.
    env: {
      account: process.env.CDK_DEFAULT_ACCOUNT ?? '123456789012',
      region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1',
    },
    spapiEndpoint,
    description: 'FBM fulfillment suite: SP-API order intake with KMS-sealed buyer PII',
  });
  return { app, stack };
}
