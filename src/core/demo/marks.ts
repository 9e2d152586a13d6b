/**
 * Marks the objects of a world description with their character spans: each
 * "[a|an] <color> <shape>" is `correct` when the object is in the scene and `hallucinated`
 * when it is not. The scan follows parseDescription (src/core/world/grammar.ts) word for word,
 * so the marked objects are exactly the objects the metrics count (a test pins the two together).
 */
import type { HallucinationMark, ParsedObject } from '../../shared/api';
import { isColor, isShape } from '../world/objects';

export interface MarkedAnswer {
  objects: ParsedObject[];
  marks: HallucinationMark[];
}

interface Word {
  text: string;
  start: number;
  end: number;
}

const WORD = /[A-Za-z]+|[,.?]|[^\sA-Za-z,.?]+/g;
const SEPARATORS = new Set([',', '.', 'and']);

function words(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(WORD)) out.push({ text: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length });
  return out;
}

/** Objects mentioned in `answer`, in order, with the span "<color> <shape>" of each mention. */
export function parsedObjects(answer: string): ParsedObject[] {
  const objects: ParsedObject[] = [];
  let piece: Word[] = [];
  const flush = (): void => {
    let i = 0;
    while (i < piece.length) {
      const j = piece[i].text === 'a' || piece[i].text === 'an' ? i + 1 : i;
      const color = piece[j]?.text;
      const shape = piece[j + 1]?.text;
      if (j + 1 < piece.length && isColor(color) && isShape(shape)) {
        objects.push({ name: `${color} ${shape}`, start: piece[j].start, end: piece[j + 1].end });
        i = j + 2;
      } else i++;
    }
    piece = [];
  };
  for (const w of words(answer)) {
    if (SEPARATORS.has(w.text)) flush();
    else piece.push(w);
  }
  flush();
  return objects;
}

/** Every mention marked against the scene's objects (`truth`: keys such as "red circle"). */
export function markAnswer(answer: string, truth: readonly string[]): MarkedAnswer {
  const present = new Set(truth);
  const objects = parsedObjects(answer);
  const marks = objects.map((o): HallucinationMark => ({ object: o.name, start: o.start, end: o.end, kind: present.has(o.name) ? 'correct' : 'hallucinated' }));
  return { objects, marks };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * The answer as HTML with each mark wrapped in `<mark class="hal">` or `<mark class="ok">`
 * (title = the object and whether it is in the image). Text outside marks is escaped.
 */
export function markedHtml(answer: string, marks: readonly HallucinationMark[]): string {
  const sorted = [...marks].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const m of sorted) {
    if (m.start < at || m.end > answer.length || m.end <= m.start) continue; // overlapping or out of range: leave as text
    out += escapeHtml(answer.slice(at, m.start));
    const cls = m.kind === 'hallucinated' ? 'hal' : 'ok';
    const title = m.kind === 'hallucinated' ? `${m.object}: not in the image` : `${m.object}: in the image`;
    out += `<mark class="${cls}" title="${escapeHtml(title)}">${escapeHtml(answer.slice(m.start, m.end))}</mark>`;
    at = m.end;
  }
  return out + escapeHtml(answer.slice(at));
}
