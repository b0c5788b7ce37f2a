// A map from 64-bit keys (two 32-bit halves) to non-negative int32 values, in typed arrays with
// open addressing (linear probing). Deduplication keeps one entry per distinct text or LSH band
// over millions of rows: 12 bytes per slot here, against ~80 for a JS Map of strings, and no
// garbage-collector pressure. Full 64-bit keys make an accidental collision between two distinct
// texts about n^2 / 2^65 likely (3e-8 for a million rows).

export class HashMap64 {
  private hi: Uint32Array;
  private lo: Uint32Array;
  /** -1 marks an empty slot. */
  private val: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.val.length * 12;
  }

  private slot(hi: number, lo: number): number {
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    while (this.val[i] !== -1 && (this.hi[i] !== hi || this.lo[i] !== lo)) i = (i + 1) & this.mask;
    return i;
  }

  /** The value stored for the key, or -1. */
  get(hi: number, lo: number): number {
    return this.val[this.slot(hi >>> 0, lo >>> 0)];
  }

  /** Store value (>= 0) for the key unless it is there already; returns the value now stored. */
  setIfAbsent(hi: number, lo: number, value: number): number {
    if (value < 0) throw new Error(`HashMap64: values must be >= 0, got ${value}`);
    hi >>>= 0;
    lo >>>= 0;
    const i = this.slot(hi, lo);
    if (this.val[i] !== -1) return this.val[i];
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.val[i] = value;
    if (++this.size * 10 > this.val.length * 7) this.grow();
    return value;
  }

  private grow(): void {
    const { hi, lo, val } = this;
    const cap = val.length * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let j = 0; j < val.length; j++) {
      if (val[j] === -1) continue;
      const i = this.slot(hi[j], lo[j]);
      this.hi[i] = hi[j];
      this.lo[i] = lo[j];
      this.val[i] = val[j];
    }
  }
}
