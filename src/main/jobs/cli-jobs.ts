/** `mdpo runs export-job` / `import-job` (src/main/cli.ts) and the runs:exportJob / runs:importJob API channels. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { trainConfigSchema } from '../../shared/schemas';
import { defaultAppRoot } from '../backend-context';
import { homePaths } from '../home';
import { readPackageInfo } from '../package-info';
import type { Store } from '../store';
import { ExportError, exportJob } from './export';
import type { ImportedJobSummary } from '../../shared/api';
import { ImportJobError, importJob } from './import';

export const HELP_JOBS = `  runs export-job <id | config.json> --out <dir> [--processes N] [--no-model]
                                      a self-contained torch-engine job for another machine or a
                                      cluster: data, m', model, engine, launch.sh, slurm.sbatch
  runs import-job <dir>               a finished or interrupted exported job back as a run (curves,
                                      checkpoints, adapter); an interrupted one resumes with runs resume
`;

export class JobInputError extends Error {
  override name = 'JobInputError';
}

/** What the job commands need from the app: the store and its data folder. */
export interface JobContext {
  store: Store;
  home: string;
  appRoot?: string;
}

export async function exportJobCommand(b: JobContext, what: string, flags: { out?: string; processes?: string | number; 'no-model'?: boolean }, log: (m: string) => void): Promise<{ dir: string; files: number }> {
  if (!flags.out) throw new JobInputError('runs export-job needs --out <dir>.');
  const processes = flags.processes === undefined ? 1 : Number(flags.processes);
  const appRoot = b.appRoot ?? defaultAppRoot();
  let config;
  let run: { id: number; name: string } | null = null;
  let name: string;
  if (/^\d+$/.test(what)) {
    const row = b.store.getRun(Number(what));
    if (!row) throw new JobInputError(`Run ${what} does not exist.`);
    config = row.config;
    run = { id: row.id, name: row.name };
    name = row.name;
  } else {
    const file = resolve(what);
    if (!existsSync(file)) throw new JobInputError(`${what} is neither a run id nor a config file.`);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new JobInputError(`${file} is not valid JSON: ${(e as Error).message}`);
    }
    const parsed = trainConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new JobInputError(`${file}: ${issue.path.join('.') || 'config'}: ${issue.message}`);
    }
    config = parsed.data;
    name = config.name ?? `${config.variant} job`;
  }
  const dataset = b.store.getDataset(config.datasetId);
  if (!dataset) throw new JobInputError(`Dataset ${config.datasetId} (config.datasetId) does not exist in ${b.home}.`);
  try {
    return await exportJob({
      config, name, run, processes, copyModel: !flags['no-model'], outDir: resolve(flags.out), home: b.home, appRoot,
      appVersion: readPackageInfo(appRoot).version, log,
      dataset: { id: dataset.id, name: dataset.name, recordsFile: join(b.home, 'datasets', String(dataset.id), 'records.json') },
    });
  } catch (e) {
    if (e instanceof ExportError) throw new JobInputError(e.message);
    throw e;
  }
}

export function importJobCommand(b: JobContext, dir: string): ImportedJobSummary {
  try {
    return importJob(b.store, homePaths(b.home).runs, dir);
  } catch (e) {
    if (e instanceof ImportJobError) throw new JobInputError(e.message);
    throw e;
  }
}
