// An index of the normalised token n-grams of a set of texts (benchmark prompts and answers), to
// find the training texts that share one, as open-r1's decontamination does with 8-grams. Each
// n-gram is a 64-bit hash of its tokens (two independent 32-bit hash chains): a false match needs
// a 64-bit collision, about one in 10^13 lookups for a million indexed n-grams. A prompt shorter
// than n tokens is indexed whole when it has at least `minTokens` (a short problem such as r1lab's
// "calc 9*4+6" is found inside a longer training text), and such a match must stand on its own: when
// the tokens around it continue an expression (a number or an operator: "calc 9*4+6+2" is another
// problem) it does not count. Shorter texts, and short answers ("42", "4*4-1", which turn up in any
// worked solution), are skipped. Each entry remembers which sources (benchmarks, up to 31) hold it
// and the first source row it came from.
import { HashMap64 } from "./hash-map.ts";
import { combine, hashString } from "./normalise.ts";

/** A token that would continue an arithmetic expression: a number or an operator. */
const CONTINUES = /^(?:\p{N}|[+\-*/^=×÷])/u;

export interface NgramHit {
  /** Bit i set: source i holds this n-gram. */
  sources: number;
  /** The first source row (the caller's row id) that holds it. */
  row: number;
  /** Where the match starts in the searched tokens, and its length in tokens. */
  start: number;
  length: number;
}

export class NgramIndex {
  private table = new HashMap64(1 << 14);
  private masks: number[] = [];
  private rows: number[] = [];
  /** Token lengths of the whole-text entries (texts shorter than n). */
  private shortLengths = new Set<number>();
  /** Texts skipped for having fewer than minTokens tokens. */
  tooShort = 0;

  constructor(
    readonly n = 8,
    readonly minTokens = 4,
  ) {
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`n-gram size must be an integer >= 1, got ${n}`);
  }

  /** Distinct n-grams indexed. */
  get size(): number {
    return this.masks.length;
  }

  get bytes(): number {
    return this.table.bytes + this.masks.length * 16;
  }

  private static key(th: number[], start: number, len: number): [number, number] {
    let hi = 0x27d4eb2f;
    let lo = 0x165667b1;
    for (let i = start; i < start + len; i++) {
      hi = combine(hi, th[i]);
      lo = combine(lo ^ 0x5bd1e995, th[i]);
    }
    return [combine(hi, len), lo];
  }

  private put(th: number[], start: number, len: number, source: number, row: number): void {
    const [hi, lo] = NgramIndex.key(th, start, len);
    const id = this.table.setIfAbsent(hi, lo, this.masks.length);
    if (id === this.masks.length) {
      this.masks.push(0);
      this.rows.push(row);
    }
    this.masks[id] |= 1 << source;
  }

  /**
   * Index a text's tokens as coming from `source` (0..30), row `row`. `whole` (default true): a text
   * shorter than n is indexed whole (prompts); false skips it (answers).
   */
  add(tokens: string[], source: number, row: number, whole = true): void {
    if (source < 0 || source > 30) throw new Error(`NgramIndex: at most 31 sources, got source ${source}`);
    const th = tokens.map((t) => hashString(t));
    if (th.length >= this.n) {
      for (let i = 0; i + this.n <= th.length; i++) this.put(th, i, this.n, source, row);
    } else if (whole && th.length >= this.minTokens) {
      this.put(th, 0, th.length, source, row);
      this.shortLengths.add(th.length);
    } else {
      this.tooShort++;
    }
  }

  /** Every indexed n-gram (or whole short text) found in `tokens`, left to right. */
  find(tokens: string[]): NgramHit[] {
    const hits: NgramHit[] = [];
    if (tokens.length < Math.min(this.n, this.minTokens)) return hits;
    const th = tokens.map((t) => hashString(t));
    for (const len of [this.n, ...this.shortLengths]) {
      for (let i = 0; i + len <= th.length; i++) {
        const [hi, lo] = NgramIndex.key(th, i, len);
        const id = this.table.get(hi, lo);
        if (
          id !== -1 &&
          len < this.n &&
          (CONTINUES.test(tokens[i + len] ?? "") || CONTINUES.test(tokens[i - 1] ?? ""))
        )
          continue;
        if (id !== -1) hits.push({ sources: this.masks[id], row: this.rows[id], start: i, length: len });
      }
    }
    return hits;
  }
}
