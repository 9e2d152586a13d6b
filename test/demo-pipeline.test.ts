/**
 * The demo end to end, reduced (a few steps, a few scenes, a tiny eval) from a tiny seeded base:
 * pairs sampled and judged, written as a dataset folder and imported, dpo and mdpo trained,
 * base/dpo/mdpo evaluated, results.json/md + report.html written, and the runs mirrored into a
 * real run store through src/main/demo-store.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend';
import { parseResults, runDemo, type DemoResult, type ProgressEvent } from '../src/core/demo';
import { saveCheckpoint } from '../src/core/model/checkpoint';
import { withOverrides } from '../src/core/model/config';
import { Vlm } from '../src/core/model/model';
import { Rng } from '../src/core/rng';
import { worldModelConfig, worldTokenizer } from '../src/core/world/base';
import { demoStoreHooks } from '../src/main/demo-store';
import { ensureHome } from '../src/main/home';
import { Store } from '../src/main/store';

let dir: string;
let result: DemoResult;
let store: Store;
let state: ReturnType<typeof demoStoreHooks>['state'];
const progress: ProgressEvent[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'demo-pipeline-'));
  await initBackend('wasm');
  const tokenizer = worldTokenizer();
  const config = worldModelConfig(tokenizer, withOverrides(worldModelConfig(tokenizer), { text: { numLayers: 1 }, vision: { numLayers: 1 } }));
  const base = Vlm.create(config, Rng.derive(3, 'demo-test/base'));
  await saveCheckpoint(path.join(dir, 'base'), base, { tokenizer });
  base.dispose();
  const paths = ensureHome(path.join(dir, 'home'));
  store = Store.open(paths.db);
  const s = demoStoreHooks(store, paths);
  state = s.state;
  result = await runDemo(
    {
      baseDir: path.join(dir, 'base'),
      outDir: path.join(dir, 'out'),
      preset: 'quick',
      pairScenes: 10,
      evalScenes: 4,
      relianceScenes: 4,
      steps: 2,
      samples: 3,
      backend: 'wasm',
    },
    { ...s.hooks, onProgress: (e) => progress.push(e) },
  );
}, 120_000);

afterAll(async () => {
  store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('runDemo (reduced)', () => {
  it('writes results.json that parses, with base, dpo and mdpo scored on every metric', async () => {
    const json = parseResults(JSON.parse(await readFile(path.join(dir, 'out', 'results.json'), 'utf8')));
    expect(json.kind).toBe('demo');
    expect(json.arms.map((a) => a.name)).toEqual(['base', 'dpo', 'mdpo']);
    for (const a of json.arms) {
      expect(a.seeds).toHaveLength(1);
      const m = a.seeds[0].metrics;
      // Rates are finite and in [0, 1] (NaN fails both bounds); reliance is a finite nat difference.
      for (const key of ['chair_s', 'chair_i', 'cover', 'cog', 'pope_random_acc', 'pope_popular_f1', 'pope_adversarial_yes', 'reliance_pos', 'perception_color', 'perception_shape', 'perception_object']) {
        const v = m[key] ?? NaN; // null (a NaN written to JSON) fails like NaN
        expect(v >= 0 && v <= 1, `${a.name} ${key} = ${m[key]}`).toBe(true);
      }
      expect(Number.isFinite(m.reliance), `${a.name} reliance = ${m.reliance}`).toBe(true);
      expect(m).not.toHaveProperty('hal'); // AMBER's Hal is CHAIR_s
    }
    const [, dpo, mdpo] = json.arms;
    expect(dpo.seeds[0].steps).toBe(2);
    expect(mdpo.seeds[0].steps).toBe(2);
    expect(Object.keys(mdpo.curves)).toEqual(expect.arrayContaining(['loss', 'loss/dpo', 'loss/conditional', 'loss/anchor']));
    expect(mdpo.curves.loss.steps).toEqual([1, 2]);
    // Step 1 starts from the reference (LoRA B = 0): every mDPO term is log 2, DPO's loss is log 2.
    expect(mdpo.curves.loss.values[0]).toBeCloseTo(3 * Math.LN2, 5);
    expect(dpo.curves.loss.values[0]).toBeCloseTo(Math.LN2, 5);
    for (const v of [...mdpo.curves.loss.values, ...dpo.curves.loss.values]) expect(Number.isFinite(v)).toBe(true);
    expect(dpo.curves['loss/conditional']).toBeUndefined(); // dpo does not score m'
    expect(json.dataset.pairs).toBeGreaterThan(0);
    expect(json.dataset.evalScenes).toBe(4);
    expect(json.samples).toHaveLength(3);
    expect(result.results.arms).toHaveLength(3);
  });

  it('writes the markdown table', async () => {
    const md = await readFile(path.join(dir, 'out', 'results.md'), 'utf8');
    expect(md).toContain('| metric | base | dpo | mdpo |');
    expect(md).toContain('| CHAIR_s ↓ |');
    expect(md).toContain('| POPE adversarial F1 ↑ |');
  });

  it('writes a self-contained report with both answers of every sample and their marks', async () => {
    const html = await readFile(path.join(dir, 'out', 'report.html'), 'utf8');
    expect(html).not.toMatch(/(src|href)="https?:/); // no external resources
    expect(html).not.toMatch(/<link|<script/);
    expect(html).toContain('<svg');
    const json = result.results;
    let marks = 0;
    for (const s of json.samples) {
      expect(html).toContain(`data-scene="${s.sceneId}"`);
      expect(s.answers.dpo).toBeDefined();
      expect(s.answers.mdpo).toBeDefined();
      expect(html).toContain(`data-arm="dpo"`);
      expect(html).toContain(`data-arm="mdpo"`);
      for (const a of Object.values(s.answers)) marks += a.marks.length;
    }
    const cards = html.slice(html.indexOf('<div class="samples">'));
    expect((cards.match(/<mark class="(ok|hal)"/g) ?? []).length).toBe(marks);
    expect(html).toContain('<mark class="hal">hallucinated</mark>'); // the legend
    expect(html).toMatch(/src="data:image\/png;base64,/);
  });

  it('reports progress per phase, each phase finishing once', () => {
    const finished = progress.filter((e) => e.finished).map((e) => e.phase);
    expect(finished).toEqual(expect.arrayContaining(['pairs', 'import', 'held-out pairs', 'eval base', 'train dpo', 'eval dpo', 'train mdpo', 'eval mdpo']));
    expect(new Set(finished).size).toBe(finished.length);
  });

  it('mirrors the dataset and both runs into the run store', () => {
    const datasets = store.listDatasets();
    expect(datasets).toHaveLength(1);
    expect(datasets[0].counts.valid).toBe(result.results.dataset.pairs);
    const runs = store.listRuns();
    expect(runs.map((r) => r.variant).sort()).toEqual(['dpo', 'mdpo']);
    expect(new Set(runs.map((r) => r.pairId)).size).toBe(1);
    for (const r of runs) {
      expect(r.status).toBe('completed');
      expect(r.step).toBe(2);
      expect(r.datasetId).toBe(datasets[0].id);
      expect(r.config.datasetId).toBe(datasets[0].id);
      const loss = store.readMetrics(r.id, { names: ['loss'] })[0];
      expect(loss.steps).toEqual([1, 2]);
      const evals = store.listEvaluations(r.id);
      expect(evals.map((e) => `${e.metric}/${e.setting}`)).toEqual(expect.arrayContaining(['CHAIR_s/', 'POPE/f1/adversarial', 'image_reliance/', 'image_reliance/before (base)']));
      const outputs = store.pageOutputs(r.id, 0, 100);
      expect(outputs.total).toBe(4);
      for (const o of outputs.items) {
        expect(o.question).toBe('Describe the image.');
        expect(Array.isArray(o.marks)).toBe(true);
        expect(o.image).toMatch(/^output:\d+$/);
      }
    }
    // Both runs' outputs of a scene share one image ref (the UI pairs outputs on it).
    const [a, b] = runs.map((r) => store.pageOutputs(r.id, 0, 100).items.map((o) => o.image));
    expect(a).toEqual(b);
    expect(state.runIds.size).toBe(2);
  });
});
