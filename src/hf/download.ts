// Download a Hub repo (model or dataset) at a revision, as `hf download` does: into the standard
// Hugging Face cache (cache.ts has the layout), so that Python's huggingface_hub and r1lab share one
// cache, or with `localDir` into a plain folder (files under their repo paths, metadata under
// <localDir>/.cache/huggingface/download/, as huggingface_hub writes it).
//
// The Hub's metadata comes through @huggingface/hub: modelInfo/datasetInfo give the commit a branch
// or tag points at, listFiles the files at that commit with their sizes and ids. A blob is named as
// huggingface_hub names it: the sha256 (LFS oid) for LFS/Xet files, the git blob id otherwise.
// The bytes go through resume.ts rather than the library's downloadFile, because resuming needs
// control of the HTTP exchange: a partial `.incomplete` file is continued with a Range request, and
// a connection dropped mid-file is retried from where it stopped. LFS files are checked against
// their sha256, every file against its size. Files already there are not fetched again (unless
// forceDownload); up to maxWorkers files are fetched at once, under one progress bar.
//
// Environment, as huggingface_hub reads it: HF_TOKEN (else the token file of `hf auth login`),
// HF_HOME / HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE),
// HF_HUB_DISABLE_PROGRESS_BARS.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { datasetInfo, HubApiError, type ListFileEntry, listFiles, modelInfo } from "@huggingface/hub";
import { writeFileAtomic } from "../engine/atomic.ts";
import { Progress, type ProgressStream } from "../report/progress.ts";
import type { RepoType } from "./cache.ts";
import {
  COMMIT_HASH,
  cachedCommit,
  hubCacheDir,
  linkSnapshotFile,
  offlineVariable,
  refPath,
  repoCacheDir,
  snapshotFiles,
} from "./cache.ts";
import { checkRelative, type FileSelection, fileFilter, hfToken, progressBarsDisabled } from "./hub-files.ts";
import { DownloadError, fetchResumable, sizeOf } from "./resume.ts";

export { globToRegExp, hfToken } from "./hub-files.ts";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

type Env = Record<string, string | undefined>;

export interface DownloadOptions extends FileSelection {
  repoId: string;
  repoType?: RepoType;
  /** Branch, tag or commit hash. Default "main". */
  revision?: string;
  /** The hub cache folder. Default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Download into this plain folder instead of the cache. */
  localDir?: string;
  /** Token (else HF_TOKEN, else the token file). */
  token?: string;
  /** Fetch every file again, even when it is already there. */
  forceDownload?: boolean;
  /** List what would be fetched (status "would download" / "cached"), write nothing. */
  dryRun?: boolean;
  /** Files fetched at once. Default 8. */
  maxWorkers?: number;
  /** Environment to read HF_* from. Default process.env. */
  env?: Env;
  /** Retries of one file after a dropped connection (each resumes). Default 3. */
  retries?: number;
  /** Where the progress bar goes. Default process.stderr (none with HF_HUB_DISABLE_PROGRESS_BARS). */
  progress?: ProgressStream;
  /** One line per file (cached, downloaded, resumed). Default: nothing. */
  log?: (line: string) => void;
}

export interface DownloadedFile {
  path: string;
  size: number;
  status: "downloaded" | "resumed" | "cached" | "would download";
}

export interface DownloadResult {
  /** The folder the files are in: <cache>/<repo>/snapshots/<commit>, or localDir. */
  snapshotDir: string;
  commit: string;
  files: DownloadedFile[];
}

