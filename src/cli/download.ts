// `r1lab download`: fetch a model or dataset from the Hugging Face Hub into the standard HF cache
// (the one Python's huggingface-cli uses), then print the snapshot folder on stdout, so that
// `r1lab ... --model $(pnpm -s r1lab download org/name)` works. Progress goes to stderr.

import { hubCacheDir } from "../hf/cache.ts";
import { downloadRepo } from "../hf/download.ts";
import { type Command, UsageError } from "./command.ts";

const cmd: Command = {
  name: "download",
  summary: "download a model or dataset from the Hugging Face Hub into the HF cache",
  usage: "download REPO [--revision R] [--include GLOB ...] [--repo-type model|dataset]",
  options: {
    revision: { type: "string", default: "main", help: "branch, tag or commit hash" },
    include: {
      type: "string",
      multiple: true,
      help: "only files matching this pattern (fnmatch: * also matches /); repeat for several",
    },
    "repo-type": { type: "string", default: "model", help: "model or dataset" },
    retries: { type: "string", default: "3", help: "resumed retries of a file after a dropped connection" },
    quiet: { type: "boolean", short: "q", help: "no progress or per-file lines, only the folder" },
  },
  details: [
    "Files land in $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub) as",
    "<models|datasets>--org--name/{refs,blobs,snapshots}; what is there already is not fetched again,",
    "and a partial file (blobs/<etag>.incomplete) is resumed. Environment: HF_TOKEN (or the token",
    "file of `huggingface-cli login`), HF_ENDPOINT (a mirror), HF_HUB_OFFLINE=1 (no network: print",
    "the cached folder or fail).",
  ].join("\n"),
  async run(v, positionals) {
    if (positionals.length !== 1) {
      throw new UsageError(
        `download takes one REPO (org/name), got ${positionals.length ? positionals.join(" ") : "none"}`,
      );
    }
    const repoType = v["repo-type"];
    if (repoType !== "model" && repoType !== "dataset") {
      throw new UsageError(`--repo-type must be model or dataset, got '${repoType}'`);
    }
    const retries = Number(v.retries);
    if (!Number.isInteger(retries) || retries < 0)
      throw new UsageError(`--retries must be an integer >= 0, got '${v.retries}'`);
    const quiet = Boolean(v.quiet);
    const log = quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
    log?.(`${repoType} ${positionals[0]}@${v.revision} -> ${hubCacheDir()}`);
    const sink = { write: () => true };
    const result = await downloadRepo({
      repoId: positionals[0],
      repoType,
      revision: v.revision,
      include: v.include,
      retries,
      progress: quiet ? sink : process.stderr,
      log,
    });
    const bytes = result.files.reduce((s, f) => s + f.size, 0);
    const fetched = result.files.filter((f) => f.status !== "cached").length;
    log?.(
      `${result.files.length} files (${fetched} fetched, ${(bytes / 1e6).toFixed(1)} MB) at commit ${result.commit}`,
    );
    console.log(result.snapshotDir);
  },
};

export default cmd;
