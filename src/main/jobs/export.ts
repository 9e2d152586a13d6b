/**
 * `mdpo runs export-job`: a self-contained folder that trains a run on another machine (a GPU
 * server, a cluster) with the torch engine, without the app:
 *
 *   job.json              the job spec (format mdpo-studio/cluster-job): config, relative paths, lineage
 *   data/records.json     the dataset's records (image paths made relative; the engine reads pixels from data/images)
 *   data/images/          m and m' rendered by the app's own data code (python/PROTOCOL.md 3.1)
 *   model/                the base model folder (copied; --no-model leaves it to the cluster: see README)
 *   engine/mdpo_torch/    the engine's source    requirements.txt   the pinned packages
 *   accelerate.yaml (DDP)   accelerate-fsdp.yaml (FSDP2)   launch.sh   slurm.sbatch   README.md
 *
 * Nothing in it names a path of this machine: every path is relative to the folder
 * (python/mdpo_torch/job.py resolves them where the job runs).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, renameSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { renderTorchImages } from '../python/images';
import type { PreferenceRecord } from '../../core/data/types';
import { BUILTIN_BASE, type TrainConfig } from '../../shared/schemas';
import { accelerateFsdpYaml, acceleratePlainYaml, jobReadme, launchScript, slurmScript } from './templates';

export const JOB_FORMAT = 'mdpo-studio/cluster-job';
export const JOB_VERSION = 1;

export interface JobSpec {
  format: typeof JOB_FORMAT;
  version: typeof JOB_VERSION;
  runId: number;
  name: string;
  /** The config the run trains with; baseModel and torch.negativesDir are set where the job runs. */
  config: TrainConfig;
  model: string;
  images: string;
  records: string;
  /** Where the job came from (ids in the exporting store; no paths). */
  lineage: { run: { id: number; name: string } | null; datasetId: number | null; datasetName: string | null; exportedAt: string; app: string };
  processes: number;
}

export interface ExportInput {
  config: TrainConfig;
  name: string;
  /** The run it was exported from, or null for a config file. */
  run: { id: number; name: string } | null;
  dataset: { id: number; name: string; recordsFile: string };
  appRoot: string;
  home: string;
  outDir: string;
  processes: number;
  copyModel: boolean;
  appVersion: string;
  log?: (message: string) => void;
}

export class ExportError extends Error {
  override name = 'ExportError';
}

/** The engine's files: python/mdpo_torch without caches or tests. */
function copyEngine(appRoot: string, to: string): void {
  const from = join(appRoot, 'python', 'mdpo_torch');
  if (!existsSync(join(from, '__init__.py'))) throw new ExportError(`The torch engine's source is missing at ${from}.`);
  cpSync(from, join(to, 'mdpo_torch'), { recursive: true, filter: (src) => !/__pycache__|\.pyc$/.test(src) });
}

/** Records with relative image paths (their pixels travel in data/images). */
function portableRecords(records: PreferenceRecord[]): PreferenceRecord[] {
  return records.map((r) => ({
    ...r,
    image: r.image.kind === 'file' ? { kind: 'file', path: r.image.relPath, relPath: r.image.relPath } : { ...r.image, file: r.image.file.split(/[\\/]/).pop() ?? r.image.file },
    source: { ...r.source, file: r.source.file.split(/[\\/]/).pop() ?? r.source.file },
  }));
}

/** The config as the job folder carries it: no interpreter or folder of this machine. */
function portableConfig(config: TrainConfig): TrainConfig {
  return { ...config, engine: 'torch', baseModel: 'model', torch: { ...config.torch, python: null, negativesDir: 'data/images' } };
}

export async function exportJob(input: ExportInput): Promise<{ dir: string; files: number }> {
  const { config, outDir } = input;
  if (config.baseModel === BUILTIN_BASE) {
    throw new ExportError('The built-in world base trains on the tfjs engine only; a cluster job needs a Hugging Face model folder (config.baseModel).');
  }
  if (!existsSync(join(config.baseModel, 'config.json'))) throw new ExportError(`No model folder at ${config.baseModel} (config.baseModel): expected config.json and *.safetensors.`);
  if (!Number.isInteger(input.processes) || input.processes < 1) throw new ExportError(`Expected --processes to be a positive integer, but got ${input.processes}`);
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new ExportError(`${outDir} exists and is not empty; choose a new folder for the job.`);
  // Written under a temporary sibling, renamed into place: an interrupted export leaves no half-written job.
  const tmp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(join(tmp, 'data'), { recursive: true });
    const records = JSON.parse(readFileSync(input.dataset.recordsFile, 'utf8')) as PreferenceRecord[];
    writeFileSync(join(tmp, 'data', 'records.json'), JSON.stringify(portableRecords(records)));
    input.log?.('rendering m and m\' for the job');
    const torchConfig: TrainConfig = { ...config, engine: 'torch' };
    const { manifest } = await renderTorchImages({ config: torchConfig, recordsFile: input.dataset.recordsFile, outDir: join(tmp, 'data', 'images'), home: input.home, log: input.log });
    if (manifest.pairs.every((p) => 'skipped' in p)) throw new ExportError(`None of dataset ${input.dataset.name}'s records could be prepared (see its import report).`);
    if (input.copyModel) {
      input.log?.(`copying the base model (${config.baseModel})`);
      cpSync(config.baseModel, join(tmp, 'model'), { recursive: true, filter: (src) => !/[\\/]\.(git|cache)([\\/]|$)/.test(src) });
    }
    copyEngine(input.appRoot, join(tmp, 'engine'));
    copyFileSync(join(input.appRoot, 'python', 'requirements.txt'), join(tmp, 'requirements.txt'));
    const spec: JobSpec = {
      format: JOB_FORMAT, version: JOB_VERSION, runId: input.run?.id ?? 1, name: input.name,
      config: portableConfig(config), model: 'model', images: 'data/images', records: 'data/records.json',
      lineage: { run: input.run, datasetId: input.dataset.id, datasetName: input.dataset.name, exportedAt: new Date().toISOString(), app: `mdpo-studio ${input.appVersion}` },
      processes: input.processes,
    };
    writeFileSync(join(tmp, 'job.json'), JSON.stringify(spec, null, 2));
    writeFileSync(join(tmp, 'accelerate.yaml'), acceleratePlainYaml(input.processes));
    writeFileSync(join(tmp, 'accelerate-fsdp.yaml'), accelerateFsdpYaml(input.processes));
    writeFileSync(join(tmp, 'launch.sh'), launchScript(input.processes));
    chmodSync(join(tmp, 'launch.sh'), 0o755);
    writeFileSync(join(tmp, 'slurm.sbatch'), slurmScript(input.processes));
    writeFileSync(join(tmp, 'README.md'), jobReadme(spec, input.copyModel));
    if (existsSync(outDir)) rmSync(outDir, { recursive: true });
    renameSync(tmp, outDir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  return { dir: outDir, files: countFiles(outDir) };
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    n += statSync(p).isDirectory() ? countFiles(p) : 1;
  }
  return n;
}
