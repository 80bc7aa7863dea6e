// The staff API as deployed: Cognito as the issuer (MFA, strong passwords, admin-made users,
// threat protection), one group per role, every route behind the JWT authorizer, access logs
// without paths, throttling, and an api function with only the grants of its routes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_ROLES } from '../lib/api.ts';
import { asList, onlyOne, resourcesOf } from './helpers.ts';

test('the staff user pool requires MFA, strong passwords and admin-made users, threat protection enforced', () => {
  const [, pool] = onlyOne('AWS::Cognito::UserPool');
  const p = pool.Properties;
  assert.equal(p.MfaConfiguration, 'ON');
  assert.deepEqual(p.EnabledMfas, ['SOFTWARE_TOKEN_MFA']);
  assert.deepEqual(
    {
      min: p.Policies.PasswordPolicy.MinimumLength,
      upper: p.Policies.PasswordPolicy.RequireUppercase,
      lower: p.Policies.PasswordPolicy.RequireLowercase,
      digit: p.Policies.PasswordPolicy.RequireNumbers,
      symbol: p.Policies.PasswordPolicy.RequireSymbols,
    },
    { min: 12, upper: true, lower: true, digit: true, symbol: true },
  );
  assert.equal(p.AdminCreateUserConfig.AllowAdminCreateUserOnly, true);
  assert.equal(p.UserPoolAddOns.AdvancedSecurityMode, 'ENFORCED');
  assert.equal(pool.DeletionPolicy, 'Retain');
  const groups = Object.values(resourcesOf('AWS::Cognito::UserPoolGroup')).map((g: any) => g.Properties.GroupName);
  assert.deepEqual(groups.sort(), [...API_ROLES].sort());
});

test('every API route needs a token of the staff pool; the stage throttles and logs no path', () => {
  const [authorizerId, authorizer] = onlyOne('AWS::ApiGatewayV2::Authorizer');
  assert.equal(authorizer.Properties.AuthorizerType, 'JWT');
  assert.match(JSON.stringify(authorizer.Properties.JwtConfiguration.Issuer), /cognito-idp/);
  const routes = Object.values(resourcesOf('AWS::ApiGatewayV2::Route')) as any[];
  // One route for every method and path: the function routes, and checks roles itself.
  assert.deepEqual(
    routes.map((r) => r.Properties.RouteKey),
    ['$default'],
  );
  for (const r of routes) {
    assert.equal(r.Properties.AuthorizationType, 'JWT', r.Properties.RouteKey);
    assert.deepEqual(r.Properties.AuthorizerId, { Ref: authorizerId });
  }
  const [, stage] = onlyOne('AWS::ApiGatewayV2::Stage');
  assert.equal(stage.Properties.StageName, '$default');
  assert.deepEqual(stage.Properties.DefaultRouteSettings, { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 });
  const format = stage.Properties.AccessLogSettings.Format as string;
  assert.match(format, /\$context\.requestId/);
  for (const leak of ['$context.path', '$context.routeKey.path', 'queryString', '$context.identity', 'header']) {
    assert.ok(!format.includes(leak), `access log carries ${leak}`);
  }
});

test('the api function reads stock and orders, moves orders, keeps keys, sends jobs; it opens PII by key only', () => {
  const policies = Object.entries(resourcesOf('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ApiPolicy'));
  assert.equal(policies.length, 1);
  const statements: any[] = policies.flatMap(([, p]: [string, any]) => p.Properties.PolicyDocument.Statement);
  const sid = (name: string) => statements.find((s) => s.Sid === name);
  assert.deepEqual(asList(sid('StockLedger').Action), ['dynamodb:GetItem', 'dynamodb:Query']);
  assert.deepEqual(asList(sid('StockMovements').Action), ['dynamodb:PutItem', 'dynamodb:UpdateItem']);
  assert.deepEqual(sid('StockMovements').Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['*#*']);
  assert.deepEqual(asList(sid('OrdersReadAndMoved').Action), ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem']);
  assert.deepEqual(asList(sid('SealedItemsRead').Action), ['dynamodb:GetItem']);
  // A corrected ship-to: written, under a data key bound to its order, never deleted.
  assert.deepEqual(asList(sid('CorrectedShipToSealed').Action), ['dynamodb:PutItem']);
  assert.deepEqual(asList(sid('PiiDataKeysBoundToOrder').Action), ['kms:GenerateDataKey']);
  assert.ok(sid('PiiDataKeysBoundToOrder').Condition['ForAllValues:StringEquals']['kms:EncryptionContextKeys']);
  assert.deepEqual(asList(sid('AuditPiiReads').Action), ['dynamodb:PutItem']);
  assert.deepEqual(sid('IdempotencyKeys').Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['idem#*']);
  assert.deepEqual(sid('LabelRecordsRead').Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['label#*']);
  assert.deepEqual(asList(sid('LabelRecordsRead').Action), ['dynamodb:GetItem', 'dynamodb:Query']);
  const actions = statements.flatMap((s) => asList(s.Action));
  // No listing of any table's whole content, no secrets (it never calls Amazon), no deletes
  // but of its own idempotency keys.
  assert.ok(!actions.some((a: string) => /Scan|BatchGetItem|secretsmanager|\*/.test(a)), JSON.stringify(actions));
  const deletes = statements.filter((s) => asList(s.Action).some((a: string) => /Delete/.test(a)));
  assert.deepEqual(deletes.map((s) => s.Sid), ['IdempotencyKeys']);
  const sends = statements.filter((s) => asList(s.Action).includes('sqs:SendMessage')).map((s) => s.Sid);
  assert.deepEqual(sends.sort(), ['SendDeletionRequests', 'SendLabelJobs', 'SendReportJobs', 'StockChanges']);
  // Auditors' reports: the job asked and read back, the kept report read (and linked) by key
  // under reports/ only, never listed or written.
  assert.deepEqual(asList(sid('ReportJobRecords').Action), ['dynamodb:GetItem', 'dynamodb:PutItem']);
  assert.deepEqual(sid('ReportJobRecords').Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['report#*']);
  assert.deepEqual(asList(sid('ReadReports').Action), ['s3:GetObject']);
  assert.match(JSON.stringify(sid('ReadReports').Resource), /\/reports\/\*/);
  assert.ok(!actions.some((a: string) => /^s3:(Put|Delete|List)/.test(a)), 'no report written, deleted or listed');
  assert.deepEqual(sid('DeletionRequestRecords').Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['deletion#*']);
  assert.deepEqual(asList(sid('DeletionRequestRecords').Action), ['dynamodb:GetItem', 'dynamodb:PutItem']);
  const env = onlyOne('AWS::Lambda::Function', (f) => f.Properties.Environment?.Variables?.LABEL_JOBS_QUEUE_URL)[1];
  assert.deepEqual(Object.keys(env.Properties.Environment.Variables).sort(), [
    'AUDIT_TABLE', 'CONTROL_TABLE', 'DELETION_QUEUE_URL', 'LABEL_JOBS_QUEUE_URL', 'ORDERS_TABLE', 'PII_KEY_ID', 'PII_TABLE', 'REPORTS_BUCKET', 'REPORT_QUEUE_URL', 'STOCK_QUEUE_URL', 'STOCK_TABLE',
  ].concat(Object.keys(env.Properties.Environment.Variables).filter((k: string) => k.startsWith('RUST_') || k.startsWith('AWS_'))).sort());
});
