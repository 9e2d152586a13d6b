/**
 * The committed goldens are what the committed generator makes (issue 14): CI regenerates
 * test/fixtures/hf-golden with python/golden/make_fixtures.py (the pinned .venv, offline, one
 * thread) into a temp folder and compares.
 *
 * - Every input and model file (weights from seeded numpy, tokenizer.json, configs, the PEFT
 *   adapter, the images, the tokenizer-parity ids) must be identical byte for byte.
 * - golden.safetensors / golden.json (what torch computed: logits, log-probs, loss, gradients,
 *   the adapter after a step): ids and texts exactly, floats to 1e-5 of their scale. They are
 *   bitwise identical when regenerated on the same machine (measured), but torch's CPU
 *   kernels pick vector code paths by CPU (AVX2 / AVX-512), which may change float32 rounding
 *   on another machine; 1e-5 is ten times below the tightest comparison tolerance ours faces.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../src/core/hf/testing/helpers';
import { FAMILIES, GOLDEN_ROOT, readSafetensors, relDiff, runPython } from './hf-golden-support';
import { PYTHON_SKIP_REASON, describeWithPython } from './python-env';

async function filesUnder(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(root, p)));
    else out.push(relative(root, p));
  }
  return out.sort();
}

const COMPUTED = /(^|\/)golden\.(json|safetensors)$/;

/** Equal JSON, numbers that are not integers to `tol` of max(1, |want|). Returns the paths that differ. */
function jsonDiff(got: unknown, want: unknown, tol: number, path = '$'): string[] {
  if (typeof want === 'number' && typeof got === 'number') {
    if (Number.isInteger(want)) return got === want ? [] : [`${path}: ${got} vs ${want}`];
    return Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)) ? [] : [`${path}: ${got} vs ${want}`];
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return [`${path}: length differs`];
    return want.flatMap((w, i) => jsonDiff(got[i], w, tol, `${path}[${i}]`));
  }
  if (want && typeof want === 'object') {
    if (!got || typeof got !== 'object') return [`${path}: not an object`];
    const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
    return [...keys].flatMap((k) => jsonDiff((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], tol, `${path}.${k}`));
  }
  return got === want ? [] : [`${path}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`];
}

describeWithPython(`HF goldens regenerate from the committed script${PYTHON_SKIP_REASON}`, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let out: string;

  beforeAll(async () => {
    tmp = await tempDir('golden-regen');
    out = join(tmp.dir, 'hf-golden');
    await runPython('make_fixtures.py', ['--out', out], 600_000);
  }, 660_000);

  afterAll(async () => tmp?.cleanup());

  it('the same files; inputs, models, adapters and tokenizer ids byte for byte', async () => {
    const committed = await filesUnder(GOLDEN_ROOT);
    expect(await filesUnder(out)).toEqual(committed);
    expect(committed.filter((f) => COMPUTED.test(f))).toHaveLength(2 * FAMILIES.length);
    const differ: string[] = [];
    for (const f of committed.filter((x) => !COMPUTED.test(x))) {
      const [a, b] = await Promise.all([readFile(join(out, f)), readFile(join(GOLDEN_ROOT, f))]);
      if (!a.equals(b)) differ.push(f);
    }
    expect(differ).toEqual([]);
  });

  it.each(FAMILIES)('%s: golden.json and golden.safetensors equal, floats to 1e-5 of their scale', async (family) => {
    const got = JSON.parse(await readFile(join(out, family, 'golden.json'), 'utf8')) as unknown;
    const want = JSON.parse(await readFile(join(GOLDEN_ROOT, family, 'golden.json'), 'utf8')) as unknown;
    expect(jsonDiff(got, want, 1e-5)).toEqual([]);
    const [a, b] = await Promise.all([readSafetensors(join(out, family, 'golden.safetensors')), readSafetensors(join(GOLDEN_ROOT, family, 'golden.safetensors'))]);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    const worst: Record<string, number> = {};
    for (const [name, t] of b) {
      expect(a.get(name)!.shape, name).toEqual(t.shape);
      const d = relDiff(a.get(name)!.data, t.data);
      worst[name.split('.')[0]] = Math.max(worst[name.split('.')[0]] ?? 0, d);
      expect(d, name).toBeLessThanOrEqual(1e-5);
    }
    console.log(`[hf-golden regenerate] ${family} worst relative difference per tensor kind: ${JSON.stringify(worst)}`);
  });
});
