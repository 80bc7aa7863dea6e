// The deployed tables are exactly those of tables.json, the file the local stack provisions
// from (tests/local-stack/tests/stack/tables.rs checks the other side against moto).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tableDefinitions, type KeyAttribute } from '../lib/tables.ts';
import { resourcesOf } from './helpers.ts';

function keySchema(pk: KeyAttribute, sk?: KeyAttribute | null) {
  return [{ AttributeName: pk.name, KeyType: 'HASH' }, ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' }] : [])];
}

test('CDK tables agree with tables.json, one for one', () => {
  const definitions = tableDefinitions();
  const tables = resourcesOf('AWS::DynamoDB::GlobalTable');
  assert.equal(Object.keys(tables).length, definitions.length, 'no table beyond tables.json');
  for (const def of definitions) {
    const matching = Object.entries(tables).filter(([id]) => id.startsWith(`Tables${def.id}`));
    assert.equal(matching.length, 1, `table ${def.id}`);
    const p = matching[0][1].Properties;
    assert.deepEqual(p.KeySchema, keySchema(def.partitionKey, def.sortKey), `${def.id} keys`);
    const types = Object.fromEntries(p.AttributeDefinitions.map((a: any) => [a.AttributeName, a.AttributeType]));
    for (const a of [def.partitionKey, def.sortKey, ...def.globalSecondaryIndexes.flatMap((g) => [g.partitionKey, g.sortKey])]) {
      if (a) assert.equal(types[a.name], a.type, `${def.id}.${a.name} type`);
    }
    const gsis = (p.GlobalSecondaryIndexes ?? []).map((g: any) => ({
      name: g.IndexName,
      keys: g.KeySchema,
      projection: g.Projection.ProjectionType,
    }));
    assert.deepEqual(
      gsis,
      def.globalSecondaryIndexes.map((g) => ({ name: g.name, keys: keySchema(g.partitionKey, g.sortKey), projection: 'ALL' })),
      `${def.id} indexes`,
    );
    assert.equal(p.TimeToLiveSpecification?.AttributeName ?? null, def.timeToLiveAttribute, `${def.id} TTL`);
    assert.equal(
      p.Replicas[0].PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled ?? false,
      def.pointInTimeRecovery,
      `${def.id} PITR`,
    );
  }
});
