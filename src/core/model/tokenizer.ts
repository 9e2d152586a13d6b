/**
 * The word-level tokenizer of the built-in world, stored in Hugging Face tokenizer.json format
 * (model.type "WordLevel", Lowercase normaliser, Whitespace pre-tokenizer `\w+|[^\w\s]+`), so the
 * Rust/Python `tokenizers` library reads the same file. Real checkpoints (issue 8) plug their
 * own tokenizer in through the same `TextTokenizer` interface.
 *
 * Note: tokenizers.js 0.2 (@huggingface/tokenizers) has no WordLevel model; we parse our own file.
 */

export interface SpecialTokens {
  pad: number;
  bos: number;
  eos: number;
  image: number;
  unk: number;
}

export interface TextTokenizer {
  /** Text -> ids, no special tokens added (the model adds bos; answers append eos). */
  encode(text: string): number[];
  /** Ids -> text; special tokens are skipped. */
  decode(ids: number[]): string;
  readonly vocabSize: number;
  readonly specials: SpecialTokens;
}

/** In id order: pad 0, bos 1, eos 2, image 3, unk 4 (BUILTIN_SMALL's `tokens` match). */
export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<image>', '<unk>'] as const;

const PRE_TOKENIZE = /\w+|[^\w\s]+/gu;

/** Lowercase + Whitespace pre-tokenizer, as the HF pipeline in toJSON() does it. */
export function preTokenize(text: string): string[] {
  return text.toLowerCase().match(PRE_TOKENIZE) ?? [];
}

export class WordTokenizer implements TextTokenizer {
  private readonly vocab: Map<string, number>;
  private readonly words: string[];
  readonly specials: SpecialTokens;

  /** `words`: the full vocabulary in id order, specials first (SPECIAL_TOKENS). */
  constructor(words: string[]) {
    SPECIAL_TOKENS.forEach((s, i) => {
      if (words[i] !== s) throw new Error(`Expected token ${i} to be ${s}, but got ${String(words[i])}`);
    });
    this.words = [...words];
    this.vocab = new Map(words.map((w, i) => [w, i]));
    if (this.vocab.size !== words.length) throw new Error('Expected every vocabulary entry to be unique, but found duplicates');
    const id = (s: string) => this.vocab.get(s) as number;
    this.specials = { pad: id('<pad>'), bos: id('<bos>'), eos: id('<eos>'), image: id('<image>'), unk: id('<unk>') };
  }

  /** Every word of the texts (lowercased, pre-tokenized), sorted, after the special tokens. */
  static fromCorpus(texts: string[]): WordTokenizer {
    const seen = new Set<string>();
    for (const t of texts) for (const w of preTokenize(t)) seen.add(w);
    for (const s of SPECIAL_TOKENS) seen.delete(s);
    return new WordTokenizer([...SPECIAL_TOKENS, ...[...seen].sort()]);
  }

  get vocabSize(): number {
    return this.words.length;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.words[id];
  }

  encode(text: string): number[] {
    return preTokenize(text).map((w) => this.vocab.get(w) ?? this.specials.unk);
  }

  decode(ids: number[]): string {
    const skip = new Set([this.specials.pad, this.specials.bos, this.specials.eos, this.specials.image]);
    let out = '';
    for (const id of ids) {
      if (skip.has(id)) continue;
      const w = this.words[id] ?? '<unk>';
      // Punctuation sticks to the word before it: "a red circle, a blue square."
      out += out === '' || !/^\w/u.test(w) ? w : ` ${w}`;
    }
    return out;
  }

  /** The Hugging Face tokenizer.json document. */
  toJSON(): Record<string, unknown> {
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: SPECIAL_TOKENS.map((content, id) => ({
        id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
      })),
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab: Object.fromEntries(this.words.map((w, i) => [w, i])), unk_token: '<unk>' },
    };
  }

  /** Reads a tokenizer.json written by toJSON (or any WordLevel file with our specials). */
  static fromJSON(json: unknown, file = 'tokenizer.json'): WordTokenizer {
    const model = (json as { model?: { type?: unknown; vocab?: unknown } })?.model;
    if (!model || model.type !== 'WordLevel') {
      throw new Error(`${file}: expected a WordLevel tokenizer, but got model.type ${String(model?.type)} (other tokenizers load through the real-checkpoint loader)`);
    }
    const vocab = model.vocab as Record<string, number>;
    if (!vocab || typeof vocab !== 'object') throw new Error(`${file}: expected model.vocab to be an object`);
    const words: string[] = [];
    for (const [w, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`${file}: bad id ${String(id)} for token ${w}`);
      words[id] = w;
    }
    for (let i = 0; i < words.length; i++) if (words[i] === undefined) throw new Error(`${file}: vocabulary has no token with id ${i}`);
    return new WordTokenizer(words);
  }
}
