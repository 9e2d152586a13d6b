/** Entry of `npm run bench` (options: bench/run.ts, results: bench/README.md). */
import { hfFlags, runHfPart } from './hf-part';
import { main } from './run';

const { hf, rest } = hfFlags(process.argv.slice(2));

(async () => {
  if (hf.mode !== 'only') await main(rest);
  if (hf.mode !== 'off') await runHfPart(hf, process.argv.slice(2));
})().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
