// Calls that could open PII unseen or quietly end its protection, each an alarm the moment
// CloudTrail hands it to EventBridge (attempts refused by KMS included): a re-wrap or a grant
// of the PII key, any change to either key's policy, disabling or scheduling the deletion of a
// key, a change to the pii table's resource policy (which is what forbids copying it). The
// message names the call, the caller and the event; nothing of the data.
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** The PII key's calls that alarm (CloudTrail event names). The audit report lists the same. */
export const PII_KEY_ALARMED_EVENTS = ['ReEncrypt', 'CreateGrant', 'PutKeyPolicy', 'DisableKey', 'ScheduleKeyDeletion'];
/**
 * The data key's: its grants are routine (DynamoDB, SQS and CloudWatch Logs use it through
 * grants and re-encryption), its policy, disabling and deletion are not.
 */
export const DATA_KEY_ALARMED_EVENTS = ['PutKeyPolicy', 'DisableKey', 'ScheduleKeyDeletion'];
export const PII_TABLE_ALARMED_EVENTS = ['PutResourcePolicy', 'DeleteResourcePolicy'];

export interface TripwiresProps {
  readonly topic: sns.ITopic;
  readonly piiKey: kms.IKey;
  readonly piiKeyAlias: string;
  readonly dataKey: kms.IKey;
  readonly dataKeyAlias: string;
  readonly piiTable: dynamodb.ITableV2;
}

export class Tripwires extends Construct {
  constructor(scope: Construct, id: string, props: TripwiresProps) {
    super(scope, id);
    const notify = (what: string) =>
      new targets.SnsTopic(props.topic, {
        message: events.RuleTargetInput.fromObject({
          alarm: what,
          call: events.EventField.fromPath('$.detail.eventName'),
          caller: events.EventField.fromPath('$.detail.userIdentity.arn'),
          errorCode: events.EventField.fromPath('$.detail.errorCode'),
          at: events.EventField.fromPath('$.detail.eventTime'),
          cloudtrailEventId: events.EventField.fromPath('$.detail.eventID'),
        }),
      });
    const apiCall = (source: string, eventSource: string, names: string[], detail: Record<string, unknown>) => ({
      source: [source],
      detailType: ['AWS API Call via CloudTrail'],
      detail: { eventSource: [eventSource], eventName: names, ...detail },
    });
    // A call names the key in `resources` (as an ARN) or, however it was refused, in
    // requestParameters.keyId as the caller wrote it: its ARN, its id or its alias.
    const naming = (key: kms.IKey, alias: string) => ({
      $or: [
        { resources: { ARN: [key.keyArn] } },
        { requestParameters: { keyId: [key.keyArn, key.keyId, alias] } },
      ],
    });
    new events.Rule(this, 'PiiKeyRule', {
      description: 'PII key: re-encrypt, grant, policy change, disable or deletion (attempts included)',
      eventPattern: apiCall('aws.kms', 'kms.amazonaws.com', PII_KEY_ALARMED_EVENTS, naming(props.piiKey, props.piiKeyAlias)),
      targets: [notify('PII key: a call that could open PII unseen or end its protection')],
    });
    new events.Rule(this, 'DataKeyRule', {
      description: 'Data key: policy change, disable or deletion (attempts included)',
      eventPattern: apiCall('aws.kms', 'kms.amazonaws.com', DATA_KEY_ALARMED_EVENTS, naming(props.dataKey, props.dataKeyAlias)),
      targets: [notify("Data key: a change to the key of the suite's tables, queues and logs")],
    });
    new events.Rule(this, 'PiiTablePolicyRule', {
      description: "pii table: its resource policy (the deny on backups and exports) changed or removed",
      eventPattern: apiCall('aws.dynamodb', 'dynamodb.amazonaws.com', PII_TABLE_ALARMED_EVENTS, {
        requestParameters: { resourceArn: [props.piiTable.tableArn] },
      }),
      targets: [notify('pii table: the policy that forbids copies of it changed')],
    });
  }
}
