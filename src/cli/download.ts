// `r1lab download`: `hf download` in r1lab. Fetches a model or dataset from the Hugging Face Hub
// into the standard HF cache (the one Python's `hf` uses) or a --local-dir, then prints the folder
// on stdout (the file, when one FILE was asked for), so that
// `r1lab ... --model "$(pnpm -s r1lab download org/name -q)"` works. Progress goes to stderr.

import { hubCacheDir } from "../hf/cache.ts";
import { downloadRepo } from "../hf/download.ts";
import { type Command, numberFlag, UsageError } from "./command.ts";

const cmd: Command = {
  name: "download",
  summary: "download a model or dataset from the Hugging Face Hub into the HF cache (as `hf download`)",
  usage:
    "download REPO [FILES...] [--revision R] [--include GLOB ...] [--exclude GLOB ...] [--local-dir DIR] [--repo-type model|dataset]",
  options: {
    revision: { type: "string", default: "main", help: "branch, tag or commit hash" },
    include: {
      type: "string",
      multiple: true,
      help: "only files matching this pattern (fnmatch: * also matches /); repeatable",
    },
    exclude: { type: "string", multiple: true, help: "skip files matching this pattern; repeatable" },
    "repo-type": { type: "string", default: "model", help: "model or dataset" },
    "local-dir": { type: "string", help: "download into this folder (plain files) instead of the cache" },
    "cache-dir": { type: "string", help: "the hub cache folder (default: $HF_HUB_CACHE, else $HF_HOME/hub)" },
    token: { type: "string", help: "Hub token (default: $HF_TOKEN, else the token file of `hf auth login`)" },
    "force-download": { type: "boolean", help: "fetch the files again even when they are already there" },
    "dry-run": {
      type: "boolean",
      help: "list the files and whether each would be downloaded; fetch nothing",
    },
    "max-workers": { type: "string", default: "8", help: "files fetched at once" },
    retries: { type: "string", default: "3", help: "resumed retries of a file after a dropped connection" },
    quiet: { type: "boolean", short: "q", help: "no progress or per-file lines, only the folder" },
  },
  details: [
    "Files land in $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub) as",
    "<models|datasets>--org--name/{refs,blobs,snapshots}; what is there already is not fetched again,",
    "and a partial file (blobs/<etag>.incomplete) is resumed. Environment: HF_TOKEN (or the token",
    "file of `hf auth login`), HF_ENDPOINT (a mirror), HF_HUB_OFFLINE=1 or TRANSFORMERS_OFFLINE=1",
    "(no network: print the folder already on disk or fail), HF_HUB_DISABLE_PROGRESS_BARS=1.",
  ].join("\n"),
  async run(v, positionals) {
    const [repoId, ...files] = positionals;
    if (!repoId) throw new UsageError("download takes a REPO (org/name), then optionally FILES; got none");
    const repoType = v["repo-type"];
    if (repoType !== "model" && repoType !== "dataset") {
      throw new UsageError(`--repo-type must be model or dataset, got '${repoType}'`);
    }
    const retries = numberFlag(v, "retries", { int: true, min: 0 });
    const maxWorkers = numberFlag(v, "max-workers", { int: true, min: 1 });
    const quiet = Boolean(v.quiet);
    const log = quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
    const where = v["local-dir"] ?? v["cache-dir"] ?? hubCacheDir();
    log?.(`${repoType} ${repoId}@${v.revision} -> ${where}`);
    const result = await downloadRepo({
      repoId,
      repoType,
      revision: v.revision,
      files: files.length ? files : undefined,
      include: v.include,
      exclude: v.exclude,
      localDir: v["local-dir"],
      cacheDir: v["cache-dir"],
      token: v.token,
      forceDownload: Boolean(v["force-download"]),
      dryRun: Boolean(v["dry-run"]),
      maxWorkers,
      retries,
      progress: quiet ? { write: () => true } : process.stderr,
      log: v["dry-run"] ? undefined : log,
    });
    const bytes = (fs: typeof result.files) => fs.reduce((s, f) => s + f.size, 0);
    if (v["dry-run"]) {
      const todo = result.files.filter((f) => f.status !== "cached");
      console.log(
        `dry run: would download ${todo.length} of ${result.files.length} files (${(bytes(todo) / 1e6).toFixed(1)} MB) at commit ${result.commit}`,
      );
      const width = Math.max(4, ...result.files.map((f) => f.path.length));
      console.log(`${"file".padEnd(width)}  ${"bytes".padStart(12)}  action`);
      for (const f of result.files)
        console.log(
          `${f.path.padEnd(width)}  ${String(f.size).padStart(12)}  ${f.status === "cached" ? "skip (already there)" : "download"}`,
        );
      return;
    }
    const fetched = result.files.filter((f) => f.status !== "cached").length;
    log?.(
      `${result.files.length} files (${fetched} fetched, ${(bytes(result.files) / 1e6).toFixed(1)} MB) at commit ${result.commit}`,
    );
    console.log(files.length === 1 ? `${result.snapshotDir}/${files[0]}` : result.snapshotDir);
  },
};

export default cmd;
