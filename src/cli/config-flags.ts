// A run command's flags from its config schema (runs/schema.ts): one flag per option, spelled with
// dashes (--loss-type, --pretrain-learning-rate) or with underscores as in TRL (--loss_type), the
// help line with the default, and the table of docs/cli.md. Values go through the schema's checks,
// so `--loss-type dapoo` is an error naming the flag and the choices. How a run resolves its config:
// the preset, then a --config JSON file, then the flags.
import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import {
  ConfigError,
  type Group,
  defaults,
  flagName,
  getPath,
  leaves,
  merge,
  setPath,
  showDefault,
} from "../runs/schema.ts";
import { type OptionSpec, UsageError } from "./command.ts";

/**
 * The default a flag's help shows: the schema's, followed by each preset's own where a preset
 * changes it ("400; tiny: 6"), since the preset a run starts from sets the value a flag left out
 * gets.
 */
function shownDefault(leaf: ReturnType<typeof leaves>[number], presets: Record<string, object>): string {
  const base = showDefault(leaf.field);
  const others = Object.entries(presets)
    .map(([name, cfg]) => [name, showDefault(leaf.field, getPath(cfg, leaf.path))])
    .filter(([, shown]) => shown !== base);
  return [base, ...others.map(([name, shown]) => `${name}: ${shown}`)].join("; ");
}

/**
 * The flags of a schema: dash spelling (shown), underscore spelling and old aliases (hidden).
 * `presets`: the resolved configs of the command's presets, so help shows a preset's default
 * where it differs from the schema's.
 */
export function configOptions(
  schema: Group,
  skip: string[] = [],
  presets: Record<string, object> = {},
): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const leaf of leaves(schema)) {
    const dash = flagName(leaf);
    if (skip.includes(dash)) continue;
    const under = dash.replaceAll("-", "_");
    const bare = leaf.field.kind === "boolean" ? "true" : undefined; // --use-peft alone switches it on
    out[dash] = {
      type: "string",
      help: leaf.field.help,
      shownDefault: shownDefault(leaf, presets),
      alsoAs: under !== dash ? `--${under}` : undefined,
      bare,
    };
    if (under !== dash) out[under] = { type: "string", help: leaf.field.help, hidden: true, bare };
    for (const a of leaf.field.aliases ?? [])
      out[a] = { type: "string", help: leaf.field.help, hidden: true, bare };
  }
  return out;
}

/** The overrides the flags ask for, as a nested partial config (each value checked). */
export function flagOverrides(schema: Group, values: Record<string, unknown>): Record<string, unknown> {
  const over: Record<string, unknown> = {};
  for (const leaf of leaves(schema)) {
    const dash = flagName(leaf);
    const names = [dash, dash.replaceAll("-", "_"), ...(leaf.field.aliases ?? [])].filter(
      (n, i, a) => a.indexOf(n) === i,
    );
    const given = names.filter((n) => values[n] !== undefined);
    if (given.length === 0) continue;
    if (given.length > 1)
      throw new UsageError(
        `--${given[0]} and --${given[1]} set the same option (${leaf.path.join(".")}); pass one`,
      );
    try {
      setPath(over, leaf.path, leaf.field.fromFlag(String(values[given[0]])));
    } catch (e) {
      throw new UsageError(`--${given[0]} ${(e as Error).message}`);
    }
  }
  return over;
}

/** The resolved configs of a command's presets other than `default` (for configOptions' help). */
export function presetConfigs(schema: Group, presets: Record<string, unknown>): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [name, over] of Object.entries(presets))
    if (name !== "default") out[name] = merge(schema, defaults(schema), over, `preset ${name}`);
  return out;
}

/** A --config file: an object of overrides in JSON, or YAML (.yaml, .yml) as TRL's recipes are written. */
export function readConfigFile(path: string): unknown {
  if (!existsSync(path)) throw new UsageError(`--config ${path}: no such file`);
  const yaml = /\.ya?ml$/i.test(path);
  try {
    const text = readFileSync(path, "utf8");
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    throw new UsageError(`--config ${path}: not valid ${yaml ? "YAML" : "JSON"} (${why})`);
  }
}

/** preset -> --config file -> flags, each checked against the schema. */
export function resolveConfig<C>(
  schema: Group,
  preset: unknown,
  presetName: string,
  values: Record<string, unknown>,
): C {
  try {
    let cfg = merge(schema, defaults(schema), preset, `preset ${presetName}`);
    if (values.config)
      cfg = merge(schema, cfg, readConfigFile(String(values.config)), `--config ${values.config}`);
    return merge(schema, cfg, flagOverrides(schema, values), "flags") as C;
  } catch (e) {
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
}

/** A resumed run's config.json, checked against the schema; options added since it was written get their defaults. */
export function checkSavedConfig<C>(schema: Group, saved: Record<string, unknown>, path: string): C {
  const { name, executor, ...rest } = saved; // set by the command, not options of the schema
  try {
    return {
      ...(merge(schema, defaults(schema), rest, path) as object),
      name,
      ...(executor === undefined ? {} : { executor }),
    } as C;
  } catch (e) {
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
}

/** The option table of docs/cli.md for a schema: | flag | default | meaning |. */
export function optionTable(schema: Group, presets: Record<string, object> = {}): string {
  const rows = ["| option | default | meaning |", "|---|---|---|"];
  for (const [name, o] of Object.entries(configOptions(schema, [], presets))) {
    if (o.hidden) continue;
    rows.push(
      `| \`--${name}\` | ${o.shownDefault === "" ? "" : `\`${o.shownDefault}\``} | ${o.help.replaceAll("|", "\\|")} |`,
    );
  }
  return rows.join("\n");
}
