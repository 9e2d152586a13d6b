/**
 * Per-record validation: text fields, image markers, image files, duplicates, token budget.
 * Every problem is an issue naming the record, the field and the file; a record with an error
 * is excluded, everything else is kept. Never throws for bad records.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkImageBytes, DEFAULT_MAX_FILE_BYTES, type ImageCheck, type ImageCheckOptions } from './image-check';
import { recordIssue } from './issues';
import { resolveImagePath } from './paths';
import type { Candidate, ImageSpec } from './records';
import { cleanPrompt, countImageMarkers, stripAnswerEnd, stripImageMarkers } from './text';
import type { DataIssue, ImageRef, PreferenceRecord } from './types';

/** Anything with encode (the model's TextTokenizer, or a Hugging Face tokenizer wrapper). */
export interface TokenCounter {
  encode(text: string): number[];
}

export interface TokenBudget {
  tokenizer: TokenCounter;
  /** Default 1024 (MDPO.md: prompt 1024, answer 1024). */
  maxPromptTokens?: number;
  /** Default 1024, counting the end-of-answer token. */
  maxAnswerTokens?: number;
}

export interface ValidateOptions extends ImageCheckOptions {
  budget?: TokenBudget;
  /** Images checked at once (default 4). */
  concurrency?: number;
  /** Called as records' images are checked (for a progress bar). */
  onProgress?: (checked: number, total: number) => void;
}

export interface Validated {
  records: PreferenceRecord[];
  issues: DataIssue[];
  excluded: number[];
  /** Token lengths of the kept records, when a budget was given. */
  tokens?: { prompt: number[]; chosen: number[]; rejected: number[] };
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

function textChecks(w: Work): void {
  const { c } = w;
  // Nothing more to say about a line that does not parse or a record that is not an object.
  if (c.issues.some((i) => i.code === 'invalid-json-line' || i.code === 'not-an-object')) return;
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
      if (m.count > 0) add('note', 'image-marker-stripped', 'prompt', `${m.count} image marker(s) removed from the prompt text`);
    } else {
      const p = cleanPrompt(c.prompt);
      markers += p.markers;
      text = p.text;
      if (p.template) add('note', 'chat-template-stripped', 'prompt', `a ${p.template} chat template was removed; the model's own template is applied in training`);
      if (p.markers > 0) add('note', 'image-marker-stripped', 'prompt', `${p.markers} image marker(s) removed from the prompt text`);
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
    if (countImageMarkers(a.text) > 0) add('note', 'image-marker-stripped', field, 'holds an image marker; it is kept as text');
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

/** Checks shared by records that use the same image file. */
type CheckCache = Map<string, Promise<Checked>>;

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

function budgetChecks(w: Work, budget: TokenBudget, tokens: NonNullable<Validated['tokens']>): void {
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

export async function validateCandidates(candidates: Candidate[], baseDir: string, options: ValidateOptions = {}): Promise<Validated> {
  const works: Work[] = candidates.map((c) => ({ c, issues: [...c.issues] }));
  for (const w of works) textChecks(w);
  const cache: CheckCache = new Map();
  let checked = 0;
  await pool(works, options.concurrency ?? 4, async (w) => {
    await imageChecks(w, baseDir, options, cache);
    options.onProgress?.(++checked, works.length);
  });

  const seen = new Map<string, number>();
  const ids = new Map<string, number>();
  for (const w of works) {
    if (w.issues.some((i) => i.severity === 'error') || !w.check?.ok) continue;
    const key = [w.check.info.sha256, w.prompt, w.chosen, w.rejected].join('\u0000');
    const first = seen.get(key);
    if (first !== undefined) {
      w.issues.push(recordIssue('error', 'duplicate-record', w.c.pos, w.c.index, undefined, `has the same image, prompt, chosen and rejected as record ${first}; only the first is kept`));
      continue;
    }
    seen.set(key, w.c.index);
    if (w.c.id !== undefined) {
      const prev = ids.get(w.c.id);
      if (prev !== undefined) {
        // Ids key the trainer's reference cache and m': they must be unique.
        const unique = `${w.c.id}#${w.c.index}`;
        w.issues.push(recordIssue('warning', 'duplicate-id', w.c.pos, w.c.index, 'id', `${JSON.stringify(w.c.id)} is also the id of record ${prev}; both are kept, this one as ${JSON.stringify(unique)}`));
        w.c.id = unique;
      } else ids.set(w.c.id, w.c.index);
    }
  }

  const tokens = options.budget ? { prompt: [], chosen: [], rejected: [] } : undefined;
  const records: PreferenceRecord[] = [];
  const usedIds = new Set<string>();
  const excluded: number[] = [];
  const issues: DataIssue[] = [];
  for (const w of works) {
    const bad = w.issues.some((i) => i.severity === 'error');
    if (!bad && options.budget && tokens) budgetChecks(w, options.budget, tokens);
    issues.push(...w.issues);
    if (bad || !w.image || !w.check?.ok) {
      excluded.push(w.c.index);
      continue;
    }
    let id = w.c.id ?? `${w.c.pos.file}#${w.c.pos.index}`;
    if (usedIds.has(id)) id = `${id}~${w.c.index}`; // a generated id equal to a user's id
    usedIds.add(id);
    records.push({
      index: w.c.index,
      id,
      image: w.image,
      prompt: w.prompt as string,
      chosen: w.chosen as string,
      rejected: w.rejected as string,
      source: w.c.pos,
      imageInfo: w.check.info,
    });
  }
  return { records, issues, excluded, ...(tokens ? { tokens } : {}) };
}
