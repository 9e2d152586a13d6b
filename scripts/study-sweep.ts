/**
 * Puts the learning-rate sweep's studies side by side (issue 20): one `npm run experiment --
 * --lr X --out DIR` per rate, then
 *
 *   npx tsx scripts/study-sweep.ts DIR1 DIR2 DIR3 [--out FILE.md]
 *
 * reads each DIR/results.json and prints (or writes) one table: per rate and arm, the headline
 * metrics as mean ± std over seeds, and the mDPO/DPO ratios at each rate.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseResults } from '../src/core/demo';
import { sweepTable } from '../src/core/demo/sweep';

const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true });

async function main(): Promise<void> {
  if (positionals.length === 0) throw new Error('Usage: npx tsx scripts/study-sweep.ts DIR... [--out FILE.md] (each DIR holds a results.json)');
  const studies = [];
  for (const dir of positionals) {
    const file = path.join(dir, 'results.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new Error(`${file}: not found (run npm run experiment -- --out ${dir} first)`, { cause: e });
    }
    try {
      studies.push(parseResults(JSON.parse(text)));
    } catch (e) {
      throw new Error(`${file}: not a study results.json (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, { cause: e });
    }
  }
  const table = sweepTable(studies);
  if (values.out) await writeFile(values.out, table);
  process.stdout.write(table);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
