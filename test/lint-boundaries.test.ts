/**
 * The layer boundaries of docs/architecture.md#layers are enforced by lint. Each planted violation below must
 * be caught; each allowed import must pass.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImportMessages(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries', () => {
  const planted: [string, string, RegExp][] = [
    ['src/core/planted.ts', "import { app } from 'electron';\nexport const a = app;\n", /without Electron/],
    ['src/core/train/planted.ts', "import Database from 'better-sqlite3';\nexport const d = Database;\n", /without Electron, Svelte or SQLite/],
    ['src/core/planted.ts', "import { mount } from 'svelte';\nexport const m = mount;\n", /without Electron, Svelte or SQLite/],
    ['src/core/model/planted.ts', "import { x } from '../../main/store/db';\nexport const y = x;\n", /may not import from src\/main/],
    ['src/core/planted.ts', "import { x } from '../renderer/src/lib/api';\nexport const y = x;\n", /may not import from src\/main or src\/renderer/],
    ['src/renderer/src/planted.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", /no Node built-ins/],
    ['src/renderer/src/planted.ts', "import { readFileSync } from 'fs';\nexport const r = readFileSync;\n", /no Node built-ins/],
    ['src/renderer/src/planted.ts', "import { initBackend } from '../../core/backend';\nexport const b = initBackend;\n", /not src\/core/],
    ['src/renderer/src/planted.ts', "import * as tf from '@tensorflow/tfjs-core';\nexport const t = tf;\n", /not src\/core/],
  ];

  it.each(planted)('catches the planted violation in %s: %s', async (filePath, code, expected) => {
    const messages = await restrictedImportMessages(code, filePath);
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.join('\n')).toMatch(expected);
  });

  it('allows what the layers may use', async () => {
    expect(await restrictedImportMessages("import * as tf from '@tensorflow/tfjs-core';\nexport const t = tf;\n", 'src/core/ok.ts')).toEqual([]);
    expect(await restrictedImportMessages("import type { Api } from '../../shared/api';\nexport type A = Api;\n", 'src/renderer/src/ok.ts')).toEqual([]);
    expect(await restrictedImportMessages("import { app } from 'electron';\nexport const a = app;\n", 'src/main/ok.ts')).toEqual([]);
  });
});
