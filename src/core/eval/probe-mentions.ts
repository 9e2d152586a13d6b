/**
 * Object mentions in free text, CHAIR-style (Rohrbach et al. 2018): a vocabulary of words and
 * phrases, each mapped to one object category; every occurrence on word boundaries, singular
 * or plural, is a mention. Longer phrases win over the words inside them ("teddy bear" is one
 * mention of teddy bear, not also a bear; "hot dog" is not a dog).
 *
 * The default vocabulary is the COCO list in coco-synonyms.ts; object-annotated probe sets may
 * name other objects, which join the vocabulary as categories of their own.
 */
import { COCO_SYNONYMS, IRREGULAR_PLURALS } from './coco-synonyms';

export interface Mention {
  /** The category the words name (the vocabulary's canonical name). */
  object: string;
  /** Character span in the text: text.slice(start, end) is the words as written. */
  start: number;
  end: number;
}

export interface SynonymTable {
  /** Every category, in the order given. */
  categories: string[];
  /** Lower-case word or phrase -> category. */
  words: Map<string, string>;
  /** One regex over every word and its plural, longest first (global, case-insensitive). */
  pattern: RegExp;
}

/** Plural of a word or phrase (the last word inflects): bus -> buses, pony -> ponies, hot dog -> hot dogs. */
export function pluralOf(phrase: string): string {
  const irregular = IRREGULAR_PLURALS[phrase];
  if (irregular !== undefined) return irregular;
  const parts = phrase.split(' ');
  const last = parts[parts.length - 1]!;
  const lastIrregular = IRREGULAR_PLURALS[last];
  let plural: string;
  if (lastIrregular !== undefined) plural = lastIrregular;
  else if (/(s|x|z|ch|sh)$/.test(last)) plural = `${last}es`;
  else if (/[^aeiou]y$/.test(last)) plural = `${last.slice(0, -1)}ies`;
  else plural = `${last}s`;
  return [...parts.slice(0, -1), plural].join(' ');
}

const normalise = (s: string): string => s.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A vocabulary from category -> synonyms (default COCO). `extra` names objects outside it
 * (an annotation's own labels): each becomes a category, unless it already is a word of one.
 */
export function buildSynonymTable(
  synonyms: Readonly<Record<string, readonly string[]>> = COCO_SYNONYMS,
  extra: readonly string[] = [],
): SynonymTable {
  const words = new Map<string, string>();
  const categories: string[] = [];
  const add = (word: string, category: string): void => {
    const w = normalise(word);
    if (w === '' || words.has(w)) return;
    words.set(w, category);
  };
  for (const [category, list] of Object.entries(synonyms)) {
    const c = normalise(category);
    categories.push(c);
    for (const w of [c, ...list]) {
      add(w, c);
      add(pluralOf(normalise(w)), c);
    }
  }
  for (const e of extra) {
    const w = normalise(e);
    if (w === '' || words.has(w)) continue;
    categories.push(w);
    add(w, w);
    add(pluralOf(w), w);
  }
  const alternatives = [...words.keys()]
    .sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
    .map((w) => w.split(' ').map(escapeRe).join('[\\s-]+'));
  const pattern = new RegExp(`\\b(?:${alternatives.join('|')})\\b`, 'gi');
  return { categories, words, pattern };
}

let defaultTable: SynonymTable | null = null;
/** The COCO vocabulary, built once. */
export function cocoTable(): SynonymTable {
  defaultTable ??= buildSynonymTable();
  return defaultTable;
}

/** The category a word or phrase names, or null when it is not in the vocabulary. */
export function categoryOf(word: string, table: SynonymTable = cocoTable()): string | null {
  return table.words.get(normalise(word)) ?? null;
}

/** Every mention in the text, left to right, non-overlapping (longest phrase at each position). */
export function findMentions(text: string, table: SynonymTable = cocoTable()): Mention[] {
  const out: Mention[] = [];
  const re = new RegExp(table.pattern.source, table.pattern.flags);
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const object = table.words.get(normalise(m[0]));
    if (object !== undefined) out.push({ object, start: m.index, end: m.index + m[0].length });
  }
  return out;
}
