/**
 * `mdpo runs import-job <dir>`: an exported job (./export.ts) that ran elsewhere becomes a run in
 * the store: its config and lineage from job.json, its curves from out/events.jsonl (the
 * protocol's child messages, python/mdpo_torch/job.py), its checkpoints and final adapter copied
 * into the run's folder. A finished job becomes `completed`; one without a terminal message (killed,
 * preempted) becomes `interrupted` and `runs resume` continues it locally from its last checkpoint.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ImportedJobSummary, RunStatus, SerializedError } from '../../shared/api';
import type { Store } from '../store';
import { JOB_FORMAT, JOB_VERSION, type JobSpec } from './export';

export class ImportJobError extends Error {
  override name = 'ImportJobError';
}

interface Event {
  type: string;
  step?: number;
  totalSteps?: number;
  backend?: string;
  values?: Record<string, number | null>;
  path?: string;
  error?: SerializedError;
  time?: number;
}

function readSpec(dir: string): JobSpec {
  const file = join(dir, 'job.json');
  let spec: JobSpec;
  try {
    spec = JSON.parse(readFileSync(file, 'utf8')) as JobSpec;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new ImportJobError(e.code === 'ENOENT' ? `${dir} is not an exported job: it has no job.json.` : `${file} is not valid JSON: ${e.message}`);
  }
  if (spec?.format !== JOB_FORMAT) throw new ImportJobError(`${file}: field "format" must be "${JOB_FORMAT}".`);
  if (spec.version !== JOB_VERSION) throw new ImportJobError(`${file}: field "version" is ${JSON.stringify(spec.version)}; this app reads version ${JOB_VERSION}.`);
  if (!spec.config || typeof spec.config !== 'object') throw new ImportJobError(`${file}: field "config" is missing.`);
  return spec;
}

/** events.jsonl, tolerating a last line cut by a kill (it is ignored). */
export function readEvents(file: string): Event[] {
  if (!existsSync(file)) throw new ImportJobError(`${file} does not exist: the job has not been run (./launch.sh writes it).`);
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Event[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as Event);
    } catch {
      if (i < lines.length - 2) throw new ImportJobError(`${file}: line ${i + 1} is not valid JSON (only the last line may be cut short by a kill).`);
    }
  });
  return out;
}

/** The job's outcome from its events: the last session's terminal message decides. */
export function outcomeOf(events: Event[]): { status: RunStatus; error: SerializedError | null; totalSteps: number | null; backend: string | null; metrics: Map<number, Record<string, number | null>> } {
  let status: RunStatus = 'interrupted';
  let error: SerializedError | null = null;
  let totalSteps: number | null = null;
  let backend: string | null = null;
  const metrics = new Map<number, Record<string, number | null>>();
  for (const e of events) {
    if (e.type === 'started') {
      status = 'interrupted'; // a new session: only its own end counts
      error = null;
      totalSteps = e.totalSteps ?? totalSteps;
      backend = e.backend ?? backend;
    } else if (e.type === 'metrics' && typeof e.step === 'number' && e.values) metrics.set(e.step, e.values); // a resumed session re-logs steps: the last wins
    else if (e.type === 'done') status = 'completed';
    else if (e.type === 'cancelled') status = 'cancelled';
    else if (e.type === 'failed') {
      status = 'failed';
      error = e.error ?? { name: 'Error', message: 'The job failed (no message).' };
    }
  }
  return { status, error, totalSteps, backend, metrics };
}

function checkpointStep(folder: string): number | null {
  try {
    const state = JSON.parse(readFileSync(join(folder, 'state.json'), 'utf8')) as { step?: unknown };
    return typeof state.step === 'number' ? state.step : null;
  } catch {
    return null;
  }
}

export function importJob(store: Store, runsDir: string, dirIn: string): ImportedJobSummary {
  const dir = resolve(dirIn);
  const spec = readSpec(dir);
  const out = join(dir, 'out');
  const { status, error, totalSteps, backend, metrics } = outcomeOf(readEvents(join(out, 'events.jsonl')));
  const ckptRoot = join(out, 'checkpoints');
  const found = existsSync(ckptRoot)
    ? readdirSync(ckptRoot).filter((n) => /^checkpoint-\d+$/.test(n)).map((n) => ({ name: n, step: checkpointStep(join(ckptRoot, n)) })).filter((c): c is { name: string; step: number } => c.step !== null)
    : [];
  const hasAdapter = existsSync(join(out, 'adapter', 'adapter_model.safetensors'));
  if (status === 'completed' && !hasAdapter) throw new ImportJobError(`${join(out, 'adapter')} is missing although the job finished; copy the whole out/ folder.`);
  const model = join(dir, spec.model);
  const dataset = spec.lineage?.datasetId != null ? store.getDataset(spec.lineage.datasetId) : null;
  const runDir = join(runsDir, randomUUID());
  const config = { ...spec.config, baseModel: model, torch: { ...spec.config.torch, negativesDir: null } };
  const step = Math.max(0, ...metrics.keys());
  let runId = -1;
  try {
    runId = store.insertRun({
      name: `${spec.name} (imported job${spec.lineage?.run ? ` of run ${spec.lineage.run.id}` : ''})`,
      datasetId: dataset ? dataset.id : null,
      variant: config.variant,
      config: config as JobSpec['config'],
      runDir,
      parentCheckpoint: null,
      status,
    });
    for (const c of found) {
      cpSync(join(ckptRoot, c.name), join(runDir, 'checkpoints', c.name), { recursive: true });
      store.recordCheckpoint(runId, c.step, join(runDir, 'checkpoints', c.name));
    }
    if (hasAdapter) cpSync(join(out, 'adapter'), join(runDir, 'adapter'), { recursive: true });
    for (const [s, values] of [...metrics].sort((a, b) => a[0] - b[0])) store.bufferMetrics(runId, s, values);
    store.flushMetrics();
    store.updateRun(runId, { status, step, totalSteps, backend, error: status === 'interrupted' ? { name: 'ImportedJob', message: `Imported from a job that stopped at step ${step}; resume continues from its last checkpoint.` } : error });
  } catch (e) {
    if (runId >= 0) store.deleteRun(runId);
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
  return { runId, status, step, totalSteps, checkpoints: found.map((c) => c.step).sort((a, b) => a - b), adapter: hasAdapter };
}
