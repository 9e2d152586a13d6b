/**
 * Writes the demo's (and the study's) runs into the app's run store, so the UI shows them like
 * any other runs: the pair dataset (with its import report and records), one run per trained
 * arm and seed (config, status, per-step metrics), its held-out evaluation rows and its greedy
 * descriptions with parsed objects and hallucination marks. src/core/demo stays free of SQLite:
 * this file only implements its hooks.
 *
 *   const s = openDemoStore(home);                     // home: the app's data folder
 *   await runDemo(options, { ...s.hooks, onProgress });
 *   s.close();
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StudyHooks } from '../core/demo/study';
import { ensureHome, resolveHome, type HomePaths } from './home';
import { readPackageInfo } from './package-info';
import { Store } from './store';

export interface DemoStoreState {
  datasetId: number | null;
  /** dpo and mdpo of the same seed share a pair id (the UI's side-by-side view). */
  pairIds: Map<number, string>;
  /** run id by "arm@seed". */
  runIds: Map<string, number>;
}

/** Hooks that mirror a study into `store`; the home's folders hold dataset records and run dirs. */
export function demoStoreHooks(store: Store, paths: HomePaths): { hooks: StudyHooks; state: DemoStoreState } {
  const state: DemoStoreState = { datasetId: null, pairIds: new Map(), runIds: new Map() };
  /** The first output of each scene gives the image ref every run's output of that scene shares. */
  const sceneRefs = new Map<string, string>();
  const now = () => new Date().toISOString();
  const key = (arm: string, seed: number) => `${arm}@${seed}`;

  const hooks: StudyHooks = {
    onDataset: (d) => {
      const s = d.import.report.summary;
      const id = store.insertDataset({
        name: d.name,
        sourcePath: d.dir,
        format: d.import.format ?? 'unknown',
        counts: { records: s.records, valid: s.valid, errors: s.excluded, warnings: s.warnings },
        report: d.import.report,
      });
      const dir = join(paths.datasets, String(id));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'records.json'), JSON.stringify(d.import.records));
      state.datasetId = id;
    },
    onRunStart: (run) => {
      if (!run.config) return;
      let pairId: string | null = null;
      if (run.arm.name === 'dpo' || run.arm.name === 'mdpo') {
        pairId = state.pairIds.get(run.seed) ?? randomUUID();
        state.pairIds.set(run.seed, pairId);
      }
      const id = store.insertRun({
        name: `demo: ${run.arm.name}${run.seed === 1 ? '' : ` (seed ${run.seed})`}`,
        datasetId: state.datasetId,
        variant: run.config.variant,
        config: { ...run.config, datasetId: state.datasetId ?? run.config.datasetId },
        runDir: join(paths.runs, randomUUID()),
        pairId,
        status: 'running',
      });
      store.updateRun(id, { backend: run.backend, totalSteps: run.totalSteps, startedAt: now(), ownerPid: process.pid });
      state.runIds.set(key(run.arm.name, run.seed), id);
    },
    onStep: (run, e) => {
      const id = state.runIds.get(key(run.arm.name, run.seed));
      if (id === undefined) return;
      store.bufferMetrics(id, e.step, { ...e.metrics, 'throughput/pairs_per_sec': e.pairsPerSec, 'throughput/tokens_per_sec': e.tokensPerSec });
      store.flushMetrics();
      store.updateRun(id, { step: e.step, totalSteps: e.totalSteps });
    },
    onRunEnd: (run, r) => {
      const id = state.runIds.get(key(run.arm.name, run.seed));
      if (id === undefined) return;
      // The adapters go where every run keeps them, so ask/evaluate/export work on demo runs too.
      const row = store.getRun(id);
      if (r.status === 'completed' && r.adapterDir && row) cpSync(r.adapterDir, join(row.runDir, 'adapter'), { recursive: true });
      store.flushMetrics();
      store.updateRun(id, { status: r.status, step: r.steps, finishedAt: now(), ownerPid: null, error: r.error ?? null });
    },
    onEvaluated: (run, e) => {
      const id = state.runIds.get(key(run.arm.name, run.seed));
      if (id === undefined) return; // the base has no run of its own; its reliance is stored as "before" on every run
      store.db.transaction(() => {
        store.putEvaluations(id, e.rows);
        const ids = store.insertOutputs(
          e.outputs.map((o) => ({ runId: id, image: sceneRefs.get(o.sceneId) ?? '', imagePath: o.imagePath, question: o.question, answer: o.answer, objects: o.objects, marks: o.marks })),
        );
        const setImage = store.db.prepare('UPDATE outputs SET image = ? WHERE id = ?');
        e.outputs.forEach((o, i) => {
          if (sceneRefs.has(o.sceneId)) return;
          const ref = `output:${ids[i]}`;
          sceneRefs.set(o.sceneId, ref);
          setImage.run(ref, ids[i]);
        });
      })();
    },
  };
  return { hooks, state };
}

/** Opens the store of `home` (default $MDPO_HOME or ~/.mdpo-studio) and returns its hooks. */
export function openDemoStore(home: string = resolveHome()): { store: Store; hooks: StudyHooks; state: DemoStoreState; path: string; close(): void } {
  const paths = ensureHome(home);
  let appVersion = '0.0.0';
  try {
    appVersion = readPackageInfo(join(import.meta.dirname ?? '.', '..', '..')).version;
  } catch {
    // the version only labels the migration record
  }
  const store = Store.open(paths.db, { appVersion });
  const { hooks, state } = demoStoreHooks(store, paths);
  return { store, hooks, state, path: paths.db, close: () => store.close() };
}
