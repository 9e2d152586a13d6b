/**
 * One raw record (a parsed JSON object or a parquet row) to a Candidate: the fields the
 * validator needs, and the structural issues found on the way. Two shapes:
 * - flat: {img_path | image | images, prompt, chosen, rejected} where prompt/chosen/rejected
 *   are strings (mDPO/Silkie) or message lists (TRL conversational);
 * - sharegpt: LLaMA-Factory ranking, {conversations, chosen, rejected, images} with tags.
 */
import { recordIssue } from './issues';
import { describe, flattenAnswer, flattenPrompt, OPENAI_TAGS, SHAREGPT_TAGS, type MessageTags } from './messages';
import type { DataIssue, SourcePos } from './types';

export type ImageSpec = { kind: 'path'; path: string } | { kind: 'bytes'; bytes: Uint8Array; name?: string; element?: number };

export interface Candidate {
  index: number;
  pos: SourcePos;
  id?: string;
  /** The field the image came from (for messages). */
  imageField: string;
  images: ImageSpec[];
  prompt?: string;
  chosen?: string;
  rejected?: string;
  /** Image parts in a prompt message list (TRL); text markers are counted later. */
  imageParts: number;
  /** True when the prompt came from a message list (no chat template to strip). */
  fromMessages: boolean;
  issues: DataIssue[];
}

export interface ShareGptColumns {
  messages: string;
  chosen: string;
  rejected: string;
  images: string;
  system?: string;
}

export type Shape = { kind: 'flat' } | { kind: 'sharegpt'; columns: ShareGptColumns; tags: MessageTags };

export const DEFAULT_SHAREGPT: Shape = {
  kind: 'sharegpt',
  columns: { messages: 'conversations', chosen: 'chosen', rejected: 'rejected', images: 'images' },
  tags: SHAREGPT_TAGS,
};

const IMAGE_FIELDS = ['img_path', 'image', 'images', 'image_path', 'img'];
const ID_FIELDS = ['id', 'idx', 'uid', 'sample_id'];

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Guesses the shape of a dataset from its first object record; null when unknown. */
export function detectShape(obj: unknown): Shape | null {
  if (!isObject(obj)) return null;
  for (const messages of ['conversations', 'messages']) {
    if (Array.isArray(obj[messages]) && 'chosen' in obj && 'rejected' in obj && !('prompt' in obj)) {
      const first = (obj[messages] as unknown[])[0];
      const tags = isObject(first) && 'role' in first ? OPENAI_TAGS : SHAREGPT_TAGS;
      return { kind: 'sharegpt', columns: { messages, chosen: 'chosen', rejected: 'rejected', images: 'images' }, tags };
    }
  }
  if ('prompt' in obj && 'chosen' in obj && 'rejected' in obj) return { kind: 'flat' };
  // TRL's implicit prompt: chosen and rejected are whole conversations sharing the prompt turns.
  if (Array.isArray(obj.chosen) && Array.isArray(obj.rejected)) return { kind: 'flat' };
  return null;
}

/**
 * TRL implicit prompt (trl.data_utils.extract_prompt): the turns before the last one are the
 * prompt, and must be the same in chosen and rejected; the last turns are the answers.
 */
function splitImplicitPrompt(raw: Record<string, unknown>, c: Candidate): Record<string, unknown> | null {
  const chosen = raw.chosen as unknown[];
  const rejected = raw.rejected as unknown[];
  if (chosen.length < 2 || rejected.length < 2) {
    c.issues.push(recordIssue('error', 'missing-field', c.pos, c.index, 'prompt', 'is missing, and chosen/rejected are not whole conversations (user turn + answer) to take it from'));
    return null;
  }
  const prompt = chosen.slice(0, -1);
  if (JSON.stringify(prompt) !== JSON.stringify(rejected.slice(0, -1))) {
    c.issues.push(recordIssue('error', 'bad-messages', c.pos, c.index, 'rejected', 'does not start with the same prompt turns as chosen (implicit prompt format)'));
    return null;
  }
  return { ...raw, prompt, chosen: chosen.slice(-1), rejected: rejected.slice(-1) };
}

/** Is this a message-list record (TRL conversational) rather than plain strings? */
export function isConversational(obj: unknown): boolean {
  return isObject(obj) && (Array.isArray(obj.prompt) || Array.isArray(obj.chosen));
}

function toBytes(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v) && v.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) return Uint8Array.from(v as number[]);
  return null;
}

