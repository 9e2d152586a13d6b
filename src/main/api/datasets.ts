/**
 * Datasets: import through src/core/data (read-only on the user's files), keep the valid
 * records beside the store (datasets/<id>/records.json, a JSON list written a batch at a time),
 * serve pages of them, their images and hard-negative previews.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import sharp from 'sharp';
import { scanDataset } from '../../core/data/import';
import { readRecordsFileSync, RecordsWriter } from '../../core/data/records-file';
import type { NegativeStrategy } from '../../core/data/negatives';
import { readImageBytes } from '../../core/data/preprocess';
import { previewNegatives } from '../../core/data/preview';
import type { PreferenceRecord, ValidationReport } from '../../core/data/types';
import type { DatasetDetail, DatasetRecord, ImageData, NegativePreview, Page } from '../../shared/api';
import type { ParsedInput } from '../../shared/schemas';
import type { Store } from '../store';
import { badRequest, notFound } from './errors';

export class DatasetService {
  private cache = new Map<number, PreferenceRecord[]>();

  constructor(
    private readonly store: Store,
    private readonly folder: string,
  ) {
    removeAbandonedImports(folder);
  }

  /**
   * Streams the valid records into a temporary folder beside the others while the dataset is
   * read, then creates the store row and moves the folder into place. An import with no valid
   * record is refused (nothing written); a failure on the way removes what was written.
   */
  async import(input: ParsedInput<'datasets:import'>): Promise<DatasetDetail> {
    if (input.path.includes('\0')) {
      throw badRequest(`The path ${JSON.stringify(input.path)} contains a NUL byte (\\0, at character ${input.path.indexOf('\0') + 1}); no file or folder name can hold one.`, 'path');
    }
    const root = resolve(input.path);
    try {
      await stat(root);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a part of the path is a file, not a folder' : 'no such file or folder';
      throw badRequest(`Nothing to import at ${root}: ${why}.`, 'path');
    }
    mkdirSync(this.folder, { recursive: true });
    const temp = mkdtempSync(join(this.folder, `.import-${process.pid}-`));
    let id: number | null = null;
    try {
      const writer = new RecordsWriter(join(temp, 'records.json'));
      const result = await scanDataset(root, {}, (batch) => writer.write(batch));
      await writer.close();
      const s = result.report.summary;
      if (s.valid === 0) throw badRequest(refusal(root, result.report), 'path');
      id = this.store.insertDataset({
        name: input.name ?? basename(root),
        sourcePath: root,
        format: result.format ?? 'unknown',
        counts: { records: s.records, valid: s.valid, errors: s.excluded, warnings: s.warnings },
        report: result.report,
      });
      const dir = join(this.folder, String(id));
      rmSync(dir, { recursive: true, force: true });
      renameSync(temp, dir);
      return this.get(id);
    } catch (e) {
      rmSync(temp, { recursive: true, force: true });
      if (id !== null) this.store.deleteDataset(id);
      throw e;
    }
  }

  get(id: number): DatasetDetail {
    const d = this.store.getDataset(id);
    if (!d) throw notFound(`Dataset ${id}`, 'datasetId');
    return d;
  }

  records(id: number): PreferenceRecord[] {
    this.get(id);
    let records = this.cache.get(id);
    if (!records) {
      try {
        records = readRecordsFileSync(join(this.folder, String(id), 'records.json')) as PreferenceRecord[];
      } catch {
        records = [];
      }
      this.cache.set(id, records);
    }
    return records;
  }

  page(input: ParsedInput<'datasets:records'>): Page<DatasetRecord> {
    const all = this.records(input.datasetId);
    const report = this.get(input.datasetId).report;
    const items = all.slice(input.offset, input.offset + input.limit).map((r) => ({
      index: r.index,
      id: r.id,
      image: `record:${input.datasetId}:${r.index}`,
      prompt: r.prompt,
      chosen: r.chosen,
      rejected: r.rejected,
      source: { file: r.source.file, line: r.source.line ?? null },
      issues: report.issues.filter((i) => i.record === r.index),
    }));
    return { items, total: all.length, offset: input.offset };
  }

  delete(id: number): void {
    this.get(id);
    this.store.deleteDataset(id);
    this.cache.delete(id);
    rmSync(join(this.folder, String(id)), { recursive: true, force: true });
  }

  record(datasetId: number, index: number, field = 'recordIndex'): PreferenceRecord {
    const r = this.records(datasetId).find((x) => x.index === index);
    if (!r) throw notFound(`Record ${index} of dataset ${datasetId} (excluded, or out of range)`, field);
    return r;
  }

  async image(datasetId: number, index: number, size?: number): Promise<ImageData> {
    return encodeImage(Buffer.from(await readImageBytes(this.record(datasetId, index, 'ref').image)), size);
  }

  async negativePreview(p: ParsedInput<'datasets:negativePreview'>): Promise<NegativePreview> {
    const records = this.records(p.datasetId);
    const record = this.record(p.datasetId, p.recordIndex);
    const strategy: NegativeStrategy =
      p.strategy === 'crop'
        ? { kind: 'crop', minArea: p.cropMin, maxArea: p.cropMax }
        : p.strategy === 'augment'
          ? { kind: 'augment' }
          : { kind: 'random-image' };
    const others = records.filter((r) => r !== record).map((r) => r.image);
    if (strategy.kind === 'random-image' && others.length === 0) {
      throw badRequest('The random-image strategy needs a dataset with at least two valid records.', 'strategy');
    }
    const preview = await previewNegatives(record.image, strategy, p.count, p.seed, p.size, { others });
    const url = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;
    return { original: url(preview.original), negatives: preview.negatives.map(url), strategy: preview.label };
  }
}

/**
 * Removes the temporary folders of imports whose process is gone (the app or the CLI was
 * killed mid-import); another live process's import is left alone.
 */
export function removeAbandonedImports(folder: string): void {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.import-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (!alive) rmSync(join(folder, name), { recursive: true, force: true });
  }
}

/** Why an import with no valid record is refused: the counts and the first errors, in words. */
function refusal(root: string, report: ValidationReport): string {
  const errors = report.issues.filter((i) => i.severity === 'error');
  const first = errors.slice(0, 3).map((i) => i.message).join('; ');
  const more = errors.length > 3 ? `; and ${errors.length - 3} more errors` : '';
  const s = report.summary;
  return `Nothing imported from ${root}: ${s.records} records read, none valid (${errors.length} error${errors.length === 1 ? '' : 's'}). ${first || 'No record was found.'}${more}. Run "mdpo datasets validate" on it for the full report.`;
}

/** Any image file's bytes as a PNG data URL, optionally scaled so the longest side is `size`. */
export async function encodeImage(bytes: Buffer, size?: number): Promise<ImageData> {
  let pipeline = sharp(bytes).rotate();
  if (size) pipeline = pipeline.resize(size, size, { fit: 'inside', withoutEnlargement: true });
  const { data, info } = await pipeline.png().toBuffer({ resolveWithObject: true });
  return { dataUrl: `data:image/png;base64,${data.toString('base64')}`, width: info.width, height: info.height };
}
