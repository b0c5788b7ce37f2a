// Text normalisation shared by deduplication, decontamination and the quality classifier, and the
// string hashes they key on. Two texts that differ only in case, Unicode form (NFKC: "ﬁ" = "fi",
// full-width digits = ASCII), spacing or prose punctuation (. , ; : ! ? quotes) normalise to the
// same token list. Math and code symbols (+ - * / = ( ) ^ ...) are kept, each as its own token, so
// "3+4" and "3-4" stay different (open-r1 strips all punctuation, which would merge them; r1lab's
// own corpora are arithmetic). Decimals stay one token ("3.5").

/** A number (with decimal/thousands parts), a run of letters/digits, or one symbol character. */
const TOKEN = /\p{N}+(?:[.,]\p{N}+)*|[\p{L}\p{M}\p{N}_]+|[^\s\p{L}\p{M}\p{N}_.,;:!?'"`«»“”‘’„¿¡…]/gu;

/** The normalised tokens of a text, e.g. "What is 3+4?" -> ["what", "is", "3", "+", "4"]. */
export function tokens(text: string): string[] {
  return text.normalize("NFKC").toLowerCase().match(TOKEN) ?? [];
}

/** The normalised text: its tokens joined by single spaces (what exact deduplication hashes). */
export function normaliseText(text: string): string {
  return tokens(text).join(" ");
}

/** Murmur3's 32-bit finaliser: mixes all input bits into all output bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seeded 32-bit hash of a string's UTF-16 code units (FNV-1a steps, murmur finaliser). */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h ^ s.length);
}

/** Two independent 32-bit hashes of a string: a 64-bit key [hi, lo] for HashMap64. */
export function hashString64(s: string): [number, number] {
  return [hashString(s, 0x2545f491), hashString(s, 0x6c8e9cf5)];
}

/** Combine a 32-bit hash with another value (order-dependent), e.g. to hash a sequence of tokens. */
export function combine(h: number, v: number): number {
  return fmix32((Math.imul(h, 0x9e3779b1) ^ v) >>> 0);
}
