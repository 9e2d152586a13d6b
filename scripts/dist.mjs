#!/usr/bin/env node
// `npm run dist [-- <electron-builder args>]`: the installers for this OS (electron-builder.yml).
// The logic lives in scripts/desktop/dist.ts (run through tsx, a dev dependency).
import { tsImport } from 'tsx/esm/api';

const { dist } = await tsImport('./desktop/dist.ts', import.meta.url);
process.exit(await dist(process.argv.slice(2)));
