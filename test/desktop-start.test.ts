/**
 * `npm start`'s decisions (issue 19): whether an Electron binary is there (or can be fetched),
 * and whether out/ is current (then no rebuild). The paths themselves run in
 * desktop-app-window.test.ts (no Electron) and on a workstation (Electron).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIsFresh, electronBinary } from '../scripts/desktop/start';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'mdpo-start-'));
  dirs.push(d);
  return d;
}
function write(path: string, text = '', mtimeSec?: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  if (mtimeSec !== undefined) utimesSync(path, mtimeSec, mtimeSec);
}

describe('electronBinary', () => {
  it('the executable path.txt names, when it exists', () => {
    const root = temp();
    write(join(root, 'node_modules/electron/package.json'), '{}');
    write(join(root, 'node_modules/electron/path.txt'), 'electron');
    expect(electronBinary(root)).toBeNull();
    write(join(root, 'node_modules/electron/dist/electron'), '#!/bin/sh');
    expect(electronBinary(root)).toBe(join(root, 'node_modules/electron/dist/electron'));
  });

  it('no binary yet: one download attempt (electron\'s install.js); its failure means no Electron', () => {
    const root = temp();
    write(join(root, 'node_modules/electron/package.json'), '{}');
    write(join(root, 'node_modules/electron/install.js'), `require('fs').writeFileSync(${JSON.stringify(join(root, 'tried'))}, 'yes'); process.exit(1);`);
    expect(electronBinary(root)).toBeNull();
    expect(readFileSync(join(root, 'tried'), 'utf8')).toBe('yes');
  });

  it('a download that succeeds is used', () => {
    const root = temp();
    const dir = join(root, 'node_modules/electron');
    write(join(dir, 'package.json'), '{}');
    write(join(dir, 'install.js'), `const fs = require('fs'); fs.mkdirSync(${JSON.stringify(join(dir, 'dist'))}); fs.writeFileSync(${JSON.stringify(join(dir, 'dist', 'electron'))}, ''); fs.writeFileSync(${JSON.stringify(join(dir, 'path.txt'))}, 'electron');`);
    expect(electronBinary(root)).toBe(join(dir, 'dist', 'electron'));
  });

  it('electron not installed at all: none', () => {
    expect(electronBinary(temp())).toBeNull();
  });
});

describe('buildIsFresh', () => {
  it('true only when every entry of out/ exists and is newer than every source', () => {
    const root = temp();
    write(join(root, 'src/main/index.ts'), '', 1000);
    write(join(root, 'package.json'), '{}', 1000);
    expect(buildIsFresh(root)).toBe(false);
    for (const f of ['main/index.js', 'main/trainer.js', 'preload/index.cjs']) write(join(root, 'out', f), '', 2000);
    expect(buildIsFresh(root)).toBe(false); // renderer missing
    write(join(root, 'out/renderer/index.html'), '', 2000);
    utimesSync(join(root, 'src/main'), 1000, 1000);
    utimesSync(join(root, 'src'), 1000, 1000);
    expect(buildIsFresh(root)).toBe(true);
    write(join(root, 'src/renderer/App.svelte'), '', 3000);
    expect(buildIsFresh(root)).toBe(false);
  });
});