/** An image cell: "path", {bytes, path} (Hugging Face Image feature), {path}, or a list of them. */
function readImages(value: unknown, field: string, c: Candidate): void {
  const list = Array.isArray(value) ? value : [value];
  for (let k = 0; k < list.length; k++) {
    const v = list[k];
    const f = Array.isArray(value) ? `${field}[${k}]` : field;
    if (typeof v === 'string') {
      c.images.push({ kind: 'path', path: v });
      continue;
    }
    const element = Array.isArray(value) ? k : undefined;
    const bytes = toBytes(v);
    if (bytes) {
      c.images.push({ kind: 'bytes', bytes, element });
      continue;
    }
    if (isObject(v)) {
      const b = v.bytes === null || v.bytes === undefined ? null : toBytes(v.bytes);
      const p = typeof v.path === 'string' && v.path !== '' ? v.path : undefined;
      if (b) c.images.push({ kind: 'bytes', bytes: b, name: p, element });
      else if (p !== undefined) c.images.push({ kind: 'path', path: p });
      else c.issues.push(recordIssue('error', 'wrong-type', c.pos, c.index, f, 'image struct has neither bytes nor a path'));
      continue;
    }
    c.issues.push(recordIssue('error', 'wrong-type', c.pos, c.index, f, `is ${describe(v)}, expected an image path, {bytes, path} or a list of them`));
  }
}

function readString(obj: Record<string, unknown>, field: string, c: Candidate): string | undefined {
  if (!(field in obj) || obj[field] === undefined || obj[field] === null) {
    c.issues.push(recordIssue('error', 'missing-field', c.pos, c.index, field, 'is missing'));
    return undefined;
  }
  const v = obj[field];
  if (typeof v !== 'string') {
    c.issues.push(recordIssue('error', 'wrong-type', c.pos, c.index, field, `is ${describe(v)}, expected a string`));
    return undefined;
  }
  return v;
}

function readMessages(obj: Record<string, unknown>, field: string, c: Candidate, tags: MessageTags, answer: boolean): string | undefined {
  if (!(field in obj) || obj[field] === undefined || obj[field] === null) {
    c.issues.push(recordIssue('error', 'missing-field', c.pos, c.index, field, 'is missing'));
    return undefined;
  }
  const r = answer ? flattenAnswer(obj[field], tags) : flattenPrompt(obj[field], tags);
  if (!r.ok) {
    const code = typeof obj[field] === 'string' || Array.isArray(obj[field]) || isObject(obj[field]) ? 'bad-messages' : 'wrong-type';
    c.issues.push(recordIssue('error', code, c.pos, c.index, field, r.error));
    return undefined;
  }
  c.imageParts += r.imageParts;
  return r.text;
}

function readId(obj: Record<string, unknown>): string | undefined {
  for (const f of ID_FIELDS) {
    const v = obj[f];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  }
  return undefined;
}

/** Reads one raw record. Never throws: problems become issues on the candidate. */
export function toCandidate(raw: unknown, index: number, pos: SourcePos, shape: Shape): Candidate {
  const c: Candidate = { index, pos, imageField: 'image', images: [], imageParts: 0, fromMessages: false, issues: [] };
  if (!isObject(raw)) {
    c.issues.push(recordIssue('error', 'not-an-object', pos, index, undefined, `is ${describe(raw)}, expected an object`));
    return c;
  }
  c.id = readId(raw);
  if (shape.kind === 'sharegpt') {
    const { columns, tags } = shape;
    c.fromMessages = true;
    c.imageField = columns.images;
    c.prompt = readMessages(raw, columns.messages, c, tags, false);
    c.chosen = readMessages(raw, columns.chosen, c, tags, true);
    c.rejected = readMessages(raw, columns.rejected, c, tags, true);
    const imgs = raw[columns.images];
    if (imgs !== undefined && imgs !== null) readImages(imgs, columns.images, c);
    return c;
  }
  return readFlat(raw, c);
}

function readFlat(record: Record<string, unknown>, c: Candidate): Candidate {
  let raw = record;
  const imageField = IMAGE_FIELDS.find((f) => raw[f] !== undefined && raw[f] !== null);
  c.imageField = imageField ?? 'img_path';
  if (imageField) readImages(raw[imageField], imageField, c);
  if (raw.prompt === undefined && Array.isArray(raw.chosen) && Array.isArray(raw.rejected)) {
    const split = splitImplicitPrompt(raw, c);
    if (!split) return c;
    raw = split;
  }
  if (Array.isArray(raw.prompt) || Array.isArray(raw.chosen) || Array.isArray(raw.rejected)) {
    c.fromMessages = Array.isArray(raw.prompt);
    c.prompt = Array.isArray(raw.prompt) ? readMessages(raw, 'prompt', c, OPENAI_TAGS, false) : readString(raw, 'prompt', c);
    c.chosen = readMessages(raw, 'chosen', c, OPENAI_TAGS, true);
    c.rejected = readMessages(raw, 'rejected', c, OPENAI_TAGS, true);
  } else {
    c.prompt = readString(raw, 'prompt', c);
    c.chosen = readString(raw, 'chosen', c);
    c.rejected = readString(raw, 'rejected', c);
  }
  return c;
}
