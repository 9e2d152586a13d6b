/**
 * The one set of API handler implementations. Electron IPC, the browser-mode HTTP server and
 * the CLI all call these (through ./dispatch, which validates inputs with src/shared/schemas).
 * The Handlers type is derived from the contract, so a missing or mistyped handler is a
 * compile error, and `satisfies` keeps each implementation's own inferred type.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiChannel, ApiOutputs, AppInfo, ConfigDiff, ImageData, RunDetail, RunSummary } from '../../shared/api';
import { BUILTIN_BASE, type ParsedInput, type TrainConfig } from '../../shared/schemas';
import type { ImageRef as CoreImageRef } from '../../core/data/types';
import { homePaths } from '../home';
import type { RunRow, Store } from '../store';
import type { Supervisor } from '../trainer/supervisor';
import type { DatasetService } from './datasets';
import { badRequest, conflict, HandlerError, notFound } from './errors';
import { createInspectHandlers } from './inspect-handlers';
import { InspectStore } from '../store/inspect';
import { forkTrainer, type TrainerLauncher } from '../trainer/launch';
import { baseKind } from '../trainer/base-kind';

export type Handlers = { [C in ApiChannel]: (input: ParsedInput<C>) => Promise<ApiOutputs[C]> };

export interface HandlerContext {
  store: Store;
  supervisor: Supervisor;
  /** The data folder. */
  home: string;
  /** The app's install folder (package.json, resources/). */
  appRoot: string;
  mode: AppInfo['mode'];
  /** A native file/folder dialog (Electron only). */
  pickPath?: (options: ParsedInput<'app:pickPath'>) => Promise<string | null>;
  /** Start training runs as soon as they are created (default true; the CLI may defer). */
  autoStart?: boolean;
  /** Starts trainer processes for answer jobs (default: child_process.fork). */
  launcher?: TrainerLauncher;
  trainerEnv?: Record<string, string>;
}

/** Pieces that exist in this build; the UI hides the rest. */
export const FEATURES: AppInfo['features'] = { datasets: true, training: true, evaluation: true, demo: true, ask: true };

function summary(run: RunRow): RunSummary {
  const { config: _c, runDir: _d, parentCheckpoint: _p, ownerPid: _o, trainerPid: _t, ...rest } = run;
  return rest;
}

/** Dotted paths whose values differ between configs. */
export function diffConfigs(configs: TrainConfig[]): ConfigDiff['differences'] {
  const flat = configs.map((c) => flatten(c as unknown as Record<string, unknown>));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
  return paths
    .map((path) => ({ path, values: flat.map((f) => f.get(path)) }))
    .filter((d) => d.values.some((v) => JSON.stringify(v) !== JSON.stringify(d.values[0])));
}

function flatten(obj: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === 'object' && !Array.isArray(value)) flatten(value as Record<string, unknown>, path, out);
    else out.set(path, value);
  }
  return out;
}

