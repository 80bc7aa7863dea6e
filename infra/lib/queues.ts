// A work queue with its dead-letter queue: both encrypted with a customer-managed key,
// TLS-only, the DLQ's depth alarmed by the stack. Redrive is the backstop for a consumer that
// dies before it can dead-letter a message itself (order-events does, with a reason).
import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface WorkQueueProps {
  /** Encrypts the queue. */
  readonly key: kms.IKey;
  /** Encrypts the DLQ (defaults to `key`). */
  readonly dlqKey?: kms.IKey;
  /** At least six times the consumer's timeout (Lambda's guidance for SQS event sources). */
  readonly visibilityTimeout: Duration;
  /** Receives before SQS moves a message to the DLQ. */
  readonly maxReceiveCount: number;
}

export class WorkQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    this.dlq = new sqs.Queue(this, 'Dlq', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.dlqKey ?? props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.dlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: messages given up on land here with their reason, ' +
        'for the operator to replay by id. A DLQ behind it would only move them again. Its depth is alarmed.',
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: props.maxReceiveCount },
    });
  }
}
