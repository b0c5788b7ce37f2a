// Download a Hub repo (model or dataset) at a revision into the standard Hugging Face cache
// (cache.ts has the layout), so that Python's huggingface_hub and r1lab share one cache.
//
// The Hub's metadata comes through @huggingface/hub: modelInfo/datasetInfo give the commit a branch
// or tag points at, listFiles the files at that commit with their sizes and ids. A blob is named as
// huggingface_hub names it: the sha256 (LFS oid) for LFS/Xet files, the git blob id otherwise.
// The bytes go through resume.ts rather than the library's downloadFile, because resuming needs
// control of the HTTP exchange: a partial `blobs/<etag>.incomplete` (the name huggingface_hub uses
// too) is continued with a Range request, and a connection dropped mid-file is retried from where
// it stopped. Files whose etag is a sha256 (LFS files) are checked against it, every file against
// its size. Files already in the cache are not fetched again.
//
// Environment, as huggingface_hub reads it: HF_TOKEN (else the token file `huggingface-cli login`
// writes: $HF_TOKEN_PATH or $HF_HOME/token), HF_HOME / HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { datasetInfo, HubApiError, type ListFileEntry, listFiles, modelInfo } from "@huggingface/hub";
import { writeFileAtomic } from "../engine/atomic.ts";
import { Progress, type ProgressStream } from "../report/progress.ts";
import type { RepoType } from "./cache.ts";
import {
  COMMIT_HASH,
  cachedCommit,
  hfHome,
  hubCacheDir,
  isOffline,
  linkSnapshotFile,
  refPath,
  repoCacheDir,
  snapshotFiles,
} from "./cache.ts";
import { DownloadError, fetchResumable, sizeOf } from "./resume.ts";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

type Env = Record<string, string | undefined>;

export interface DownloadOptions {
  repoId: string;
  repoType?: RepoType;
  /** Branch, tag or commit hash. Default "main". */
  revision?: string;
  /** fnmatch patterns as huggingface-cli's --include: `*` also crosses `/`. Default: every file. */
  include?: string[];
  /** Environment to read HF_* from. Default process.env. */
  env?: Env;
  /** Retries of one file after a dropped connection (each resumes). Default 3. */
  retries?: number;
  /** Where progress bars go. Default process.stderr. */
  progress?: ProgressStream;
  /** One line per file (cached, downloaded, resumed). Default: nothing. */
  log?: (line: string) => void;
}

export interface DownloadedFile {
  path: string;
  size: number;
  /** "downloaded" | "resumed" | "cached" (already in the snapshot or the blob store). */
  status: "downloaded" | "resumed" | "cached";
}

export interface DownloadResult {
  /** <cache>/<repo folder>/snapshots/<commit>: the folder to load from. */
  snapshotDir: string;
  commit: string;
  files: DownloadedFile[];
}

/**
 * fnmatch (Python's, which huggingface_hub uses): `*` any run of characters (`/` too), `?` one,
 * `[...]` a set; a pattern ending in `/` means everything under that folder, as in huggingface-cli.
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

/** HF_TOKEN, else the token file huggingface-cli login writes; undefined when neither is set. */
export function hfToken(env: Env = process.env): string | undefined {
  const fromEnv = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim();
  const file = env.HF_TOKEN_PATH || join(hfHome(env), "token");
  const token = fromEnv || (existsSync(file) ? readFileSync(file, "utf8").trim() : "");
  if (!token) return undefined;
  if (!token.startsWith("hf_")) {
    throw new Error(`${fromEnv ? "HF_TOKEN" : file}: a Hugging Face token starts with 'hf_'`);
  }
  return token;
}

/** A relative path from the Hub that stays inside the snapshot folder. */
function checkRelative(path: string): void {
  const parts = path.split("/");
  if (path.startsWith("/") || path.includes("\\") || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new Error(`refusing the file path '${path}' from the Hub: it would leave the snapshot folder`);
  }
}

