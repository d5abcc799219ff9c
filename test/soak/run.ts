/**
 * The long soak, on demand: `npm run soak -- --minutes 5` (or SOAK_MINUTES=5),
 * each store in turn (or `--store redis`), figures printed as it goes. Exits
 * non-zero when any store had errors, lost sessions or growing memory.
 */
import { parseArgs } from 'node:util';
import type { StoreKind } from '../../middleware/store.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { formatReport, problemsOf, runSoak } from './soak.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: process.env.SOAK_MINUTES ?? '5' },
    store: { type: 'string', multiple: true },
    visitors: { type: 'string', default: '40' },
  },
});
const minutes = Number(values.minutes);
const visitors = Number(values.visitors);
const kinds = (values.store ?? STORE_KINDS) as StoreKind[];
if (!(minutes > 0) || !(visitors >= 1) || kinds.some((kind) => !STORE_KINDS.includes(kind))) {
  console.error(`usage: npm run soak -- [--minutes N] [--store ${STORE_KINDS.join('|')}]... [--visitors N]`);
  process.exit(2);
}

let failed = false;
for (const kind of kinds) {
  console.log(`soak on the ${kind} store for ${minutes} min with ${visitors} visitors…`);
  const report = await runSoak({ kind, durationMs: minutes * 60_000, visitors });
  console.log(formatReport(report));
  const problems = problemsOf(report);
  for (const problem of problems) console.log(`  FAILED: ${problem}`);
  failed ||= problems.length > 0;
}
process.exit(failed ? 1 : 0);
