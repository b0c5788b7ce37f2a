// The shape of one r1lab CLI command, and the flag parser every command shares.
// Flags are parsed strictly (node:util parseArgs): an unknown flag or a missing value is an error
// that names the flag, so a typo never runs a job with silently wrong settings. A declared option
// may also be spelled with underscores (--max_steps for --max-steps), as TRL's users write them. A
// usage error is one line and exits 2 (main.ts). A negative number after a flag that takes a value
// (`--temperature -1`) is that flag's value, so numberFlag can say what range the flag accepts.
import { parseArgs } from "node:util";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Default shown in --help and applied when the flag is absent. */
  default?: string | boolean;
  multiple?: boolean;
  /** One line for --help. */
  help: string;
  /** Default shown in --help only (a config option's default, applied by the schema, not by the parser). */
  shownDefault?: string;
  /** Another spelling of this flag, named in --help (e.g. "--loss_type"). */
  alsoAs?: string;
  /** Accepted but not listed in --help (the other spelling of a listed flag). */
  hidden?: boolean;
  /** A string option's value when it is given bare (a switch: `--use-peft` is `--use-peft true`). */
  bare?: string;
}

export interface Command {
  name: string;
  /** One line for `r1lab --help`. */
  summary: string;
  /** Usage line(s) after `r1lab `, e.g. "eval --model DIR --task NAME". */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Longer text shown after the options in --help. */
  details?: string;
  run(values: Record<string, any>, positionals: string[]): Promise<void>;
}

/** A mistake in what the user asked for: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export function commandHelp(cmd: Command): string {
  const lines = [`usage: r1lab ${cmd.usage}`, "", cmd.summary, "", "options:"];
  const rows = Object.entries({
    ...cmd.options,
    help: { type: "boolean", help: "show this help" } as OptionSpec,
  });
  for (const [name, o] of rows) {
    if (o.hidden) continue;
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? " VALUE" : ""}`;
    const shown =
      o.shownDefault ?? (o.default !== undefined && o.default !== false ? String(o.default) : undefined);
    const def = shown !== undefined && shown !== "" ? ` (default: ${shown})` : "";
    lines.push(`  ${flag.padEnd(30)} ${o.help}${def}${o.alsoAs ? `; also ${o.alsoAs}` : ""}`);
  }
  if (cmd.details) lines.push("", cmd.details.trim());
  return lines.join("\n");
}

/** A switch given bare (`--use-peft` last, or before another flag) becomes `--use-peft=true`. */
function fillBareValues(cmd: Command, argv: string[]): string[] {
  return argv.map((a, i) => {
    const o = a.startsWith("--") ? cmd.options[a.slice(2)] : undefined;
    const next = argv[i + 1];
    return o?.bare !== undefined && (next === undefined || next.startsWith("--")) ? `${a}=${o.bare}` : a;
  });
}

/** `--flag -1` and `-f -1` become `--flag=-1`, so parseArgs takes a negative number as the value. */
function joinNegativeValues(cmd: Command, argv: string[]): string[] {
  const valued = new Set<string>();
  for (const [name, o] of Object.entries(cmd.options)) {
    if (o.type !== "string") continue;
    valued.add(`--${name}`);
    if (o.short) valued.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (valued.has(argv[i]) && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      const long = argv[i].startsWith("--")
        ? argv[i]
        : `--${Object.entries(cmd.options).find(([, o]) => `-${o.short}` === argv[i])![0]}`;
      out.push(`${long}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** Parse argv for one command; returns null when --help was asked (help already printed). */
export function parseCommandArgs(cmd: Command, argv: string[]) {
  const options: Record<string, any> = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(cmd.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    };
  }
  // --max_steps is --max-steps (TRL and transformers spell options with underscores).
  const args = argv.map((a) => {
    const m = /^--([a-z0-9]+(?:_[a-z0-9]+)+)(=.*)?$/.exec(a);
    const dashed = m ? m[1].replace(/_/g, "-") : null;
    return dashed && Object.hasOwn(cmd.options, dashed) ? `--${dashed}${m![2] ?? ""}` : a;
  });
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(cmd, fillBareValues(cmd, args)),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional.*$/s, "").replace(/\s*\n\s*/g, " ");
    throw new UsageError(`${msg} (see \`r1lab ${cmd.name} --help\`)`);
  }
  if (parsed.values.help) {
    console.log(commandHelp(cmd));
    return null;
  }
  return { values: parsed.values as Record<string, any>, positionals: parsed.positionals };
}

export interface NumberRange {
  int?: boolean;
  /** Smallest value allowed. */
  min?: number;
  /** The value must be greater than this. */
  above?: number;
  /** Largest value allowed. */
  max?: number;
}

/** Read a numeric flag, with a clear error naming the flag and its range when it is not one. */
export function numberFlag(values: Record<string, any>, name: string, opts: NumberRange = {}): number {
  const raw = values[name];
  const v = Number(raw);
  const kind = opts.int ? "an integer" : "a number";
  const range = [
    opts.min !== undefined ? `>= ${opts.min}` : null,
    opts.above !== undefined ? `> ${opts.above}` : null,
    opts.max !== undefined ? `<= ${opts.max}` : null,
  ].filter(Boolean);
  if (raw === undefined) throw new UsageError(`--${name} is required`);
  const want = `--${name} must be ${kind}${range.length > 0 ? ` ${range.join(" and ")}` : ""}`;
  if (
    raw === undefined ||
    String(raw).trim() === "" ||
    !Number.isFinite(v) ||
    (opts.int && !Number.isInteger(v))
  )
    throw new UsageError(`${want}, got '${raw}'`);
  const out =
    (opts.min !== undefined && v < opts.min) ||
    (opts.above !== undefined && v <= opts.above) ||
    (opts.max !== undefined && v > opts.max);
  if (out) throw new UsageError(`${want}, got ${raw}`);
  return v;
}

export function requireFlag(values: Record<string, any>, name: string, cmdName: string): string {
  const v = values[name];
  if (v === "" && name === "model")
    throw new UsageError(
      `r1lab ${cmdName}: --model is empty; when it came from $(r1lab download ...), that download failed (its error is above)`,
    );
  if (v === undefined || v === "") throw new UsageError(`r1lab ${cmdName}: --${name} is required`);
  return v;
}
