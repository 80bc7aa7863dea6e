// A work queue with its dead-letter queue: both encrypted with a customer-managed key,
// TLS-only, the DLQ's depth alarmed by the stack. Redrive is the backstop for a consumer that
// dies before it can dead-letter a message itself (order-events does, with a reason).
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { SuiteFunction } from './suite-function.ts';

export interface WorkQueueProps {
  /** Encrypts the queue. */
  readonly key: kms.IKey;
  /** Encrypts the DLQ (defaults to `key`). */
  readonly dlqKey?: kms.IKey;
  /** At least six times the consumer's timeout (Lambda's guidance for SQS event sources). */
  readonly visibilityTimeout: Duration;
  /** Receives before SQS moves a message to the DLQ. */
  readonly maxReceiveCount: number;
  /**
   * A fixed name, for a queue whose ARN its own key's policy must name (a generated name
   * would make the key depend on the queue that depends on the key).
   */
  readonly queueName?: string;
  /**
   * FIFO, queue and DLQ alike: with one message group its consumer takes one message at a
   * time, in order, without being throttled.
   */
  readonly fifo?: boolean;
}

export interface ConsumerOptions {
  readonly batchSize: number;
  readonly maxBatchingWindow?: Duration;
  /** Instances polling at most (Lambda's maximum concurrency for SQS). */
  readonly maxConcurrency?: number;
}

export class WorkQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
  readonly key: kms.IKey;
  /** Known before the queue exists when `queueName` is given. */
  readonly queueArn: string;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    this.key = props.key;
    // cdk-nag knows this is a dead-letter queue (it is the one below redrives to): no SQS3.
    this.dlq = new sqs.Queue(this, 'Dlq', {
      fifo: props.fifo,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.dlqKey ?? props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      fifo: props.fifo,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: props.maxReceiveCount },
    });
    this.queueArn = props.queueName
      ? Stack.of(this).formatArn({ service: 'sqs', resource: props.queueName })
      : this.queue.queueArn;
  }

  /**
   * `consumer` takes this queue's messages through an event source mapping, reporting
   * partial batch failures. The grants are written here rather than by `SqsEventSource`,
   * whose kms:Decrypt on the queue's key has no kms:ViaService: here the key opens only for
   * messages SQS hands over.
   */
  feed(consumer: SuiteFunction, options: ConsumerOptions): void {
    const id = this.node.id;
    consumer.fn.addEventSourceMapping(`${id}Source`, {
      eventSourceArn: this.queue.queueArn,
      batchSize: options.batchSize,
      maxBatchingWindow: options.maxBatchingWindow,
      maxConcurrency: options.maxConcurrency,
      reportBatchItemFailures: true,
    });
    consumer.policy.addStatements(
      new iam.PolicyStatement({
        sid: `Consume${id}`,
        actions: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
        ],
        resources: [this.queue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: `Consume${id}KeyViaSqs`,
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
