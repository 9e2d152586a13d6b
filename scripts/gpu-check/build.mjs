#!/usr/bin/env node
// Bundles scripts/gpu-check/check.ts into one CommonJS file for a machine with no node_modules
// (called by prepare.sh: `node scripts/gpu-check/build.mjs <outfile.cjs>`).
//
// src/core loads some packages through `createRequire(import.meta.url)` (backend.ts: the tfjs
// union bundle that registers the gradients; webgpu.ts: Dawn). esbuild does not follow such
// calls, and `import.meta.url` is empty in a CommonJS bundle, so the plugin below rewrites
// `const X = createRequire(import.meta.url)` + `X('pkg')` into plain `require('pkg')` in the
// bundled copy (src/ is not touched). Then tfjs is bundled once (one tfjs-core, one engine),
// and only these stay external: Dawn's `webgpu` (carried as a minimal node_modules/webgpu)
// and the native tfjs-node packages (absent; their backends are never requested here).
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';

const outfile = process.argv[2];
if (!outfile) {
  console.error('usage: node scripts/gpu-check/build.mjs <outfile.cjs>');
  process.exit(2);
}

const EXTERNAL = ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/** @type {import('esbuild').Plugin} */
const plainRequire = {
  name: 'plain-require',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      const m = /const\s+(\w+)\s*=\s*createRequire\(import\.meta\.url\);?/.exec(text);
      if (m) {
        const name = m[1];
        text = text.replace(m[0], '');
        text = text.replace(new RegExp(`\\b${name}\\(`, 'g'), 'require(');
        text = text.replace(/import\s*\{\s*createRequire\s*\}\s*from\s*['"](node:)?module['"];?/, '');
        if (/import\.meta/.test(text)) throw new Error(`${args.path}: import.meta left after the rewrite`);
      } else if (/import\.meta/.test(text)) {
        throw new Error(`${args.path}: uses import.meta in a way build.mjs does not rewrite`);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

const result = await build({
  entryPoints: ['scripts/gpu-check/check.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The Node (CommonJS) builds of every tfjs package, as the app itself loads them.
  mainFields: ['main', 'module'],
  external: EXTERNAL,
  plugins: [plainRequire],
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});

const inputs = Object.keys(result.metafile.inputs);
const cores = inputs.filter((p) => /tfjs-core\/dist\/tf-core\.node\.js$/.test(p) || /tfjs-core\/dist\/index\.js$/.test(p));
if (cores.length !== 1) {
  console.error(`expected exactly one tfjs-core in the bundle, found: ${cores.join(', ') || 'none'}`);
  process.exit(1);
}
console.log(`bundled ${inputs.length} modules into ${outfile} (tfjs-core: ${cores[0]})`);
