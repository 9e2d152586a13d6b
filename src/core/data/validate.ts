/**
 * Per-record validation: text fields, image markers, image files, duplicates, token budget.
 * Every problem is an issue naming the record, the field and the file; a record with an error
 * is excluded, everything else is kept. Never throws for bad records.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkImageBytes, DEFAULT_MAX_FILE_BYTES, type ImageCheck, type ImageCheckOptions } from './image-check';
import { recordIssue } from './issues';
import { resolveImagePath } from './paths';
import type { Candidate, ImageSpec } from './records';
import { cleanPrompt, countImageMarkers, stripAnswerEnd, stripImageMarkers } from './text';
import type { DataIssue, ImageInfo, ImageRef, PreferenceRecord, SourcePos } from './types';

/** Anything with encode (the model's TextTokenizer, or a Hugging Face tokenizer wrapper). */
export interface TokenCounter {
  encode(text: string): number[];
}

export interface TokenBudget {
  tokenizer: TokenCounter;
  /** Default 1024 (docs/objective.md: prompt 1024, answer 1024). */
  maxPromptTokens?: number;
  /** Default 1024, counting the end-of-answer token. */
  maxAnswerTokens?: number;
}

/** Lengths in characters, checked when no tokenizer is given (default 1024 tokens' worth each). */
export interface CharBudget {
  maxPromptChars?: number;
  maxAnswerChars?: number;
}

