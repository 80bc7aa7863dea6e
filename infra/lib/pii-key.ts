// The PII key: the envelope key of every order's sealed PII, and the one place that decides who
// may open it. Its policy is the whole of it (no delegation of its use to IAM):
//
// - the account (so, IAM) may administer the key, never use it: no Decrypt, no ReEncrypt, no
//   grants, no data keys. An administrator who wants to open PII must first change this policy,
//   and PutKeyPolicy is one of the events that alarm and that the audit report lists;
// - data keys only to the sealing roles, and only with the order's identity as encryption context;
// - Decrypt only to the roles named as openers (none yet), with the same context;
// - ReEncrypt and CreateGrant denied to everyone: either would let a principal re-wrap or open
//   an order's data key with no Decrypt of this key on record; so is any use without the context.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** What KMS must see with every use of the PII key: the order the data key belongs to. */
export const ORDER_CONTEXT_KEYS = ['seller_id', 'order_id'];

/** Conditions of every allowed use: exactly the order's two ids, both present. */
export function orderContextConditions(): Record<string, Record<string, unknown>> {
  return {
    'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ORDER_CONTEXT_KEYS },
    Null: Object.fromEntries(ORDER_CONTEXT_KEYS.map((k) => [`kms:EncryptionContext:${k}`, 'false'])),
  };
}

/**
 * Managing the key, nothing else. Listed one by one: the usual `kms:Create*` would include
 * `CreateGrant`, and `kms:Re*` or `kms:*` the crypto operations.
 */
export const PII_KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

/** KMS operations that use the key's material. */
const KEY_USE = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'];

function noUseWithout(contextKey: string, sid: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: KEY_USE,
    resources: ['*'],
    conditions: { Null: { [`kms:EncryptionContext:${contextKey}`]: 'true' } },
  });
}

export interface PiiKeyProps {
  readonly alias: string;
}

export class PiiKey extends Construct {
  readonly key: kms.Key;
  private readonly uses = new Map<string, iam.PolicyStatement>();

  constructor(scope: Construct, id: string, props: PiiKeyProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      alias: props.alias,
      description: 'FBM suite: envelope key of sealed buyer PII (context seller_id, order_id)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // With the defaultKeyPolicies flag (on in CDK v2) this is the key's whole policy: CDK's
      // default statement (the account root, kms:*) is not added.
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AdministerNotUse',
            principals: [new iam.AccountRootPrincipal()],
            actions: PII_KEY_ADMIN_ACTIONS,
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            // Re-wrapping an order's data key under another key, or a grant, would open PII
            // with no Decrypt of this key on record.
            sid: 'NoReEncryptNoGrants',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ['kms:ReEncrypt*', 'kms:CreateGrant'],
            resources: ['*'],
          }),
          // Either id missing denies: one statement per id (a statement's conditions all hold
          // together, so one statement would deny only when both were missing).
          noUseWithout('seller_id', 'NoUseWithoutSellerId'),
          noUseWithout('order_id', 'NoUseWithoutOrderId'),
        ],
      }),
    });
  }

  get keyArn(): string {
    return this.key.keyArn;
  }

  /**
   * The sealer's own statement (the identity side of `allowSealing`): data keys of this key,
   * one per order, under the order's context; no Decrypt.
   */
  sealingStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid: 'PiiDataKeysBoundToOrder',
      actions: ['kms:GenerateDataKey'],
      resources: [this.keyArn],
      conditions: orderContextConditions(),
    });
  }

  /** A role that seals PII: one data key per order, under the order's context. */
  allowSealing(role: iam.IRole): void {
    this.allowUse('SealUnderOrderContext', 'kms:GenerateDataKey', role);
  }

  /**
   * The opener's own statement (the identity side of `allowOpening`): Decrypt of one order's
   * data key under its context.
   */
  openingStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid: 'PiiOpenBoundToOrder',
      actions: ['kms:Decrypt'],
      resources: [this.keyArn],
      conditions: orderContextConditions(),
    });
  }

  /**
   * A role that opens PII (the staff API's audited reader): Decrypt of one order's data key
   * under its context.
   */
  allowOpening(role: iam.IRole): void {
    this.allowUse('OpenUnderOrderContext', 'kms:Decrypt', role);
  }

  /** One statement per use, made at its first role; later roles join its principals. */
  private allowUse(sid: string, action: string, role: iam.IRole): void {
    let statement = this.uses.get(sid);
    if (!statement) {
      statement = new iam.PolicyStatement({
        sid,
        actions: [action],
        resources: ['*'],
        conditions: orderContextConditions(),
      });
      this.key.addToResourcePolicy(statement);
      this.uses.set(sid, statement);
    }
    statement.addPrincipals(new iam.ArnPrincipal(role.roleArn));
  }
}
