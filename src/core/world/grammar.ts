/**
 * The answer grammar of the world (docs/world.md) and its parser.
 *
 *   description := item ("." | ", " item ... " and " item ".")   item := ("a" | "an") color shape
 *   "Describe the image."                 -> "a red circle, a blue square and a green cross."
 *   "Is there a {color} {shape} in the image?" -> "yes" | "no"
 *   "How many objects are there?"         -> "three."
 *
 * The parser reads any text, not only well-formed answers: model samples are arbitrary, and a
 * fragment it cannot read is returned in `unparsed`, never dropped, so metrics can count it.
 */
import { article, isColor, isShape, objectKey, type WorldObject } from './objects';

export const DESCRIBE_PROMPT = 'Describe the image.';
export const COUNT_PROMPT = 'How many objects are there?';
export const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'] as const;

export type QuestionKind = 'describe' | 'pope' | 'count';

/** "a red circle" / "an orange ring". */
export function objectPhrase(object: WorldObject): string {
  return `${article(object.color)} ${object.color} ${object.shape}`;
}

/** Caption of objects already in the order to say them (left to right for a scene). */
export function describeObjects(objects: readonly WorldObject[]): string {
  if (objects.length === 0) throw new Error('Expected at least one object to describe, but got none');
  const phrases = objects.map(objectPhrase);
  if (phrases.length === 1) return `${phrases[0]}.`;
  return `${phrases.slice(0, -1).join(', ')} and ${phrases[phrases.length - 1]}.`;
}

export function popeQuestion(object: WorldObject): string {
  return `Is there ${objectPhrase(object)} in the image?`;
}

export function countAnswer(count: number): string {
  if (!Number.isInteger(count) || count < 0 || count >= NUMBER_WORDS.length) {
    throw new Error(`Expected count to be an integer in [0, ${NUMBER_WORDS.length - 1}], but got ${count}`);
  }
  return `${NUMBER_WORDS[count]}.`;
}

/** Words and the punctuation marks , . ? as separate tokens; the grammar needs no others. */
export function splitWords(text: string): string[] {
  return text.match(/[A-Za-z]+|[,.?]|[^\sA-Za-z,.?]+/g) ?? [];
}

export interface ParsedDescription {
  /** Objects in the order mentioned; repeats kept (metrics decide how to count them). */
  objects: WorldObject[];
  /** Fragments that are not "a|an <color> <shape>", as text. Empty answers give [""]. */
  unparsed: string[];
}

const SEPARATORS = new Set([',', '.', 'and']);

/**
 * Reads a description back into objects, case-insensitively. Splits at ",", "." and "and";
 * in each piece, "[a|an] <color> <shape>" runs are objects and every other run of words is
 * one unparsed fragment.
 */
export function parseDescription(text: string): ParsedDescription {
  const words = splitWords(text.toLowerCase());
  if (words.length === 0) return { objects: [], unparsed: [''] };
  const objects: WorldObject[] = [];
  const unparsed: string[] = [];
  let piece: string[] = [];
  // Within a piece, every "[a|an] <color> <shape>" run is an object and the words between
  // runs are junk: "a red circle a blue square" still yields two objects, and "a big red
  // circle" yields the red circle plus the unparsed fragment "a big".
  const flush = (): void => {
    let junk: string[] = [];
    let i = 0;
    while (i < piece.length) {
      const j = piece[i] === 'a' || piece[i] === 'an' ? i + 1 : i;
      const color = piece[j];
      const shape = piece[j + 1];
      if (j + 1 < piece.length && isColor(color) && isShape(shape)) {
        if (junk.length > 0) unparsed.push(junk.join(' '));
        junk = [];
        objects.push({ color, shape });
        i = j + 2;
      } else {
        junk.push(piece[i]);
        i++;
      }
    }
    if (junk.length > 0) unparsed.push(junk.join(' '));
    piece = [];
  };
  for (const w of words) {
    if (SEPARATORS.has(w)) flush();
    else piece.push(w);
  }
  flush();
  return { objects, unparsed };
}

/** Distinct object keys of a parsed description, in first-mention order. */
export function mentionedKeys(parsed: ParsedDescription): string[] {
  return [...new Set(parsed.objects.map(objectKey))];
}

/** The number word of a count answer, or null when the answer holds none or several. */
export function parseCount(text: string): number | null {
  const found = splitWords(text.toLowerCase())
    .map((w) => (NUMBER_WORDS as readonly string[]).indexOf(w))
    .filter((i) => i >= 0);
  return found.length === 1 ? found[0] : null;
}