export interface ValidateOptions extends ImageCheckOptions {
  budget?: TokenBudget;
  /** Used when `budget` is absent: default 4096 characters for the prompt and for each answer. */
  charBudget?: CharBudget;
  /** Images checked at once (default 4). */
  concurrency?: number;
  /** Called after each batch of records: bytes of the data files read so far, and in all. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

interface Work {
  c: Candidate;
  issues: DataIssue[];
  prompt?: string;
  chosen?: string;
  rejected?: string;
  image?: ImageRef;
  check?: ImageCheck;
}

/** Notes said once per dataset (per code and field): how many records, and the first. */
interface OnceNote {
  code: 'chat-template-stripped' | 'image-marker-stripped';
  field: string;
  pos: SourcePos;
  record: number;
  count: number;
  detail: string;
}

function textChecks(w: Work, once: (code: OnceNote['code'], field: string, c: Candidate, detail: string) => void): void {
  const { c } = w;
  // Nothing more to say about a record that does not parse, is not UTF-8, or is not an object.
  if (c.issues.some((i) => i.code === 'invalid-json-line' || i.code === 'invalid-utf8' || i.code === 'not-an-object')) return;
  const add = (sev: 'error' | 'note', code: Parameters<typeof recordIssue>[1], field: string, detail: string): void => {
    w.issues.push(recordIssue(sev, code, c.pos, c.index, field, detail));
  };
  let markers = c.imageParts;
  if (c.prompt !== undefined) {
    let text: string;
    if (c.fromMessages) {
      const m = stripImageMarkers(c.prompt);
      markers += m.count;
      text = m.text.trim();
      if (m.count > 0) once('image-marker-stripped', 'prompt', c, 'image markers (<image> and the like) were removed from the prompt text; the model places the image itself');
    } else {
      const p = cleanPrompt(c.prompt);
      markers += p.markers;
      text = p.text;
      if (p.template) once('chat-template-stripped', 'prompt', c, `a chat template (${p.template}) was removed from the prompt text; the model's own template is applied in training`);
      if (p.markers > 0) once('image-marker-stripped', 'prompt', c, 'image markers (<image> and the like) were removed from the prompt text; the model places the image itself');
    }
    if (text === '') add('error', 'empty-field', 'prompt', c.prompt.trim() === '' ? 'is empty' : 'holds nothing but a chat template and image markers');
    else w.prompt = text;
  }
  for (const field of ['chosen', 'rejected'] as const) {
    const raw = c[field];
    if (raw === undefined) continue;
    const a = stripAnswerEnd(raw);
    if (a.text.trim() === '') add('error', 'empty-field', field, 'is empty');
    else w[field] = a.text.trim();
    if (countImageMarkers(a.text) > 0) once('image-marker-stripped', field, c, 'holds an image marker; it is kept as text');
  }
  if (w.chosen !== undefined && w.chosen === w.rejected) add('error', 'chosen-equals-rejected', 'rejected', 'is identical to chosen: the pair carries no preference');
  if (c.images.length === 0 && !c.issues.some((i) => i.field?.startsWith(c.imageField))) {
    add('error', 'no-image', c.imageField, 'is missing: every pair needs exactly one image');
  } else if (c.images.length > 1) {
    add('error', 'too-many-images', c.imageField, `holds ${c.images.length} images; mDPO pairs have exactly one`);
  }
  if (markers > 0 && c.images.length > 0 && markers !== c.images.length) {
    add('error', 'image-marker-mismatch', 'prompt', `has ${markers} image marker(s) for ${c.images.length} image(s)`);
  }
}

interface Checked {
  ref?: ImageRef;
  check: ImageCheck;
}

const fail = (code: DataIssue['code'], detail: string): Checked => ({ check: { ok: false, error: { severity: 'error', code, detail } } });

/** Checks shared by records that use the same image file (the most recent CHECK_CACHE paths). */
type CheckCache = Map<string, Promise<Checked>>;
const CHECK_CACHE = 20_000;

async function checkSpec(spec: ImageSpec, c: Candidate, baseDir: string, options: ValidateOptions, cache: CheckCache): Promise<Checked> {
  if (spec.kind === 'bytes') {
    const check = await checkImageBytes(spec.bytes, options);
    const abs = path.join(baseDir, c.pos.file);
    const ref: ImageRef | undefined = check.ok
      ? {
          kind: 'embedded',
          file: abs,
          row: c.pos.index,
          column: c.imageField,
          sha256: check.info.sha256,
          byteLength: spec.bytes.length,
          ...(spec.element !== undefined ? { element: spec.element } : {}),
          ...(spec.name ? { name: spec.name } : {}),
        }
      : undefined;
    return { ref, check };
  }
  const key = `${baseDir}\0${spec.path}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = (async () => {
      const resolved = await resolveImagePath(baseDir, spec.path);
      if (!resolved.ok) return fail(resolved.code, resolved.detail);
      let bytes: Buffer;
      try {
        const size = (await fs.stat(resolved.abs)).size;
        const max = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
        if (size > max) {
          return fail('image-too-large', `${JSON.stringify(spec.path)} is ${size} bytes, over the file limit of ${max}; refused unread`);
        }
        bytes = await fs.readFile(resolved.abs);
      } catch (e) {
        return fail('image-unreadable', `${JSON.stringify(spec.path)} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      const check = await checkImageBytes(bytes, options);
      if (!check.ok) check.error.detail = `${JSON.stringify(spec.path)} ${check.error.detail}`;
      return { ref: { kind: 'file', path: resolved.abs, relPath: resolved.rel }, check };
    })();
    cache.set(key, pending);
    if (cache.size > CHECK_CACHE) cache.delete(cache.keys().next().value as string);
  }
  return pending;
}

