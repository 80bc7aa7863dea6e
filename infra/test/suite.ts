// Every *.test.ts in this folder in one process, so they share one synthesis (helpers.ts):
// a process per file synthesized the app once per file, seven times.
import { readdirSync } from 'node:fs';

for (const file of readdirSync(import.meta.dirname).filter((f) => f.endsWith('.test.ts')).sort()) {
  await import(`./${file}`);
}