/** Explain Hub errors in terms of what to do. */
function hubError(e: unknown, what: string, endpoint: string, hasToken: boolean): Error {
  if (e instanceof HubApiError) {
    const why =
      e.statusCode === 401 || e.statusCode === 403
        ? hasToken
          ? "the token was refused (gated repo not accepted, or no read access)"
          : "it needs a token: set HF_TOKEN"
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

/** The resolve URL of a file at a commit (the Hub redirects LFS/Xet files to its CDN). */
function resolveUrl(hub: Hub, commit: string, path: string): string {
  const prefix = hub.repo.type === "dataset" ? "datasets/" : "";
  const file = path.split("/").map(encodeURIComponent).join("/");
  return `${hub.endpoint}/${prefix}${hub.repo.name}/resolve/${commit}/${file}`;
}

/** One file at `commit` into blobs/ + snapshots/; skips what the cache already has. */
async function downloadOne(
  hub: Hub,
  repoDir: string,
  commit: string,
  entry: ListFileEntry,
  opts: DownloadOptions,
) {
  const path = entry.path;
  checkRelative(path);
  const size = entry.lfs?.size ?? entry.size;
  const pointer = join(repoDir, "snapshots", commit, path);
  if (sizeOf(pointer) === size) return { path, size, status: "cached" } as DownloadedFile;
  const what = `${hub.repo.name}/${path}`;
  const etag = entry.lfs?.oid ?? entry.oid ?? "";
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag)) {
    throw new Error(`${what}: the Hub's listing gives no usable id (oid '${etag}')`);
  }
  const blob = join(repoDir, "blobs", etag);
  if (sizeOf(blob) === size) {
    linkSnapshotFile(pointer, blob);
    return { path, size, status: "cached" } as DownloadedFile;
  }
  mkdirSync(join(repoDir, "blobs"), { recursive: true });
  const incomplete = `${blob}.incomplete`;
  const url = resolveUrl(hub, commit, path);
  const bar = size > 0 ? new Progress({ total: size, label: path, stream: opts.progress }) : null;
  const retries = opts.retries ?? 3;
  let resumed = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetchResumable(url, incomplete, {
        size,
        headers: hub.token ? { Authorization: `Bearer ${hub.token}` } : {},
        sha256: etag.length === 64,
        onBytes: (n) => bar?.update(n),
      });
      resumed ||= r.resumed;
      if (r.digest && r.digest !== etag) {
        rmSync(incomplete, { force: true });
        throw new DownloadError(`sha256 ${r.digest} is not the Hub's ${etag}; the partial file was removed`);
      }
      break;
    } catch (e) {
      const msg = (e as Error).message;
      const kept =
        sizeOf(incomplete) > 0
          ? ` (${sizeOf(incomplete)} bytes kept in ${incomplete}: run again to resume)`
          : "";
      if (e instanceof DownloadError || attempt >= retries) throw new Error(`${what}: ${msg}${kept}`);
      opts.log?.(`${path}: connection lost (${msg}); resuming, retry ${attempt + 1}/${retries}`);
    }
  }
  bar?.done();
  renameSync(incomplete, blob);
  linkSnapshotFile(pointer, blob);
  return { path, size, status: resumed ? "resumed" : "downloaded" } as DownloadedFile;
}

/** HF_HUB_OFFLINE: the snapshot the cache has for `revision`, or an error saying where it looked. */
function fromCache(repoDir: string, opts: DownloadOptions, revision: string): DownloadResult {
  const commit = existsSync(repoDir) ? cachedCommit(repoDir, revision) : null;
  const snapshotDir = commit ? join(repoDir, "snapshots", commit) : "";
  if (!commit || !existsSync(snapshotDir)) {
    const looked = commit ? snapshotDir : refPath(repoDir, revision);
    throw new Error(
      `HF_HUB_OFFLINE is set and ${opts.repoId}@${revision} is not in the cache (looked for ${looked}). Unset HF_HUB_OFFLINE to download it.`,
    );
  }
  const patterns = (opts.include ?? []).map(globToRegExp);
  const files = snapshotFiles(snapshotDir).filter(
    (f) => !patterns.length || patterns.some((p) => p.test(f.path)),
  );
  if (files.length === 0) {
    const why = patterns.length ? `matches --include ${opts.include!.join(" ")}` : "is there";
    throw new Error(`HF_HUB_OFFLINE is set and no cached file of ${snapshotDir} ${why}`);
  }
  return { snapshotDir, commit, files: files.map((f) => ({ ...f, status: "cached" as const })) };
}

/**
 * Download `repoId` at `revision` (files matching `include`, else all) into the hub cache and
 * return its snapshot folder. Files already cached are not fetched again; partial ones resume.
 */
export async function downloadRepo(opts: DownloadOptions): Promise<DownloadResult> {
  const env = opts.env ?? process.env;
  const type = opts.repoType ?? "model";
  const revision = opts.revision ?? "main";
  const repoDir = repoCacheDir(opts.repoId, type, hubCacheDir(env));
  if (isOffline(env)) return fromCache(repoDir, opts, revision);

  const hub: Hub = {
    endpoint: (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    token: hfToken(env),
    repo: { type, name: opts.repoId },
  };
  const what = `${type} ${opts.repoId}@${revision}`;
  const params = {
    name: opts.repoId,
    revision,
    hubUrl: hub.endpoint,
    accessToken: hub.token,
    additionalFields: ["sha" as const],
  };
  const info = await (type === "model" ? modelInfo(params) : datasetInfo(params)).catch((e) => {
    throw hubError(e, what, hub.endpoint, !!hub.token);
  });
  const commit = String(info.sha ?? "");
  if (!COMMIT_HASH.test(commit))
    throw new Error(`${what}: the Hub answered no commit hash (sha: '${commit}')`);
  if (revision !== commit) writeFileAtomic(refPath(repoDir, revision), commit);

  const patterns = (opts.include ?? []).map(globToRegExp);
  const entries: ListFileEntry[] = [];
  try {
    for await (const e of listFiles({
      repo: hub.repo,
      recursive: true,
      revision: commit,
      hubUrl: hub.endpoint,
      accessToken: hub.token,
    })) {
      if (e.type === "file" && (patterns.length === 0 || patterns.some((p) => p.test(e.path))))
        entries.push(e);
    }
  } catch (e) {
    throw hubError(e, `${what}: listing files`, hub.endpoint, !!hub.token);
  }
  if (entries.length === 0) {
    throw new Error(
      `${what}: no file${patterns.length ? ` matches --include ${opts.include!.join(" ")}` : " in the repo"}`,
    );
  }
  const snapshotDir = join(repoDir, "snapshots", commit);
  mkdirSync(snapshotDir, { recursive: true });
  const files: DownloadedFile[] = [];
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const entry of entries) {
    const f = await downloadOne(hub, repoDir, commit, entry, opts);
    opts.log?.(`${f.path}: ${f.status} (${f.size} bytes)`);
    files.push(f);
  }
  return { snapshotDir, commit, files };
}