async function imageChecks(w: Work, baseDir: string, options: ValidateOptions, cache: CheckCache): Promise<void> {
  const { c } = w;
  if (c.images.length !== 1) return;
  const field = c.imageField;
  const { ref, check } = await checkSpec(c.images[0], c, baseDir, options, cache);
  if (!check.ok) {
    w.issues.push(recordIssue('error', check.error.code, c.pos, c.index, field, check.error.detail));
    return;
  }
  w.image = ref;
  w.check = check;
  for (const n of check.notes) w.issues.push(recordIssue('note', n.code, c.pos, c.index, field, n.detail));
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

/** Characters per token assumed when no tokenizer is at hand (English BPE averages about 4). */
export const CHARS_PER_TOKEN = 4;

function budgetChecks(w: Work, budget: TokenBudget, tokens: { prompt: number[]; chosen: number[]; rejected: number[] }): void {
  const maxPrompt = budget.maxPromptTokens ?? 1024;
  const maxAnswer = budget.maxAnswerTokens ?? 1024;
  const { c } = w;
  const p = budget.tokenizer.encode(w.prompt ?? '').length;
  tokens.prompt.push(p);
  if (p > maxPrompt) {
    w.issues.push(recordIssue('warning', 'prompt-over-budget', c.pos, c.index, 'prompt', `is ${p} tokens, over the prompt budget of ${maxPrompt}: training keeps its last ${maxPrompt} tokens (the start is cut)`));
  }
  for (const field of ['chosen', 'rejected'] as const) {
    const n = budget.tokenizer.encode(w[field] ?? '').length + 1; // + the end-of-answer token
    tokens[field].push(n);
    if (n > maxAnswer) {
      w.issues.push(recordIssue('warning', 'answer-over-budget', c.pos, c.index, field, `is ${n} tokens with the end-of-answer token, over the answer budget of ${maxAnswer}: training keeps its first ${maxAnswer - 1} tokens and the end-of-answer token, the rest is cut`));
    }
  }
}

/**
 * Without a tokenizer, lengths are checked in characters: a budget of N tokens allows about
 * N * CHARS_PER_TOKEN characters. Flags only what is over that (so surely far over in tokens).
 */
function charBudgetChecks(w: Work, budget: CharBudget): void {
  const { c } = w;
  const maxPrompt = budget.maxPromptChars ?? 1024 * CHARS_PER_TOKEN;
  const maxAnswer = budget.maxAnswerChars ?? 1024 * CHARS_PER_TOKEN;
  const p = w.prompt?.length ?? 0;
  if (p > maxPrompt) {
    w.issues.push(recordIssue('warning', 'prompt-over-budget', c.pos, c.index, 'prompt', `is ${p} characters, over the character budget of ${maxPrompt} (about ${Math.round(maxPrompt / CHARS_PER_TOKEN)} tokens at ~${CHARS_PER_TOKEN} characters a token; no tokenizer was given to count exactly): training keeps only the prompt's last tokens (the start is cut)`));
  }
  for (const field of ['chosen', 'rejected'] as const) {
    const n = w[field]?.length ?? 0;
    if (n > maxAnswer) {
      w.issues.push(recordIssue('warning', 'answer-over-budget', c.pos, c.index, field, `is ${n} characters, over the character budget of ${maxAnswer} (about ${Math.round(maxAnswer / CHARS_PER_TOKEN)} tokens at ~${CHARS_PER_TOKEN} characters a token; no tokenizer was given to count exactly): training keeps only the answer's first tokens and the end-of-answer token, so roughly the first ${maxAnswer} characters are learned and the rest is cut`));
    }
  }
}

/** A growable list of lengths (the summary's distributions), without per-record objects. */
export class NumberList {
  private data = new Float64Array(1024);
  length = 0;

  push(x: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = x;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** Per kept record: what the summary's distributions need. */
export interface KeptStats {
  promptChars: NumberList;
  chosenChars: NumberList;
  rejectedChars: NumberList;
  width: NumberList;
  height: NumberList;
  pixels: NumberList;
  formats: Record<string, number>;
  tokens?: { prompt: NumberList; chosen: NumberList; rejected: NumberList };
}

function dedupeKey(w: Work): string {
  const h = createHash('sha1');
  for (const part of [w.check?.ok ? w.check.info.sha256 : '', w.prompt ?? '', w.chosen ?? '', w.rejected ?? '']) {
    h.update(part);
    h.update('\u0000');
  }
  return h.digest('base64');
}

/**
 * Validates records in batches, in dataset order, keeping only what later records are checked
 * against (a hash per kept record for duplicates, the ids) and what the summary needs; the
 * kept records of each batch are handed back, not kept.
 */
export class Validator {
  readonly issues: DataIssue[] = [];
  readonly excluded: number[] = [];
  readonly stats: KeptStats;
  valid = 0;
  private readonly cache: CheckCache = new Map();
  private readonly seen = new Map<string, number>();
  /** Final ids -> record index; user ids are stored as index >= 0, generated ids as -1 - index. */
  private readonly ids = new Map<string, number>();
  private readonly once = new Map<string, OnceNote>();

  constructor(
    private readonly baseDir: string,
    private readonly options: ValidateOptions = {},
  ) {
    const list = () => new NumberList();
    this.stats = { promptChars: list(), chosenChars: list(), rejectedChars: list(), width: list(), height: list(), pixels: list(), formats: {} };
    if (options.budget) this.stats.tokens = { prompt: list(), chosen: list(), rejected: list() };
  }

  private noteOnce = (code: OnceNote['code'], field: string, c: Candidate, detail: string): void => {
    const key = `${code}\u0000${field}`;
    const n = this.once.get(key);
    if (n) n.count++;
    else this.once.set(key, { code, field, pos: c.pos, record: c.index, count: 1, detail });
  };

  /** The notes said once per dataset, with their counts (call after the last batch). */
  datasetNotes(): DataIssue[] {
    return [...this.once.values()].map((n) => {
      const at = n.pos.line !== undefined ? `${n.pos.file}:${n.pos.line}` : `${n.pos.file} row ${n.pos.index}`;
      const records = n.count === 1 ? '1 record' : `${n.count} records`;
      return { severity: 'note', code: n.code, message: `${n.pos.file}, field "${n.field}", ${records} (the first: record ${n.record} at ${at}): ${n.detail}`, file: n.pos.file, field: n.field };
    });
  }

  async process(candidates: Candidate[]): Promise<PreferenceRecord[]> {
    const { options } = this;
    const works: Work[] = candidates.map((c) => ({ c, issues: [...c.issues] }));
    for (const w of works) textChecks(w, this.noteOnce);
    await pool(works, options.concurrency ?? 4, (w) => imageChecks(w, this.baseDir, options, this.cache));
    const records: PreferenceRecord[] = [];
    for (const w of works) {
      this.dedupe(w);
      const bad = w.issues.some((i) => i.severity === 'error');
      if (!bad && options.budget && this.stats.tokens) {
        const t = { prompt: [] as number[], chosen: [] as number[], rejected: [] as number[] };
        budgetChecks(w, options.budget, t);
        this.stats.tokens.prompt.push(t.prompt[0]);
        this.stats.tokens.chosen.push(t.chosen[0]);
        this.stats.tokens.rejected.push(t.rejected[0]);
      } else if (!bad) charBudgetChecks(w, options.charBudget ?? {});
      for (const i of w.issues) this.issues.push(i);
      if (bad || !w.image || !w.check?.ok) {
        this.excluded.push(w.c.index);
        continue;
      }
      records.push(this.keep(w, w.image, w.check.info));
    }
    return records;
  }

  private dedupe(w: Work): void {
    if (w.issues.some((i) => i.severity === 'error') || !w.check?.ok) return;
    const key = dedupeKey(w);
    const first = this.seen.get(key);
    if (first !== undefined) {
      w.issues.push(recordIssue('error', 'duplicate-record', w.c.pos, w.c.index, undefined, `has the same image, prompt, chosen and rejected as record ${first}; only the first is kept`));
      return;
    }
    this.seen.set(key, w.c.index);
    if (w.c.id !== undefined) {
      const prev = this.ids.get(w.c.id);
      if (prev !== undefined && prev >= 0) {
        // Ids key the trainer's reference cache and m': they must be unique.
        const unique = `${w.c.id}#${w.c.index}`;
        w.issues.push(recordIssue('warning', 'duplicate-id', w.c.pos, w.c.index, 'id', `${JSON.stringify(w.c.id)} is also the id of record ${prev}; both are kept, this one as ${JSON.stringify(unique)}`));
        w.c.id = unique;
      }
    }
  }

  private keep(w: Work, image: ImageRef, info: ImageInfo): PreferenceRecord {
    const { c } = w;
    let id = c.id;
    if (id !== undefined && !this.ids.has(id)) this.ids.set(id, c.index);
    else {
      id ??= `${c.pos.file}#${c.pos.index}`;
      if (this.ids.has(id)) id = `${id}~${c.index}`; // a generated id equal to a user's id
      this.ids.set(id, -1 - c.index);
    }
    this.valid++;
    const s = this.stats;
    s.promptChars.push((w.prompt as string).length);
    s.chosenChars.push((w.chosen as string).length);
    s.rejectedChars.push((w.rejected as string).length);
    s.width.push(info.width);
    s.height.push(info.height);
    s.pixels.push(info.width * info.height);
    s.formats[info.format] = (s.formats[info.format] ?? 0) + 1;
    return { index: c.index, id, image, prompt: w.prompt as string, chosen: w.chosen as string, rejected: w.rejected as string, source: c.pos, imageInfo: info };
  }
}
