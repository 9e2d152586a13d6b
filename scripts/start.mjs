#!/usr/bin/env node
// `npm start`: the desktop app. With an Electron binary: better-sqlite3 built for Electron once
// (kept apart from the system Node's copy), then the app. Without one: browser mode in an app
// window of Chromium, Chrome or Edge (`--browser` forces that); without those, the URL.
// The logic lives in scripts/desktop/start.ts (run through tsx, a dev dependency).
import { tsImport } from 'tsx/esm/api';

const { main } = await tsImport('./desktop/start.ts', import.meta.url);
process.exit(await main(process.argv.slice(2)));