/** Explain Hub errors in terms of what to do. */
function hubError(e: unknown, what: string, endpoint: string, hasToken: boolean): Error {
  if (e instanceof HubApiError) {
    const why =
      e.statusCode === 401 || e.statusCode === 403
        ? hasToken
          ? "the token was refused (gated repo not accepted, or no read access)"
          : "it needs a token: set HF_TOKEN or pass --token"
        : e.statusCode === 404
          ? `not found at ${endpoint}${hasToken ? "" : " (a private repo also needs HF_TOKEN)"}`
          : `HTTP ${e.statusCode}`;
    return new Error(`${what}: ${why}. ${e.message}`);
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err?.cause ? ` (${err.cause.code ?? err.cause.message})` : "";
  return new Error(
    `${what}: ${err?.message ?? String(e)}${cause}; endpoint ${endpoint}. Set HF_HUB_OFFLINE=1 to use the cache only.`,
  );
}

interface Hub {
  endpoint: string;
  token: string | undefined;
  repo: { type: RepoType; name: string };
}

/** Where one file goes: the final path, its partial file, and how to finish it. */
interface Target {
  /** The path a loader reads (snapshot link or local file). */
  final: string;
  incomplete: string;
  /** Already there and current (size, and etag where it is recorded). */
  present(): boolean;
  /** Move the finished partial file into place. */
  finish(): void;
}

function cacheTarget(
  repoDir: string,
  commit: string,
  path: string,
  etag: string,
  size: number,
  force: boolean,
): Target {
  const final = join(repoDir, "snapshots", commit, path);
  const blob = join(repoDir, "blobs", etag);
  return {
    final,
    incomplete: `${blob}.incomplete`,
    present: () => {
      if (force) return false;
      if (sizeOf(final) === size) return true;
      if (sizeOf(blob) !== size) return false;
      linkSnapshotFile(final, blob);
      return true;
    },
    finish: () => {
      renameSync(`${blob}.incomplete`, blob);
      linkSnapshotFile(final, blob);
    },
  };
}

function localTarget(
  localDir: string,
  commit: string,
  path: string,
  etag: string,
  size: number,
  force: boolean,
): Target {
  const final = join(localDir, path);
  const meta = join(localDir, ".cache", "huggingface", "download", `${path}.metadata`);
  const incomplete = join(localDir, ".cache", "huggingface", "download", `${path}.${etag}.incomplete`);
  return {
    final,
    incomplete,
    present: () =>
      !force &&
      sizeOf(final) === size &&
      existsSync(meta) &&
      readFileSync(meta, "utf8").split("\n")[1] === etag,
    finish: () => {
      mkdirSync(dirname(final), { recursive: true });
      renameSync(incomplete, final);
      writeFileAtomic(meta, `${commit}\n${etag}\n${Date.now() / 1000}\n`);
    },
  };
}

/** The resolve URL of a file at a commit (the Hub redirects LFS/Xet files to its CDN). */
function resolveUrl(hub: Hub, commit: string, path: string): string {
  const prefix = hub.repo.type === "dataset" ? "datasets/" : "";
  const file = path.split("/").map(encodeURIComponent).join("/");
  return `${hub.endpoint}/${prefix}${hub.repo.name}/resolve/${commit}/${file}`;
}

/** Fetch one file into its target, resuming and retrying; returns whether bytes were kept. */
async function fetchOne(
  hub: Hub,
  commit: string,
  path: string,
  etag: string,
  size: number,
  t: Target,
  opts: DownloadOptions,
  onBytes: (delta: number) => void,
): Promise<boolean> {
  const what = `${hub.repo.name}/${path}`;
  mkdirSync(dirname(t.incomplete), { recursive: true });
  if (opts.forceDownload) rmSync(t.incomplete, { force: true });
  const retries = opts.retries ?? 3;
  let resumed = false;
  let seen = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetchResumable(resolveUrl(hub, commit, path), t.incomplete, {
        size,
        headers: hub.token ? { Authorization: `Bearer ${hub.token}` } : {},
        sha256: etag.length === 64,
        onBytes: (n) => {
          onBytes(n - seen);
          seen = n;
        },
      });
      resumed ||= r.resumed;
      if (r.digest && r.digest !== etag) {
        rmSync(t.incomplete, { force: true });
        throw new DownloadError(`sha256 ${r.digest} is not the Hub's ${etag}; the partial file was removed`);
      }
      return resumed;
    } catch (e) {
      const msg = (e as Error).message;
      const kept =
        sizeOf(t.incomplete) > 0
          ? ` (${sizeOf(t.incomplete)} bytes kept in ${t.incomplete}: run again to resume)`
          : "";
      if (e instanceof DownloadError || attempt >= retries) throw new Error(`${what}: ${msg}${kept}`);
      opts.log?.(`${path}: connection lost (${msg}); resuming, retry ${attempt + 1}/${retries}`);
    }
  }
}

/** Offline: the files already there for `revision`, or an error saying where it looked. */
function fromDisk(
  repoDir: string,
  opts: DownloadOptions,
  revision: string,
  variable: string,
): DownloadResult {
  const filter = fileFilter(opts);
  let dir: string;
  let commit: string | null;
  if (opts.localDir) {
    dir = opts.localDir;
    commit = existsSync(dir) ? "" : null;
  } else {
    commit = existsSync(repoDir) ? cachedCommit(repoDir, revision) : null;
    dir = commit ? join(repoDir, "snapshots", commit) : refPath(repoDir, revision);
  }
  if (commit === null || !existsSync(dir)) {
    throw new Error(
      `${variable} is set and ${opts.repoId}@${revision} is not in the ${opts.localDir ? "folder" : "cache"} (looked for ${dir}). Unset ${variable} to download it.`,
    );
  }
  const files = snapshotFiles(dir).filter((f) => !f.path.startsWith(".cache/") && filter.keep(f.path));
  if (files.length === 0)
    throw new Error(
      `${variable} is set and no ${opts.localDir ? "" : "cached "}file of ${dir} ${filter.describe}`,
    );
  return { snapshotDir: dir, commit, files: files.map((f) => ({ ...f, status: "cached" as const })) };
}

/** Run `fn` over `items` with at most `n` at once, keeping the order of results. */
async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

