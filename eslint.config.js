// Lint, including the layer boundaries of docs/architecture.md#layers: they are enforced here, not by review.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** src/core: pure TypeScript + tfjs + sharp, usable from a plain Node script. */
export const coreRestrictions = {
  paths: ['electron', 'svelte', 'better-sqlite3'].map((name) => ({
    name,
    message: 'src/core must run without Electron, Svelte or SQLite (docs/architecture.md).',
  })),
  patterns: [
    {
      group: ['svelte/*', 'electron/*', '**/main/**', '**/renderer/**', '../main', '../renderer', '../../main', '../../renderer'],
      message: 'src/core may not import from src/main or src/renderer (docs/architecture.md).',
    },
  ],
};

/** src/renderer: the UI talks to the back end only through the typed API. */
export const rendererRestrictions = {
  paths: nodeBuiltins.map((name) => ({ name, message: 'The renderer has no Node built-ins (sandboxed).' })),
  patterns: [
    {
      group: ['**/core/**', '**/core', '**/main/**', 'electron', 'better-sqlite3', '@tensorflow/*', 'sharp'],
      message: 'The renderer may use only src/shared and the typed API, not src/core or src/main.',
    },
  ],
};

/** src/shared: the contract between the layers; it depends on neither core nor main (types included). */
export const sharedRestrictions = {
  patterns: [
    {
      group: ['**/core/**', '**/core', '**/main/**', '**/main', 'electron', 'better-sqlite3', '@tensorflow/*'],
      message: 'src/shared may not import from src/core or src/main, not even types: define the shared type in src/shared (docs/architecture.md).',
    },
  ],
};

export default tseslint.config(
  {
    ignores: ['out/**', 'dist/**', 'node_modules/**', '.venv/**', '.cache/**', 'bench-results/**', 'coverage/**', 'test-artifacts/**', 'test/fixtures/**', 'resources/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
      globals: { ...globals.browser },
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', coreRestrictions] },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', sharedRestrictions] },
  },
  {
    files: ['src/renderer/**/*.ts', 'src/renderer/**/*.svelte'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'no-restricted-imports': ['error', rendererRestrictions] },
  },
);
