// `node --import ./test/support/electron-standin-register.mjs ...`: every `import 'electron'`
// gets ./electron-standin.mjs, the test's stand-in (see there). Test code only.
import { register } from 'node:module';

const standinUrl = new URL('./electron-standin.mjs', import.meta.url).href;
const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === 'electron') return { url: ${JSON.stringify(standinUrl)}, shortCircuit: true };
  return next(specifier, context);
}`;
register('data:text/javascript,' + encodeURIComponent(hooks));
