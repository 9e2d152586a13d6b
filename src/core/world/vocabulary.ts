/**
 * Every word the world's prompts and answers use, for the model's word-level tokenizer.
 * Derived from the grammar itself (not typed by hand) so the two cannot drift apart.
 */
import { ALL_OBJECTS } from './objects';
import { COUNT_PROMPT, DESCRIBE_PROMPT, NUMBER_WORDS, objectPhrase, popeQuestion, splitWords } from './grammar';

/**
 * The sorted, distinct tokens (as splitWords cuts them: words and , . ?) of every prompt and
 * answer the world can produce. Case is kept ("Describe", "Is", "How"); a tokenizer that
 * lowercases can map them through `toLowerCase()` without collisions.
 */
export function worldVocabulary(): string[] {
  const texts = [
    DESCRIBE_PROMPT,
    COUNT_PROMPT,
    'yes',
    'no',
    ', and .',
    ...NUMBER_WORDS.map((w) => `${w}.`),
    ...ALL_OBJECTS.map(popeQuestion),
    ...ALL_OBJECTS.map(objectPhrase),
  ];
  return [...new Set(texts.flatMap(splitWords))].sort();
}
