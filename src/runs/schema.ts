// A run config's schema: every option once, with its type, default and one line of help. From it
// come the config's TypeScript type (Infer), its defaults, the validation of a config file or a
// resumed run's config.json (an unknown key, a wrong type or a value outside an enum is an error
// naming the field), the command's flags (cli/config-flags.ts), --help and the option tables of
// docs/cli.md. Names are TRL's (GRPOConfig, SFTConfig) and Hugging Face's where one exists.

export interface FieldBase<T> {
  kind: "number" | "string" | "enum" | "boolean" | "weights" | "list";
  default: T;
  help: string;
  /** Checks a value (from JSON or a parsed flag); returns an error message or null. */
  check(v: unknown): string | null;
  /** Reads a flag's text; throws an Error naming what is wrong. */
  fromFlag(text: string): T;
  /** The value a checked JSON/YAML value stands for (a list given as "a,b"); the value itself when left out. */
  read?(v: unknown): T;
  /** Extra flag spellings, without the leading "--" (old names kept working). */
  aliases?: string[];
  /** The flag name when not the path's (e.g. "grpo-steps"). */
  flag?: string;
}
export type Field<T = unknown> = FieldBase<T>;
export interface Group<F extends Fields = Fields> {
  kind: "group";
  help: string;
  fields: F;
  /** Prefix of its fields' flags; the group's path when left out ("" = bare names). */
  flagPrefix?: string;
}
export type Fields = { [k: string]: Field<any> | Group<any> };
export type Infer<S> =
  S extends Field<infer T> ? T : S extends Group<infer F> ? { -readonly [K in keyof F]: Infer<F[K]> } : never;

type NumOpts = {
  int?: boolean;
  min?: number;
  above?: number;
  max?: number;
  aliases?: string[];
  flag?: string;
};

/** A number; messages as the CLI's numberFlag writes them ("must be a number > 0, got -1"). */
export function num(def: number, help: string, o: NumOpts = {}): Field<number> {
  const range = [
    o.min !== undefined ? `>= ${o.min}` : null,
    o.above !== undefined ? `> ${o.above}` : null,
    o.max !== undefined ? `<= ${o.max}` : null,
  ].filter(Boolean);
  const want = `must be ${o.int ? "an integer" : "a number"}${range.length > 0 ? ` ${range.join(" and ")}` : ""}`;
  const isNum = (v: unknown): v is number =>
    typeof v === "number" && Number.isFinite(v) && (!o.int || Number.isInteger(v));
  const inRange = (v: number) =>
    !(
      (o.min !== undefined && v < o.min) ||
      (o.above !== undefined && v <= o.above) ||
      (o.max !== undefined && v > o.max)
    );
  return {
    kind: "number",
    default: def,
    help,
    aliases: o.aliases,
    flag: o.flag,
    check: (v) => (!isNum(v) ? `${want}, got ${JSON.stringify(v)}` : inRange(v) ? null : `${want}, got ${v}`),
    fromFlag: (t) => {
      const v = t.trim() === "" ? Number.NaN : Number(t);
      if (!isNum(v)) throw new Error(`${want}, got '${t}'`);
      if (!inRange(v)) throw new Error(`${want}, got ${t}`);
      return v;
    },
  };
}

export function str(def: string, help: string, o: { aliases?: string[]; flag?: string } = {}): Field<string> {
  const check = (v: unknown) => (typeof v === "string" ? null : `must be a string, got ${JSON.stringify(v)}`);
  return { kind: "string", default: def, help, check, fromFlag: (t) => t, ...o };
}

export function oneOf<const V extends readonly string[]>(
  values: V,
  def: V[number],
  help: string,
  o: { aliases?: string[]; flag?: string } = {},
): Field<V[number]> & { values: V } {
  const check = (v: unknown) =>
    typeof v === "string" && values.includes(v)
      ? null
      : `must be one of ${values.join(", ")}, got ${JSON.stringify(v)}`;
  return {
    kind: "enum",
    default: def,
    help,
    check,
    values,
    ...o,
    fromFlag: (t) => {
      if (check(t)) throw new Error(`must be one of ${values.join(", ")}, got '${t}'`);
      return t as V[number];
    },
  };
}

