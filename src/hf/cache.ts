// The Hugging Face cache on disk, the layout Python's huggingface_hub (and `hf
// download`) writes and reads, so a model fetched by either tool is found by the other:
//
//   $HF_HUB_CACHE/                       (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
//     models--Qwen--Qwen2.5-0.5B/         datasets--openai--gsm8k/ for datasets
//       refs/main                         the commit hash that branch/tag pointed at (no newline)
//       blobs/<etag>                      file contents, named by the Hub's etag (sha256 for LFS files)
//       blobs/<etag>.incomplete           a download in progress (resumed with an HTTP Range request)
//       snapshots/<commit>/config.json -> ../../blobs/<etag>   relative symlinks, one tree per commit
//
// resolveModelPath / resolveDatasetPath turn what a user typed (a local folder, or an `org/name` id)
// into a folder to read from; anything else is an error that lists every place that was looked at.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { runCheckpoint } from "./run-folder.ts";

export type RepoType = "model" | "dataset";

/** A git commit id as the Hub writes it: 40 lowercase hex digits. */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** An `org/name` (or legacy `name`) repo id: letters, digits, `-`, `_`, `.`; no `..` or `--` ends. */
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

type Env = Record<string, string | undefined>;

/** $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (huggingface_hub's order). */
export function hfHome(env: Env = process.env): string {
  if (env.HF_HOME) return env.HF_HOME;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "huggingface");
}

/** The hub cache: $HF_HUB_CACHE, else the legacy $HUGGINGFACE_HUB_CACHE, else <hfHome>/hub. */
export function hubCacheDir(env: Env = process.env): string {
  return env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(hfHome(env), "hub");
}

/**
 * The variable that asks for no network, or null: HF_HUB_OFFLINE=1 (or true/yes/on, as
 * huggingface_hub accepts), or transformers' TRANSFORMERS_OFFLINE=1.
 */
export function offlineVariable(env: Env = process.env): string | null {
  const on = (v: string | undefined) => ["1", "true", "yes", "on"].includes((v ?? "").trim().toLowerCase());
  return on(env.HF_HUB_OFFLINE)
    ? "HF_HUB_OFFLINE"
    : on(env.TRANSFORMERS_OFFLINE)
      ? "TRANSFORMERS_OFFLINE"
      : null;
}

/** HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set: never touch the network. */
export function isOffline(env: Env = process.env): boolean {
  return offlineVariable(env) !== null;
}

/** Check an `org/name` id; the error names the id and what is wrong with it. */
export function checkRepoId(repoId: string): void {
  if (!REPO_ID.test(repoId) || repoId.includes("..") || repoId.includes("--")) {
    throw new Error(
      `'${repoId}' is not a Hugging Face repo id (expected org/name: letters, digits, '-', '_', '.'; no '..' or '--')`,
    );
  }
}

/** models--org--name / datasets--org--name. */
export function repoFolderName(repoId: string, type: RepoType): string {
  checkRepoId(repoId);
  return [`${type}s`, ...repoId.split("/")].join("--");
}

/** <hub cache>/models--org--name. */
export function repoCacheDir(repoId: string, type: RepoType, cacheDir = hubCacheDir()): string {
  return join(cacheDir, repoFolderName(repoId, type));
}

/** Path of refs/<revision> ("refs/pr/1" stays nested, as huggingface_hub writes it). */
export function refPath(repoDir: string, revision: string): string {
  if (revision.split("/").some((p) => p === "" || p === "." || p === "..")) {
    throw new Error(`revision '${revision}' is not a valid branch, tag or commit name`);
  }
  return join(repoDir, "refs", revision);
}

/** The commit a revision names in the cache: itself when it is a commit hash, else refs/<revision>. */
export function cachedCommit(repoDir: string, revision = "main"): string | null {
  if (COMMIT_HASH.test(revision)) return revision;
  const ref = refPath(repoDir, revision);
  if (!existsSync(ref)) return null;
  const commit = readFileSync(ref, "utf8").trim();
  if (!COMMIT_HASH.test(commit)) throw new Error(`${ref}: expected a 40-hex commit hash, got '${commit}'`);
  return commit;
}

/** Names under refs/ (branches and tags the cache knows), e.g. ["main", "v1.0"]. */
export function cachedRefs(repoDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  };
  walk(join(repoDir, "refs"), "");
  return out.sort();
}