/**
 * Download `repoId` at `revision` (the selected files, else all) and return the folder they are
 * in. Files already there are not fetched again; partial ones resume.
 */
export async function downloadRepo(opts: DownloadOptions): Promise<DownloadResult> {
  const env = opts.env ?? process.env;
  const type = opts.repoType ?? "model";
  const revision = opts.revision ?? "main";
  const maxWorkers = opts.maxWorkers ?? 8;
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1)
    throw new Error(`maxWorkers must be an integer >= 1, got ${maxWorkers}`);
  const repoDir = repoCacheDir(opts.repoId, type, opts.cacheDir ?? hubCacheDir(env));
  const offline = offlineVariable(env);
  if (offline) return fromDisk(repoDir, opts, revision, offline);

  const hub: Hub = {
    endpoint: (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    token: hfToken(env, opts.token),
    repo: { type, name: opts.repoId },
  };
  const what = `${type} ${opts.repoId}@${revision}`;
  // The token goes in through `fetch`, not `accessToken`: @huggingface/hub refuses tokens without
  // the hf_ prefix, which the Hub itself issues (organization and CI tokens) and accepts.
  const authFetch: typeof fetch = (url, init) => {
    const headers = new Headers(init?.headers);
    if (hub.token) headers.set("Authorization", `Bearer ${hub.token}`);
    return fetch(url, { ...init, headers });
  };
  const params = {
    name: opts.repoId,
    revision,
    hubUrl: hub.endpoint,
    fetch: authFetch,
    additionalFields: ["sha" as const],
  };
  const info = await (type === "model" ? modelInfo(params) : datasetInfo(params)).catch((e) => {
    throw hubError(e, what, hub.endpoint, !!hub.token);
  });
  const commit = String(info.sha ?? "");
  if (!COMMIT_HASH.test(commit))
    throw new Error(`${what}: the Hub answered no commit hash (sha: '${commit}')`);

  const filter = fileFilter(opts);
  const entries: ListFileEntry[] = [];
  try {
    for await (const e of listFiles({
      repo: hub.repo,
      recursive: true,
      revision: commit,
      hubUrl: hub.endpoint,
      fetch: authFetch,
    })) {
      if (e.type === "file" && filter.keep(e.path)) entries.push(e);
    }
  } catch (e) {
    throw hubError(e, `${what}: listing files`, hub.endpoint, !!hub.token);
  }
  const missing = (opts.files ?? []).filter((f) => !entries.some((e) => e.path === f));
  if (missing.length)
    throw new Error(`${what}: no file ${missing.join(", ")} in the repo at commit ${commit}`);
  if (entries.length === 0) throw new Error(`${what}: no file ${filter.describe}`);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const plan = entries.map((entry) => {
    checkRelative(entry.path);
    const size = entry.lfs?.size ?? entry.size;
    const etag = entry.lfs?.oid ?? entry.oid ?? "";
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag)) {
      throw new Error(`${opts.repoId}/${entry.path}: the Hub's listing gives no usable id (oid '${etag}')`);
    }
    const force = !!opts.forceDownload;
    const target = opts.localDir
      ? localTarget(opts.localDir, commit, entry.path, etag, size, force)
      : cacheTarget(repoDir, commit, entry.path, etag, size, force);
    return { path: entry.path, size, etag, target };
  });
  const dir = opts.localDir ?? join(repoDir, "snapshots", commit);
  if (opts.dryRun) {
    const files = plan.map(
      (p) =>
        ({
          path: p.path,
          size: p.size,
          status: p.target.present() ? "cached" : "would download",
        }) as DownloadedFile,
    );
    return { snapshotDir: dir, commit, files };
  }
  if (!opts.localDir && revision !== commit) writeFileAtomic(refPath(repoDir, revision), commit);
  mkdirSync(dir, { recursive: true });

  const todo = plan.filter((p) => !p.target.present());
  const total = todo.reduce((s, p) => s + p.size, 0);
  const bars = !progressBarsDisabled(env) && total > 0;
  const bar = bars
    ? new Progress({
        total,
        label: `${todo.length} file${todo.length === 1 ? "" : "s"}`,
        stream: opts.progress,
      })
    : null;
  let bytes = 0;
  const files = await pool(plan, maxWorkers, async (p): Promise<DownloadedFile> => {
    let status: DownloadedFile["status"] = "cached";
    if (todo.includes(p)) {
      const resumed = await fetchOne(hub, commit, p.path, p.etag, p.size, p.target, opts, (d) => {
        bytes += d;
        bar?.update(bytes);
      });
      p.target.finish();
      status = resumed ? "resumed" : "downloaded";
    }
    opts.log?.(`${p.path}: ${status} (${p.size} bytes)`);
    return { path: p.path, size: p.size, status };
  });
  bar?.done();
  return { snapshotDir: dir, commit, files };
}
