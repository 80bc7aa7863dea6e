// The staff API as deployed: Cognito as the issuer (MFA, strong passwords, admin-made users,
// threat protection), one group per role, every route behind the JWT authorizer, access logs
// without paths, throttling, and an api function that may read stock and nothing else yet.
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

test('the api function may read the stock table and nothing else: no PII key, no other table', () => {
  const policies = Object.entries(resourcesOf('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ApiPolicy'));
  assert.equal(policies.length, 1);
  const statements = policies.flatMap(([, p]: [string, any]) => p.Properties.PolicyDocument.Statement);
  const text = JSON.stringify(statements);
  assert.doesNotMatch(text, /PiiKey|Tablesorders|Tablespii|Tablesaudit|Tablescontrol/);
  const reads = statements.find((s: any) => s.Sid === 'StockReads');
  assert.deepEqual(asList(reads.Action), ['dynamodb:GetItem', 'dynamodb:Query']);
  const writes = statements.flatMap((s: any) => asList(s.Action)).filter((a: string) => /Put|Update|Delete|Write|Send/.test(a));
  assert.deepEqual(writes, ['logs:PutLogEvents']);
});
