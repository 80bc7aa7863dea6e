// The staff and auditor API as deployed: an HTTP API whose every route needs a token of the
// suite's Cognito user pool (MFA required, strong passwords, no self sign-up, threat
// protection enforced), one group per role, the `api` function behind it, access logs without
// paths or query strings, and stage throttling. The function checks each route's roles itself
// as well. Its role's grants are its routes' (see the statements below); it is the one role
// that may open PII, and it seals a ship-to its buyer corrected.
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeReportObjects } from './audit-report.ts';
import type { PiiKey } from './pii-key.ts';
import type { WorkQueue } from './queues.ts';
import { SuiteFunction, dataKeyThrough } from './suite-function.ts';
import { NO_RETURN_VALUES, type Tables } from './tables.ts';

/** The roles, as Cognito groups: keep in step with `shared/src/api/mod.rs` (`Role`). */
export const API_ROLES = ['picker', 'packer', 'supervisor', 'admin', 'auditor'] as const;

export interface ApiProps {
  readonly manifestPath: string;
  readonly tables: Tables;
  readonly dataKey: kms.IKey;
  readonly piiKey: PiiKey;
  /** Where packed orders' label jobs, voids and own-carrier confirmations go. */
  readonly labelJobs: WorkQueue;
  /** Where a packed order's pick is announced. */
  readonly stockQueue: sqs.IQueue;
  /** Where data-subject deletion requests go, for pii-redactor (under the data key). */
  readonly deletions: WorkQueue;
  /** Where auditors' report jobs go, for audit-report (under the data key). */
  readonly reportJobs: WorkQueue;
  /** Where audit-report keeps the reports: read back and linked. */
  readonly reports: s3.Bucket;
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

    const region = Stack.of(this).region;
    this.fn = new SuiteFunction(this, 'Api', {
      manifestPath: props.manifestPath,
      binaryName: 'api',
      description: 'Staff and auditor HTTP API: stock, orders, picking, packing, labels; audited PII reads',
      logKey: props.dataKey,
      timeout: Duration.seconds(29),
      environment: {
        STOCK_TABLE: tables.get('stock').tableName,
        ORDERS_TABLE: tables.get('orders').tableName,
        PII_TABLE: tables.get('pii').tableName,
        CONTROL_TABLE: tables.get('control').tableName,
        AUDIT_TABLE: tables.get('audit').tableName,
        PII_KEY_ID: props.piiKey.keyArn,
        LABEL_JOBS_QUEUE_URL: props.labelJobs.queue.queueUrl,
        STOCK_QUEUE_URL: props.stockQueue.queueUrl,
        DELETION_QUEUE_URL: props.deletions.queue.queueUrl,
        REPORT_QUEUE_URL: props.reportJobs.queue.queueUrl,
        REPORTS_BUCKET: props.reports.bucketName,
      },
      statements: [
        new iam.PolicyStatement({
          // Levels and the ledger read; staff movements written as stock-sync writes them
          // (one conditional transaction each, the ledger appended, never deleted).
          sid: 'StockLedger',
          actions: ['dynamodb:GetItem', 'dynamodb:Query'],
          resources: [tables.get('stock').tableArn],
        }),
        new iam.PolicyStatement({
          // Writes to SKU partitions (`<seller>#<sku>`) only: never a seller's locations or
          // kits, which are the operator's to set.
          sid: 'StockMovements',
          actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [tables.get('stock').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['*#*'] } },
        }),
        new iam.PolicyStatement({
          // Orders listed (the table, the open-orders index) and moved through picking and
          // packing with writes conditional on their revision.
          sid: 'OrdersReadAndMoved',
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'],
          resources: [tables.get('orders').tableArn, `${tables.get('orders').tableArn}/index/open_by_ship_by`],
        }),
        new iam.PolicyStatement({
          // The sealed items it opens, by key: never listed.
          sid: 'SealedItemsRead',
          actions: ['dynamodb:GetItem'],
          resources: [tables.get('pii').tableArn],
        }),
        new iam.PolicyStatement({
          // A ship-to corrected on the buyer's request, sealed in place of Amazon's in one
          // transaction with the order's record (written conditionally on its revision, under
          // OrdersReadAndMoved). Never a delete: purges are the redactor's.
          sid: 'CorrectedShipToSealed',
          actions: ['dynamodb:PutItem'],
          resources: [tables.get('pii').tableArn],
          conditions: NO_RETURN_VALUES,
        }),
        props.piiKey.sealingStatement(),
        new iam.PolicyStatement({
          sid: 'IdempotencyKeys',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
          resources: [tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['idem#*'] } },
        }),
        new iam.PolicyStatement({
          // A deletion request's id taken (conditionally, as the redactor takes it) and its
          // written confirmation read.
          sid: 'DeletionRequestRecords',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['deletion#*'] } },
        }),
        new iam.PolicyStatement({
          // Data-subject deletion requests, handed to the redactor.
          sid: 'SendDeletionRequests',
          actions: ['sqs:SendMessage'],
          resources: [props.deletions.queue.queueArn],
        }),
        new iam.PolicyStatement({
          // A package's label record: which label to open or void.
          sid: 'LabelRecordsRead',
          actions: ['dynamodb:GetItem', 'dynamodb:Query'],
          resources: [tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['label#*'] } },
        }),
        new iam.PolicyStatement({
          // Every PII read is recorded before it happens.
          sid: 'AuditPiiReads',
          actions: ['dynamodb:PutItem'],
          resources: [tables.get('audit').tableArn],
        }),
        new iam.PolicyStatement({
          // An auditor's report job (pk report#<id>): asked (conditionally) and read back.
          sid: 'ReportJobRecords',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [tables.get('control').tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['report#*'] } },
        }),
        new iam.PolicyStatement({
          // Report jobs, for audit-report.
          sid: 'SendReportJobs',
          actions: ['sqs:SendMessage'],
          resources: [props.reportJobs.queue.queueArn],
        }),
        new iam.PolicyStatement({
          // The reports audit-report kept: read for an inline answer, and the presigned links
          // it hands auditors read with this role's right, nothing wider.
          sid: 'ReadReports',
          actions: ['s3:GetObject'],
          resources: [props.reports.arnForObjects('reports/*')],
        }),
        props.piiKey.openingStatement(),
        dataKeyThrough(this, props.dataKey, ['dynamodb', 'sqs', 's3']),
        new iam.PolicyStatement({
          // The label-jobs queue's own key, for the messages it sends there only.
          sid: 'LabelJobsKeyViaSqs',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [props.labelJobs.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sqs.${region}.amazonaws.com` } },
        }),
        new iam.PolicyStatement({
          sid: 'SendLabelJobs',
          actions: ['sqs:SendMessage'],
          resources: [props.labelJobs.queue.queueArn],
        }),
        new iam.PolicyStatement({
          // Picks announced, and staff movements for stock-sync to push to Amazon.
          sid: 'StockChanges',
          actions: ['sqs:SendMessage'],
          resources: [props.stockQueue.queueArn],
        }),
      ],
    });
    acknowledgeReportObjects(this.fn.policy, props.reports);
    props.piiKey.allowOpening(this.fn.role);
    // A corrected ship-to is sealed under a new data key of the order, as intake seals.
    props.piiKey.allowSealing(this.fn.role);

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