export function bool(
  def: boolean,
  help: string,
  o: { aliases?: string[]; flag?: string } = {},
): Field<boolean> {
  const check = (v: unknown) =>
    typeof v === "boolean" ? null : `must be true or false, got ${JSON.stringify(v)}`;
  return {
    kind: "boolean",
    default: def,
    help,
    check,
    ...o,
    fromFlag: (t) => {
      if (["true", "on", "1", "yes"].includes(t)) return true;
      if (["false", "off", "0", "no"].includes(t)) return false;
      throw new Error(`must be true or false (on/off), got '${t}'`);
    },
  };
}

/** Named weights, e.g. reward_weights {accuracy: 1, format: 0.1}; as a flag "accuracy=1,format=0.1". */
export function weights(def: Record<string, number>, help: string): Field<Record<string, number>> {
  const check = (v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v))
      return `must be an object of name: weight, got ${JSON.stringify(v)}`;
    for (const [k, w] of Object.entries(v))
      if (typeof w !== "number" || !Number.isFinite(w))
        return `weight '${k}' must be a number, got ${JSON.stringify(w)}`;
    return null;
  };
  return {
    kind: "weights",
    default: def,
    help,
    check,
    fromFlag: (t) => {
      const out: Record<string, number> = {};
      for (const part of t.split(",").filter((p) => p.trim())) {
        const [k, w] = part.split("=");
        const v = Number(w);
        if (!k?.trim() || w === undefined || !Number.isFinite(v))
          throw new Error(`must be name=weight pairs separated by commas, got '${t}'`);
        out[k.trim()] = v;
      }
      return out;
    },
  };
}

const splitList = (t: string) =>
  t
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");

/** A list of names, e.g. reward_funcs [accuracy, format]; as a flag (or a string in a file) "accuracy,format". */
export function names(
  def: string[],
  help: string,
  o: { aliases?: string[]; flag?: string } = {},
): Field<string[]> {
  const check = (v: unknown) =>
    typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string"))
      ? null
      : `must be a list of names, got ${JSON.stringify(v)}`;
  const read = (v: unknown) => (typeof v === "string" ? splitList(v) : [...(v as string[])]);
  return { kind: "list", default: def, help, check, read, fromFlag: splitList, ...o };
}

/** A list of numbers, e.g. reward_weights [1, 0.2]; as a flag "1,0.2". */
export function numbers(def: number[], help: string): Field<number[]> {
  const asNums = (xs: unknown[]) => xs.map((x) => (typeof x === "string" && x.trim() !== "" ? Number(x) : x));
  const ok = (xs: unknown[]) => xs.every((x) => typeof x === "number" && Number.isFinite(x));
  const check = (v: unknown) =>
    (typeof v === "string" && ok(asNums(splitList(v)))) || (Array.isArray(v) && ok(v))
      ? null
      : `must be a list of numbers, got ${JSON.stringify(v)}`;
  const read = (v: unknown) =>
    (typeof v === "string" ? asNums(splitList(v)) : [...(v as number[])]) as number[];
  return {
    kind: "list",
    default: def,
    help,
    check,
    read,
    fromFlag: (t) => {
      const xs = asNums(splitList(t));
      if (!ok(xs)) throw new Error(`must be a list of numbers separated by commas, got '${t}'`);
      return xs as number[];
    },
  };
}

/** `f` that may also be null, its default (null stands for "not given": a required path, or a derived default). */
export function optional<T>(f: Field<T>): Field<T | null> {
  return {
    ...f,
    default: null,
    check: (v) => (v === null ? null : f.check(v)),
    read: (v) => (v === null ? null : f.read ? f.read(v) : (v as T)),
  };
}

export function group<F extends Fields>(help: string, fields: F, o: { flagPrefix?: string } = {}): Group<F> {
  return { kind: "group", help, fields, ...o };
}

