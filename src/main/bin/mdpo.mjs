#!/usr/bin/env node
// The `mdpo` command (package.json "bin"). In a source checkout with tsx installed it runs
// src/main/cli.ts directly (always current); otherwise, or with MDPO_CLI_BUILT=1, the built
// out/main/cli.js from `npm run build`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const source = join(root, 'src', 'main', 'cli.ts');
const built = join(root, 'out', 'main', 'cli.js');

async function load() {
  if (process.env.MDPO_CLI_BUILT !== '1' && existsSync(source)) {
    try {
      const { register } = await import('tsx/esm/api');
      register();
      return await import(pathToFileURL(source).href);
    } catch (error) {
      if (!existsSync(built)) throw error;
    }
  }
  if (!existsSync(built)) {
    process.stderr.write('mdpo: neither src/main/cli.ts (with tsx) nor out/main/cli.js is available; run `npm run build`.\n');
    process.exit(1);
  }
  return import(pathToFileURL(built).href);
}

const { runCli } = await load();
process.exit(await runCli(process.argv.slice(2)));
