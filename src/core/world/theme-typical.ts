/**
 * How much of a model's hallucination comes from the language prior (issue 20): the share of
 * hallucinated mentions that name an object typical of the scene's theme.
 *
 * Definition (every mention counted, like CHAIR_i):
 *   share  = #(mentions of an absent object that is one of the scene theme's 5 typical objects)
 *            / #(mentions of an absent object)
 *   chance = the same share expected if each hallucinated mention named an absent object drawn
 *            uniformly from the scene's absent objects: the mean, over hallucinated mentions,
 *            of |typical absent| / |absent| of their scene (about 4/33).
 * A share near chance says the hallucinations ignore the prior (misperception); a share far
 * above it says the prior drives them. With no hallucinated mention both are undefined (NaN).
 */
import { ALL_OBJECT_KEYS } from './objects';
import { typicalKeys } from './themes';

export interface ThemeTypicalCase {
  theme: string;
  /** Objects in the image. */
  truth: readonly string[];
  /** Every object mention of the answer, repeats included. */
  mentioned: readonly string[];
}

export interface ThemeTypicalReport {
  /** Mentions of absent objects, repeats included (= ChairReport.hallucinatedMentions). */
  hallucinatedMentions: number;
  /** Of those, mentions of an object typical of the scene's theme. */
  typicalMentions: number;
  /** typicalMentions / hallucinatedMentions (NaN when there is none). */
  share: number;
  /** The share a uniform draw over each scene's absent objects would give (NaN when none). */
  chance: number;
}

export function themeTypicalShare(cases: readonly ThemeTypicalCase[]): ThemeTypicalReport {
  let hallucinated = 0;
  let typicalCount = 0;
  let chanceSum = 0;
  for (const c of cases) {
    const truth = new Set(c.truth);
    const typical = new Set(typicalKeys(c.theme));
    const absent = ALL_OBJECT_KEYS.filter((k) => !truth.has(k));
    const typicalAbsent = absent.filter((k) => typical.has(k)).length;
    for (const k of c.mentioned) {
      if (truth.has(k)) continue;
      hallucinated++;
      if (typical.has(k)) typicalCount++;
      chanceSum += typicalAbsent / absent.length;
    }
  }
  return {
    hallucinatedMentions: hallucinated,
    typicalMentions: typicalCount,
    share: hallucinated === 0 ? NaN : typicalCount / hallucinated,
    chance: hallucinated === 0 ? NaN : chanceSum / hallucinated,
  };
}