/** The defaults of a schema, as a fresh object. */
export function defaults<F extends Fields>(g: Group<F>): Infer<Group<F>> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(g.fields))
    out[k] = f.kind === "group" ? defaults(f) : structuredClone(f.default);
  return out as Infer<Group<F>>;
}

/** A config error: the message names the field (e.g. `grpo.loss_type`). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const isObj = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * `base` with the (partial) `over` merged in, checked against the schema: an unknown key, a wrong
 * type or a value outside an enum throws a ConfigError naming `where` and the field. `complete`:
 * every field must be present after the merge (a resumed run's config.json).
 */
export function merge<F extends Fields>(
  g: Group<F>,
  base: Infer<Group<F>>,
  over: unknown,
  where: string,
  at = "",
): Infer<Group<F>> {
  if (!isObj(over))
    throw new ConfigError(`${where}: ${at || "the config"} must be an object, got ${JSON.stringify(over)}`);
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [raw, v] of Object.entries(over)) {
    const k = fieldKey(g, raw);
    const path = at ? `${at}.${raw}` : raw;
    const f = k === null ? undefined : g.fields[k];
    if (k === null || !f)
      throw new ConfigError(`${where}: unknown field '${path}' (known: ${Object.keys(g.fields).join(", ")})`);
    if (f.kind === "group") out[k] = merge(f, (out[k] ?? defaults(f)) as never, v, where, path);
    else {
      const err = f.check(v);
      if (err) throw new ConfigError(`${where}: ${path} ${err}`);
      out[k] = f.read ? f.read(v) : structuredClone(v);
    }
  }
  return out as Infer<Group<F>>;
}

/** The field a config key names: its own name, the dash spelling of it, or its flag or an alias. */
function fieldKey(g: Group, raw: string): string | null {
  if (Object.hasOwn(g.fields, raw)) return raw;
  const under = raw.replaceAll("-", "_");
  if (Object.hasOwn(g.fields, under)) return under;
  for (const [k, f] of Object.entries(g.fields))
    if (f.kind !== "group" && [f.flag, ...(f.aliases ?? [])].some((n) => n?.replaceAll("-", "_") === under))
      return k;
  return null;
}

/** Every leaf of a schema with its path and flag prefix, e.g. {path: ["grpo", "loss_type"], prefix: ""}. */
export function leaves(
  g: Group,
  at: string[] = [],
  prefix = "",
): { path: string[]; field: Field; prefix: string }[] {
  const out: { path: string[]; field: Field; prefix: string }[] = [];
  for (const [k, f] of Object.entries(g.fields)) {
    if (f.kind === "group")
      out.push(...leaves(f, [...at, k], f.flagPrefix ?? (prefix ? `${prefix}-${k}` : k)));
    else out.push({ path: [...at, k], field: f, prefix });
  }
  return out;
}

/** The dash spelling of a leaf's flag: the group's prefix + the field's name, e.g. "pretrain-learning-rate". */
export function flagName(leaf: { path: string[]; field: Field; prefix: string }): string {
  if (leaf.field.flag) return leaf.field.flag;
  const name = leaf.path[leaf.path.length - 1];
  return (leaf.prefix ? `${leaf.prefix}-${name}` : name).replaceAll("_", "-");
}

/** Set `path` in a nested object. */
export function setPath(obj: Record<string, unknown>, path: string[], v: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (!isObj(o[k])) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]] = v;
}

/** The default (or another value of the field, e.g. a preset's) as text for help and docs. */
export function showDefault(f: Field, value: unknown = f.default): string {
  if (value === null) return "";
  if (Array.isArray(value)) return value.join(",");
  if (f.kind === "weights")
    return Object.entries(value as Record<string, number>)
      .map(([k, w]) => `${k}=${w}`)
      .join(",");
  if (f.kind === "string" && /[\s"]/.test(value as string)) return JSON.stringify(value);
  return String(value);
}

/** A leaf's value in a resolved config, e.g. cfg.grpo.steps for ["grpo", "steps"]. */
export function getPath(obj: unknown, path: string[]): unknown {
  let o = obj;
  for (const k of path) o = (o as Record<string, unknown> | undefined)?.[k];
  return o;
}
