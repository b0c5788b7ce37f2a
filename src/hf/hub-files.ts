// Which files of a Hub repo a download takes, and with which token: `hf download`'s FILES,
// --include and --exclude (fnmatch, as huggingface_hub matches them), and the token from --token,
// HF_TOKEN or the token file `hf auth login` writes.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hfHome } from "./cache.ts";

type Env = Record<string, string | undefined>;

/**
 * fnmatch (Python's, which huggingface_hub uses): `*` any run of characters (`/` too), `?` one,
 * `[...]` a set; a pattern ending in `/` means everything under that folder, as in `hf download`.
 */
export function globToRegExp(pattern: string): RegExp {
  const glob = pattern.endsWith("/") ? `${pattern}*` : pattern;
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[" && glob.indexOf("]", i + 2) > 0) {
      const end = glob.indexOf("]", i + 2);
      let set = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
      if (set.startsWith("!")) set = `^${set.slice(1)}`;
      re += `[${set}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

export interface FileSelection {
  /** Exact paths (hf download's FILES arguments); when given, only these. */
  files?: string[];
  /** fnmatch patterns a file must match one of. */
  include?: string[];
  /** fnmatch patterns no file may match. */
  exclude?: string[];
}

/** A predicate over repo paths, and a phrase describing the selection for error messages. */
export function fileFilter(sel: FileSelection): { keep: (path: string) => boolean; describe: string } {
  const files = new Set(sel.files ?? []);
  const include = (sel.include ?? []).map(globToRegExp);
  const exclude = (sel.exclude ?? []).map(globToRegExp);
  const parts = [
    files.size ? `FILES ${[...files].join(" ")}` : "",
    include.length ? `--include ${sel.include!.join(" ")}` : "",
    exclude.length ? `--exclude ${sel.exclude!.join(" ")}` : "",
  ].filter(Boolean);
  return {
    keep: (p) =>
      (files.size === 0 || files.has(p)) &&
      (include.length === 0 || include.some((r) => r.test(p))) &&
      !exclude.some((r) => r.test(p)),
    describe: parts.length ? `matches ${parts.join(" and ")}` : "is in the repo",
  };
}

/**
 * The token: `explicit` (--token), else HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the
 * token file `hf auth login` writes ($HF_TOKEN_PATH, else $HF_HOME/token); undefined when none.
 * Any token the Hub issues is accepted (user tokens start with hf_, others need not).
 */
export function hfToken(env: Env = process.env, explicit?: string): string | undefined {
  const fromEnv = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim();
  const file = env.HF_TOKEN_PATH || join(hfHome(env), "token");
  const source = explicit !== undefined ? "--token" : fromEnv ? "HF_TOKEN" : file;
  const token = explicit?.trim() || fromEnv || (existsSync(file) ? readFileSync(file, "utf8").trim() : "");
  if (!token) return undefined;
  if (/[\s\0]/.test(token)) throw new Error(`${source}: the token contains whitespace (a copy-paste slip?)`);
  return token;
}

/** A relative path from the Hub that stays inside the target folder. */
export function checkRelative(path: string): void {
  const parts = path.split("/");
  if (path.startsWith("/") || path.includes("\\") || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new Error(`refusing the file path '${path}' from the Hub: it would leave the download folder`);
  }
}

/** HF_HUB_DISABLE_PROGRESS_BARS=1 (or true/yes/on), as huggingface_hub reads it. */
export function progressBarsDisabled(env: Env = process.env): boolean {
  return ["1", "true", "yes", "on"].includes((env.HF_HUB_DISABLE_PROGRESS_BARS ?? "").trim().toLowerCase());
}
