// One of the suite's Lambda functions: a binary of the Rust workspace built by cargo-lambda,
// its own role with exactly the statements given (no managed policies), and a log group of its
// own, encrypted and kept a year, that receives JSON logs.
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';

export interface SuiteFunctionProps {
  readonly manifestPath: string;
  /** The workspace binary, also the log group's name under /fbm/. */
  readonly binaryName: string;
  readonly description: string;
  readonly logKey: kms.IKey;
  readonly statements: iam.PolicyStatement[];
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly reservedConcurrentExecutions?: number;
  readonly environment: Record<string, string>;
}

/**
 * The data key for what a function reads and writes at rest (tables, secrets, queues), only
 * through the services whose data it protects (`kms:ViaService`).
 */
export function dataKeyThrough(
  scope: Construct,
  key: kms.IKey,
  services: ('dynamodb' | 'secretsmanager' | 'sqs' | 's3')[],
  actions = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
): iam.PolicyStatement {
  const region = Stack.of(scope).region;
  const names: Record<string, string> = { dynamodb: 'DynamoDb', secretsmanager: 'SecretsManager', sqs: 'Sqs', s3: 'S3' };
  return new iam.PolicyStatement({
    sid: `DataKeyVia${services.map((s) => names[s]).join('')}`,
    actions,
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': services.map((s) => `${s}.${region}.amazonaws.com`) } },
  });
}

/**
 * A queue as an asynchronous invocation's failure destination, granting nothing itself
 * (`SqsDestination` would grant the queue's key to the function with no kms:ViaService).
 */
class FailureQueue implements lambda.IDestination {
  constructor(private readonly queue: sqs.IQueue) {}

  bind(): lambda.DestinationConfig {
    return { destination: this.queue.queueArn };
  }
}

export class SuiteFunction extends Construct {
  readonly fn: lambda.Function;
  readonly role: iam.Role;
  readonly policy: iam.Policy;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SuiteFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/fbm/${props.binaryName}`,
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = (this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.binaryName}: ${props.description}`.slice(0, 1000),
    }));
    this.policy = new iam.Policy(this, 'Policy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'WriteLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
        }),
        ...props.statements,
      ],
    });
    role.attachInlinePolicy(this.policy);
    this.fn = new RustFunction(this, 'Function', {
      manifestPath: props.manifestPath,
      binaryName: props.binaryName,
      description: props.description,
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: { ...props.environment, RUST_LOG: 'info' },
    });
    this.fn.node.addDependency(this.policy);
  }

  /**
   * Invoked asynchronously (by a schedule): a run that still fails after Lambda's two retries
   * leaves a record (the event, the error) on `queue` instead of vanishing. The queue's key
   * must already be usable through SQS by this function.
   */
  recordFailuresOn(queue: sqs.IQueue, maxEventAge: Duration): void {
    this.policy.addStatements(
      new iam.PolicyStatement({
        sid: 'RecordFailedRuns',
        actions: ['sqs:SendMessage'],
        resources: [queue.queueArn],
      }),
    );
    this.fn.configureAsyncInvoke({ onFailure: new FailureQueue(queue), retryAttempts: 2, maxEventAge });
  }
}
