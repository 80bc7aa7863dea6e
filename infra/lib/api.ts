// The staff and auditor API as deployed: an HTTP API whose every route needs a token of the
// suite's Cognito user pool (MFA required, strong passwords, no self sign-up, threat
// protection enforced), one group per role, the `api` function behind it, access logs without
// paths or query strings, and stage throttling. The function checks each route's roles itself
// as well. So far it serves the stock reads: its role may read the stock table and nothing
// else (no PII key; the PII routes come with their own grants).
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import type { Tables } from './tables.ts';

/** The roles, as Cognito groups: keep in step with `shared/src/api/mod.rs` (`Role`). */
export const API_ROLES = ['picker', 'packer', 'supervisor', 'admin', 'auditor'] as const;

export interface ApiProps {
  readonly manifestPath: string;
  readonly tables: Tables;
  readonly dataKey: kms.IKey;
}

export class Api extends Construct {
  readonly fn: SuiteFunction;
  readonly userPool: cognito.UserPool;
  readonly httpApi: apigw.HttpApi;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { tables } = props;
    this.userPool = new cognito.UserPool(this, 'Staff', {
      userPoolName: 'fbm-staff',
      // Staff accounts are made by an admin, never by whoever finds the sign-up page.
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { sms: false, otp: true },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const role of API_ROLES) {
      new cognito.CfnUserPoolGroup(this, `Group${role[0].toUpperCase()}${role.slice(1)}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: role,
        description: `fbm API role ${role}`,
      });
    }
    const client = this.userPool.addClient('Tools', {
      authFlows: { userSrp: true },
      preventUserExistenceErrors: true,
      generateSecret: false,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });

    this.fn = new SuiteFunction(this, 'Api', {
      manifestPath: props.manifestPath,
      binaryName: 'api',
      description: 'Staff and auditor HTTP API: stock reads so far',
      logKey: props.dataKey,
      timeout: Duration.seconds(29),
      environment: { STOCK_TABLE: tables.get('stock').tableName },
      statements: [
        new iam.PolicyStatement({
          // Levels and the ledger: reads only.
          sid: 'StockReads',
          actions: ['dynamodb:GetItem', 'dynamodb:Query'],
          resources: [tables.get('stock').tableArn],
        }),
        dataKeyThrough(this, props.dataKey, ['dynamodb'], ['kms:Decrypt', 'kms:DescribeKey']),
      ],
    });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      logGroupName: '/fbm/api-access',
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.dataKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.httpApi = new apigw.HttpApi(this, 'Http', {
      apiName: 'fbm-staff-api',
      description: 'FBM fulfillment staff and auditor API',
      createDefaultStage: false,
      defaultAuthorizer: new HttpUserPoolAuthorizer('Staff', this.userPool, { userPoolClients: [client] }),
      // One `$default` route takes every method and path (the function routes): one
      // integration, one invoke permission.
      defaultIntegration: new HttpLambdaIntegration('Api', this.fn.fn),
    });
    new apigw.HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 50, burstLimit: 100 },
      // Ids and figures only: no path (it names SKUs and orders), no query, no headers.
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            caller: '$context.authorizer.claims.sub',
            latencyMs: '$context.responseLatency',
            integrationStatus: '$context.integrationStatus',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
  }
}
