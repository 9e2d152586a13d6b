/** src/shared depends on nothing of src/core or src/main, not even a type (issue 18, item 6). */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restricted(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('src/shared boundary', () => {
  it.each([
    "import type { DataIssue } from '../core/data/types';\nexport type D = DataIssue;\n",
    "export type { ValidationReport } from '../core/data/types';\n",
    "import type { Store } from '../main/store';\nexport type S = Store;\n",
  ])('refuses %s', async (code) => {
    expect((await restricted(code, 'src/shared/planted.ts')).join('\n')).toMatch(/src\/shared may not import from src\/core or src\/main/);
  });

  it('allows shared-to-shared imports, and every file of src/shared passes', async () => {
    expect(await restricted("import type { DataIssue } from './validation';\nexport type D = DataIssue;\n", 'src/shared/ok.ts')).toEqual([]);
    const results = await eslint.lintFiles(['src/shared/**/*.ts']);
    const found = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}: ${m.message}`));
    expect(found).toEqual([]);
  });
});