export function createHandlers(ctx: HandlerContext) {
  const { store, supervisor } = ctx;
  const paths = homePaths(ctx.home);
  // Heavy modules (tfjs, sharp, parquet) load on first use: `mdpo runs list` should not wait for them.
  let datasetService: Promise<DatasetService> | null = null;
  const ds = () =>
    (datasetService ??= import('./datasets').then((m) => new m.DatasetService(store, paths.datasets)));

  const getRun = (runId: number, field = 'runId'): RunRow => {
    const run = store.getRun(runId);
    if (!run) throw notFound(`Run ${runId}`, field);
    return run;
  };
  const summaryOf = (runId: number) => summary(getRun(runId));
  const inspect = createInspectHandlers({
    store,
    inspect: new InspectStore(store.db),
    supervisor,
    home: ctx.home,
    appRoot: ctx.appRoot,
    launcher: ctx.launcher ?? forkTrainer,
    trainerEnv: ctx.trainerEnv,
    datasets: ds,
  });

  /** The image behind an API ImageRef, as src/core/data reads it (for the model). */
  const coreImageRef = async (ref: string): Promise<CoreImageRef> => {
    const m = /^record:(\d+):(\d+)$/.exec(ref);
    if (m) return (await ds()).record(Number(m[1]), Number(m[2]), 'image').image;
    const o = /^output:(\d+)$/.exec(ref);
    const out = o ? store.getOutput(Number(o[1])) : null;
    if (out?.imagePath) return { kind: 'file', path: out.imagePath, relPath: out.imagePath };
    if (out?.image.startsWith('record:')) return coreImageRef(out.image);
    throw badRequest(`Unknown image reference "${ref}"; expected record:<datasetId>:<index> or output:<id>.`, 'image');
  };

  /** record:<datasetId>:<index> from a dataset; output:<id> from a stored output's image file. */
  const resolveImage = async (ref: string, size: number | undefined): Promise<ImageData> => {
    const evalItem = await inspect.image(ref, size);
    if (evalItem) return evalItem;
    const m = /^record:(\d+):(\d+)$/.exec(ref);
    if (m) return (await ds()).image(Number(m[1]), Number(m[2]), size);
    const o = /^output:(\d+)$/.exec(ref);
    if (o) {
      const out = store.getOutput(Number(o[1]));
      if (!out) throw notFound(`Output ${o[1]}`, 'ref');
      if (out.imagePath) return (await import('./datasets')).encodeImage(await readFile(out.imagePath), size);
      if (out.image.startsWith('record:')) return resolveImage(out.image, size);
      throw notFound(`The image of output ${o[1]}`, 'ref');
    }
    throw badRequest(`Unknown image reference "${ref}"; expected record:<datasetId>:<index> or output:<id>.`, 'ref');
  };

  // The probe imports torch (seconds): one run per backend unless asked to refresh.
  let doctor: Promise<ApiOutputs['app:doctor']> | null = null;

  const handlers = {
    'app:info': async () =>
      (await import('../app-info')).appInfo(ctx.appRoot, ctx.mode, {
        home: ctx.home,
        // The demo needs the shipped base model.
        features: { ...FEATURES, demo: existsSync(join(ctx.appRoot, 'resources', 'base-model', 'config.json')) },
      }),
    'app:pickPath': async (input) => (ctx.pickPath ? ctx.pickPath(input) : null),
    'app:doctor': async ({ refresh }) => {
      if (refresh || !doctor) doctor = import('../python/doctor').then((m) => m.runDoctor({ appRoot: ctx.appRoot }));
      return doctor.catch((error: unknown) => {
        doctor = null;
        throw error;
      });
    },

    'datasets:import': async (input) => {
      const detail = await (await ds()).import(input);
      supervisor.publish({ type: 'dataset:imported', datasetId: detail.id });
      return detail;
    },
    'datasets:list': async () => store.listDatasets(),
    'datasets:get': async ({ datasetId }) => (await ds()).get(datasetId),
    'datasets:records': async (input) => (await ds()).page(input),
    'datasets:report': async ({ datasetId }) => (await ds()).get(datasetId).report,
    'datasets:negativePreview': async (input) => (await ds()).negativePreview(input),
    'datasets:delete': async ({ datasetId }) => {
      const used = store.listRuns().filter((r) => r.datasetId === datasetId && supervisor.isLive(r.id));
      if (used.length) throw conflict(`Dataset ${datasetId} is used by running run ${used[0]!.id}.`);
      (await ds()).delete(datasetId);
      return { deleted: true as const };
    },

    'runs:create': async ({ config, pair }) => {
      const dataset = store.getDataset(config.datasetId);
      if (!dataset) throw notFound(`Dataset ${config.datasetId}`, 'config.datasetId');
      if (dataset.counts.valid === 0) throw badRequest(`Dataset ${dataset.name} has no valid records to train on.`, 'config.datasetId');
      if (config.holdOut >= dataset.counts.valid) {
        throw badRequest(`Holding out ${config.holdOut} of ${dataset.name}'s ${dataset.counts.valid} valid records leaves nothing to train on; hold out fewer.`, 'config.holdOut');
      }
      if (config.baseModel !== BUILTIN_BASE && !existsSync(join(config.baseModel, 'config.json'))) {
        throw badRequest(`No checkpoint at ${config.baseModel} (expected a folder with config.json and model.safetensors).`, 'config.baseModel');
      }
      // The tfjs engine trains the built-in base, its own format and the HF families of src/core/hf.
      if (config.engine === 'tfjs') await baseKind(config.baseModel).catch((e: Error) => Promise.reject(badRequest(e.message, 'config.baseModel')));
      const pairId = pair ? randomUUID() : null;
      const configs: TrainConfig[] = pair
        ? (['dpo', 'mdpo'] as const).map((variant) => ({ ...config, variant }))
        : [config];
      const ids = store.db.transaction(() =>
        configs.map((c) =>
          store.insertRun({
            name: c.name ? (pair ? `${c.name} (${c.variant})` : c.name) : `${c.variant} on ${dataset.name}`,
            datasetId: dataset.id,
            variant: c.variant,
            config: c,
            runDir: join(paths.runs, randomUUID()),
            pairId,
          }),
        ),
      )();
      if (ctx.autoStart !== false) for (const id of ids) supervisor.start(id);
      return ids.map(summaryOf);
    },
    'runs:list': async () => store.listRuns().map(summary),
    'runs:get': async ({ runId }): Promise<RunDetail> => {
      const run = getRun(runId);
      return {
        ...summary(run),
        config: run.config,
        parentCheckpoint: run.parentCheckpoint,
        checkpoints: store.listCheckpoints(runId),
        progress: supervisor.progress(runId),
      };
    },
    'runs:metrics': async ({ runId, names, afterStep }) => {
      getRun(runId);
      return { runId, series: store.readMetrics(runId, { names, afterStep }) };
    },
    'runs:pause': async ({ runId }) => {
      getRun(runId);
      supervisor.pause(runId);
      return summaryOf(runId);
    },
    'runs:resume': async ({ runId }) => {
      getRun(runId);
      supervisor.resume(runId);
      return summaryOf(runId);
    },
    'runs:cancel': async ({ runId }) => {
      getRun(runId);
      supervisor.cancel(runId);
      return summaryOf(runId);
    },
    'runs:delete': async ({ runId }) => {
      const run = getRun(runId);
      if (supervisor.isLive(runId)) throw conflict(`Run ${runId} is ${run.status}; cancel it before deleting.`);
      store.deleteRun(runId);
      rmSync(run.runDir, { recursive: true, force: true });
      return { deleted: true as const };
    },
    'runs:diff': async ({ runIds }) => {
      const runs = runIds.map((id, i) => getRun(id, `runIds.${i}`));
      return { runIds, differences: diffConfigs(runs.map((r) => r.config)) };
    },
    // Cluster jobs (src/main/jobs): loaded on first use (image rendering pulls in sharp).
    'runs:exportJob': async ({ runId, outDir, processes, copyModel }) => {
      getRun(runId);
      const jobs = await import('../jobs/cli-jobs');
      try {
        return await jobs.exportJobCommand({ store, home: ctx.home, appRoot: ctx.appRoot }, String(runId), { out: outDir, processes, 'no-model': !copyModel }, () => {});
      } catch (e) {
        throw e instanceof jobs.JobInputError ? badRequest(e.message, 'outDir') : e;
      }
    },
    'runs:importJob': async ({ dir }) => {
      const jobs = await import('../jobs/cli-jobs');
      try {
        return jobs.importJobCommand({ store, home: ctx.home }, dir);
      } catch (e) {
        throw e instanceof jobs.JobInputError ? badRequest(e.message, 'dir') : e;
      }
    },
    'runs:evaluate': async ({ runId, scenes, seed }) => {
      getRun(runId);
      // Runs in the background; progress and the end arrive as run:evaluation events.
      supervisor.evaluate(runId, { scenes, seed }).catch(() => {});
      return { runId, started: true as const };
    },
    'runs:evaluations': async ({ runId }) => {
      getRun(runId);
      return store.listEvaluations(runId);
    },
    'runs:outputs': async ({ runId, offset, limit, onlyHallucinated }) => {
      getRun(runId);
      return { ...store.pageOutputs(runId, offset, limit, onlyHallucinated), offset };
    },
    'runs:ask': async ({ runId, image, question, maxTokens }) => {
      const run = getRun(runId);
      if (!existsSync(join(run.runDir, 'adapter', 'adapter_config.json'))) {
        throw conflict(`Run ${runId} has no trained adapters yet (${run.status}); ask a completed run.`);
      }
      const answer = await supervisor.ask(runId, await coreImageRef(image), question, maxTokens);
      const { parsedObjects } = await import('../../core/demo/marks');
      return { runId, answer, objects: parsedObjects(answer), marks: null };
    },

    ...inspect.handlers,
    'images:get': async ({ ref, size }) => resolveImage(ref, size),

    'demo:start': async ({ preset }) => {
      const baseDir = join(ctx.appRoot, 'resources', 'base-model');
      if (!existsSync(join(baseDir, 'config.json'))) {
        throw new HandlerError('unavailable', `The demo needs the shipped base model at ${baseDir}, which this build does not have.`);
      }
      const outDir = join(ctx.home, 'demo', new Date().toISOString().replace(/[:.]/g, '-'));
      // Runs in the background; dataset:imported, run:* and demo:progress/demo:finished events follow it.
      supervisor.startDemo({ preset, baseDir, outDir }).catch(() => {});
      return { started: true as const, outDir, datasetId: null, runIds: [] };
    },
    'demo:cancel': async () => ({ cancelled: supervisor.cancelDemo() }),
  } satisfies Handlers;

  return { handlers: handlers as Handlers, answerJobs: inspect.jobs };
}
