/**
 * Checks one image's bytes without trusting them: size, header (sharp metadata, no decode),
 * pixel limit (refused before any decode), and a small decode that fails on truncation.
 * Conversions the preprocessing will apply come back as notes.
 */
import { createHash } from 'node:crypto';
import sharp, { type Metadata } from 'sharp';
import type { ImageInfo, IssueCode } from './types';

export interface ImageCheckOptions {
  /** Refuse images with more pixels than this (default 40 megapixels). */
  maxPixels?: number;
  /** Refuse image files larger than this many bytes without reading them. */
  maxFileBytes?: number;
  /** Decode a small thumbnail to catch truncated files (default true). */
  decodeCheck?: boolean;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;
/** Files larger than this are refused before they are read (default 256 MiB). */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

export interface CheckFinding {
  severity: 'error' | 'note';
  code: IssueCode;
  detail: string;
}

export type ImageCheck = { ok: true; info: ImageInfo; notes: CheckFinding[] } | { ok: false; error: CheckFinding };

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function classify(message: string): IssueCode {
  if (/unsupported image format|bad seek|not a known file format/i.test(message)) return 'image-not-image';
  if (/premature end|truncat|corrupt|unexpected end|read error|Invalid SOS|bogus/i.test(message)) return 'image-truncated';
  return 'image-unreadable';
}

const firstLine = (m: string): string => m.split('\n')[0];

export async function checkImageBytes(bytes: Uint8Array, options: ImageCheckOptions = {}): Promise<ImageCheck> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) return { ok: false, error: { severity: 'error', code: 'image-empty', detail: 'is a zero-byte file' } };
  let meta: Metadata;
  try {
    // limitInputPixels: false so that metadata of a huge image can be read and reported;
    // metadata reads the header only.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    const msg = (e as Error).message;
    const code = classify(msg);
    const what = code === 'image-not-image' ? 'is not an image sharp can read' : code === 'image-truncated' ? 'is truncated or corrupt' : 'cannot be read as an image';
    return { ok: false, error: { severity: 'error', code, detail: `${what} (${firstLine(msg)})` } };
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (!(width > 0 && height > 0)) return { ok: false, error: { severity: 'error', code: 'image-unreadable', detail: `has no size in its header (${meta.format})` } };
  if (width * height > maxPixels) {
    return { ok: false, error: { severity: 'error', code: 'image-too-large', detail: `is ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels}; refused without decoding` } };
  }
  if (options.decodeCheck !== false) {
    try {
      await sharp(bytes, { failOn: 'truncated', limitInputPixels: maxPixels }).resize(16, 16, { fit: 'fill' }).raw().toBuffer();
    } catch (e) {
      const msg = (e as Error).message;
      return { ok: false, error: { severity: 'error', code: 'image-truncated', detail: `is truncated or corrupt: its header reads but it does not decode (${firstLine(msg)})` } };
    }
  }
  const notes: CheckFinding[] = [];
  const conversions: string[] = [];
  const note = (code: IssueCode, detail: string, conv: string): void => {
    notes.push({ severity: 'note', code, detail });
    conversions.push(conv);
  };
  if ((meta.pages ?? 1) > 1) note('image-animated', `is animated (${meta.pages} frames); the first frame is used`, 'first-frame');
  if (meta.space === 'cmyk') note('image-cmyk', 'is CMYK; converted to sRGB', 'cmyk-to-srgb');
  if (meta.depth && meta.depth !== 'uchar' && meta.depth !== 'char') note('image-16bit', `has ${meta.depth} samples; converted to 8 bits`, 'to-8bit');
  if (meta.hasAlpha) note('image-alpha', 'has an alpha channel; flattened onto white', 'alpha-flattened');
  if (meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2) note('image-grayscale', 'is grayscale; replicated to 3 channels', 'gray-to-rgb');
  return {
    ok: true,
    notes,
    info: { format: meta.format ?? 'unknown', width, height, channels: meta.channels ?? 0, sha256: sha256(bytes), byteLength: bytes.length, conversions },
  };
}
