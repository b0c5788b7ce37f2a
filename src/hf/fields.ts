// Typed access to the fields of a parsed JSON object (config.json, generation_config.json,
// tokenizer_config.json), with defaults and errors that name the file, the field and the value, so
// a wrong config fails loudly at load instead of silently building a different model.

/** A value and its JSON type, for error messages: `"64" (string)`. */
export const show = (v: unknown) =>
  `${JSON.stringify(v)} (${v === null ? "null" : Array.isArray(v) ? "array" : typeof v})`;

/** Typed field access on one JSON object, with errors that name the file and the field. */
export class Fields {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly where: string,
    private readonly defaults: Record<string, unknown> = {},
  ) {}

  has(k: string): boolean {
    return this.obj[k] !== undefined;
  }
  raw(k: string): unknown {
    if (this.obj[k] !== undefined) return this.obj[k];
    if (k in this.defaults) return this.defaults[k];
    throw new Error(`${this.where}: required field "${k}" is missing`);
  }
  bad(k: string, want: string, v: unknown = this.raw(k)): never {
    throw new Error(`${this.where}: field "${k}" must be ${want}, got ${show(v)}`);
  }
  num(k: string): number {
    const v = this.raw(k);
    return typeof v === "number" && Number.isFinite(v) ? v : this.bad(k, "a number");
  }
  positive(k: string): number {
    const v = this.num(k);
    return v > 0 ? v : this.bad(k, "a positive number");
  }
  int(k: string, min = 1): number {
    const v = this.raw(k);
    return Number.isInteger(v) && (v as number) >= min ? (v as number) : this.bad(k, `an integer >= ${min}`);
  }
  intOrNull(k: string, min = 0): number | null {
    return this.raw(k) === null ? null : this.int(k, min);
  }
  bool(k: string): boolean {
    const v = this.raw(k);
    return typeof v === "boolean" ? v : this.bad(k, "true or false");
  }
  oneOf<T extends string>(k: string, allowed: readonly T[]): T {
    const v = this.raw(k);
    return allowed.includes(v as T)
      ? (v as T)
      : this.bad(k, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
  }
  /** A token id, a list of them (eos_token_id), or null. */
  tokenIds(k: string): number | number[] | null {
    const v = this.raw(k);
    if (v === null || (Number.isInteger(v) && (v as number) >= 0)) return v as number | null;
    if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0)) return [...v];
    return this.bad(k, "a token id, a list of token ids, or null");
  }
  /** Throw unless the field is absent or one of `ok` (a feature our decoder does not implement). */
  only(k: string, ok: readonly unknown[], why: string): void {
    if (this.obj[k] !== undefined && !ok.includes(this.obj[k])) {
      throw new Error(
        `${this.where}: field "${k}" is ${show(this.obj[k])}: ${why} is not supported (allowed: ${ok.map((o) => JSON.stringify(o)).join(", ")})`,
      );
    }
  }
}