/** Commit hashes that have a snapshots/<commit>/ folder. */
export function cachedSnapshots(repoDir: string): string[] {
  const dir = join(repoDir, "snapshots");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => COMMIT_HASH.test(n))
    .sort();
}

/**
 * Point snapshots/<commit>/<path> at blobs/<etag> with a relative link, as huggingface_hub does
 * (so the cache can be moved). A link to another blob is replaced; a real file there is an error.
 */
export function linkSnapshotFile(pointer: string, blob: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  const target = relative(dirname(pointer), blob).split(sep).join("/");
  let st: ReturnType<typeof lstatSync> | null = null;
  try {
    st = lstatSync(pointer);
  } catch {
    // nothing there yet
  }
  if (st?.isSymbolicLink()) {
    if (readlinkSync(pointer) === target) return;
    rmSync(pointer);
  } else if (st) {
    throw new Error(`${pointer}: a real file is in the way of the link to ${blob}`);
  }
  symlinkSync(target, pointer);
}

/** Files of a snapshot folder, relative with `/`, sorted; a link whose blob is gone is an error. */
export function snapshotFiles(snapshotDir: string): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(full);
      } catch {
        throw new Error(
          `${full}: broken link in the Hugging Face cache (its blob is missing); download again`,
        );
      }
      if (st.isDirectory()) walk(full, `${prefix}${name}/`);
      else out.push({ path: `${prefix}${name}`, size: st.size });
    }
  };
  walk(snapshotDir, "");
  return out;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export interface ResolveOptions {
  /** Branch, tag or commit hash for hub ids. Default "main". */
  revision?: string;
  /** Hub cache to look in. Default hubCacheDir(). */
  cacheDir?: string;
}

/**
 * A local folder (wins when it exists), else `org/name` at `revision` in the hub cache.
 * Returns an absolute folder path; throws with every place looked at when there is none.
 */
export function resolveRepoPath(idOrPath: string, type: RepoType, opts: ResolveOptions = {}): string {
  if (!idOrPath) throw new Error(`no ${type} given (expected a folder or an org/name id)`);
  const local = resolve(idOrPath);
  if (isDir(local)) return local;
  const looked = [`${local} (no such folder)`];
  const revision = opts.revision ?? "main";
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  if (REPO_ID.test(idOrPath) && !idOrPath.includes("..") && !idOrPath.includes("--")) {
    const repoDir = repoCacheDir(idOrPath, type, cacheDir);
    if (!isDir(repoDir)) {
      looked.push(`${repoDir} (not in the Hugging Face cache)`);
    } else {
      const commit = cachedCommit(repoDir, revision);
      const snapshot = commit ? join(repoDir, "snapshots", commit) : null;
      if (snapshot && isDir(snapshot)) return snapshot;
      const refs = cachedRefs(repoDir);
      const snaps = cachedSnapshots(repoDir);
      looked.push(
        commit
          ? `${snapshot} (revision '${revision}' -> ${commit}, but that snapshot is missing)`
          : `${refPath(repoDir, revision)} (revision '${revision}' not cached; refs: ${refs.join(", ") || "none"}; snapshots: ${snaps.join(", ") || "none"})`,
      );
    }
  } else {
    looked.push(`(not an org/name id, so the Hugging Face cache at ${cacheDir} was not searched)`);
  }
  const hint = REPO_ID.test(idOrPath)
    ? `\nDownload it with: pnpm r1lab download ${idOrPath}${type === "dataset" ? " --repo-type dataset" : ""}${
        opts.revision ? ` --revision ${opts.revision}` : ""
      }`
    : "";
  throw new Error(`${type} '${idOrPath}' not found. Looked at:\n  ${looked.join("\n  ")}${hint}`);
}

/** A model folder: a local path, or `org/name` from the HF cache (see resolveRepoPath). */
export async function resolveModelPath(idOrPath: string, opts: ResolveOptions = {}): Promise<string> {
  // A run folder (runs/NAME) stands for its final checkpoint.
  if (existsSync(idOrPath)) {
    const ck = runCheckpoint(idOrPath);
    if (ck) return ck;
  }
  return resolveRepoPath(idOrPath, "model", opts);
}

/** A dataset folder: a local path, or `org/name` from the HF cache (datasets--org--name). */
export async function resolveDatasetPath(idOrPath: string, opts: ResolveOptions = {}): Promise<string> {
  return resolveRepoPath(idOrPath, "dataset", opts);
}
