// fastText's input features (Joulin et al. 2016, "Bag of Tricks for Efficient Text Classification";
// Bojanowski et al. 2017 for subwords), hashed into a fixed number of buckets: every normalised
// token, every pair of adjacent tokens (wordNgrams 2), and the character n-grams (3 to 5) of each
// word with "<" and ">" marking its ends, so unseen spellings share features with seen ones. A
// text's features are bucket ids with repeats (a word seen twice counts twice), at most `maxFeatures`.
import { combine, hashString } from "./normalise.ts";
import { tokens } from "./normalise.ts";

export interface FeatureConfig {
  /** Hash buckets (rows of the embedding table). fastText: 2,000,000. */
  buckets: number;
  /** Adjacent tokens joined into one feature, up to this many (1 = unigrams only). */
  wordNgrams: number;
  /** Character n-gram lengths of each word; minn 0 turns them off. */
  minn: number;
  maxn: number;
  /** Features kept per text (the first ones). */
  maxFeatures: number;
}

export const FEATURE_DEFAULTS: FeatureConfig = {
  buckets: 1 << 18,
  wordNgrams: 2,
  minn: 3,
  maxn: 5,
  maxFeatures: 4096,
};

const WORD = /^[\p{L}\p{M}\p{N}_]+$/u;

/** The bucket ids of a text's features, in text order. */
export function textFeatures(text: string, cfg: FeatureConfig = FEATURE_DEFAULTS): Int32Array {
  const toks = tokens(text);
  const out: number[] = [];
  const th = toks.map((t) => hashString(t, 1));
  const push = (h: number) => out.push(h % cfg.buckets);
  for (let i = 0; i < toks.length && out.length < cfg.maxFeatures; i++) {
    push(th[i]);
    let h = th[i];
    for (let n = 2; n <= cfg.wordNgrams && i + n <= toks.length; n++) {
      h = combine(h, th[i + n - 1]);
      push(combine(h, n));
    }
    if (cfg.minn > 0 && WORD.test(toks[i])) {
      const w = `<${toks[i]}>`;
      for (let n = cfg.minn; n <= cfg.maxn; n++) {
        for (let s = 0; s + n <= w.length; s++) {
          const g = w.slice(s, s + n);
          if (g !== w) push(hashString(g, 2)); // the whole word is its token feature already
        }
      }
    }
  }
  return Int32Array.from(out.slice(0, cfg.maxFeatures));
}
