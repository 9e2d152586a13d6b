/** Entry of `npm run bench` (options: bench/run.ts, results: bench/README.md). */
import { main } from './run';

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
