// `downloadRepo` with `hf download`'s options against the fake Hub: FILES, --exclude, --local-dir
// (plain folder + .cache/huggingface metadata), --cache-dir, --token (any prefix), --force-download,
// --dry-run, --max-workers, TRANSFORMERS_OFFLINE and HF_HUB_DISABLE_PROGRESS_BARS.
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { downloadRepo } from "../src/hf/download.ts";
import { type FakeHub, type FakeRepo, startFakeHub } from "./helpers/fake-hub-server.ts";

const MAIN = "d".repeat(40);
const weights = randomBytes(120_000);
const repo = (extra: Partial<FakeRepo> = {}): FakeRepo => ({
  type: "model",
  id: "org/tiny",
  refs: { main: MAIN },
  commits: {
    [MAIN]: {
      "config.json": '{"a":1}',
      "model.safetensors": weights,
      "tokenizer.json": "{}",
      "onnx/model.onnx": "onnx",
    },
  },
  lfs: ["model.safetensors"],
  ...extra,
});

let tmp: string;
let hub: FakeHub;
const sink = { write: () => true };
const env = (extra: Record<string, string> = {}) => ({
  HF_HOME: join(tmp, "home"),
  HF_ENDPOINT: hub.url,
  ...extra,
});
const fileRequests = () =>
  hub.requests.filter((r) => r.url.includes("/resolve/") || r.url.startsWith("/cdn/"));

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "r1lab-dlopt-"));
});
afterEach(async () => {
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test("FILES takes exactly those paths; a missing one is named; --exclude drops matches", async () => {
  hub = await startFakeHub([repo()]);
  const r = await downloadRepo({
    repoId: "org/tiny",
    files: ["config.json", "onnx/model.onnx"],
    env: env(),
    progress: sink,
  });
  expect(r.files.map((f) => f.path)).toEqual(["config.json", "onnx/model.onnx"]);
  await expect(
    downloadRepo({ repoId: "org/tiny", files: ["nope.bin"], env: env(), progress: sink }),
  ).rejects.toThrow(/no file nope\.bin in the repo at commit d{40}/);
  const ex = await downloadRepo({
    repoId: "org/tiny",
    exclude: ["onnx/*", "*.safetensors"],
    env: env(),
    progress: sink,
  });
  expect(ex.files.map((f) => f.path)).toEqual(["config.json", "tokenizer.json"]);
});

test("--local-dir writes plain files and metadata, not the cache; a second run fetches nothing", async () => {
  hub = await startFakeHub([repo()]);
  const local = join(tmp, "out");
  const r = await downloadRepo({ repoId: "org/tiny", localDir: local, env: env(), progress: sink });
  expect(r.snapshotDir).toBe(local);
  expect(lstatSync(join(local, "model.safetensors")).isSymbolicLink()).toBe(false);
  expect(readFileSync(join(local, "model.safetensors")).equals(weights)).toBe(true);
  const meta = readFileSync(
    join(local, ".cache/huggingface/download/onnx/model.onnx.metadata"),
    "utf8",
  ).split("\n");
  expect(meta[0]).toBe(MAIN);
  expect(existsSync(join(tmp, "home", "hub"))).toBe(false);
  const n = fileRequests().length;
  const again = await downloadRepo({ repoId: "org/tiny", localDir: local, env: env(), progress: sink });
  expect(again.files.every((f) => f.status === "cached")).toBe(true);
  expect(fileRequests().length).toBe(n);
  // Offline, the local folder answers.
  const off = await downloadRepo({
    repoId: "org/tiny",
    localDir: local,
    env: env({ TRANSFORMERS_OFFLINE: "1" }),
  });
  expect(off.files.map((f) => f.path)).toEqual([
    "config.json",
    "model.safetensors",
    "onnx/model.onnx",
    "tokenizer.json",
  ]);
});

test("--cache-dir, --force-download and --dry-run", async () => {
  hub = await startFakeHub([repo()]);
  const cacheDir = join(tmp, "cache");
  const dry = await downloadRepo({ repoId: "org/tiny", cacheDir, dryRun: true, env: env(), progress: sink });
  expect(dry.files.map((f) => f.status)).toEqual([
    "would download",
    "would download",
    "would download",
    "would download",
  ]);
  expect(existsSync(cacheDir)).toBe(false);
  expect(fileRequests()).toHaveLength(0);
  const r = await downloadRepo({ repoId: "org/tiny", cacheDir, env: env(), progress: sink });
  expect(r.snapshotDir).toBe(join(cacheDir, "models--org--tiny", "snapshots", MAIN));
  const dry2 = await downloadRepo({ repoId: "org/tiny", cacheDir, dryRun: true, env: env(), progress: sink });
  expect(dry2.files.every((f) => f.status === "cached")).toBe(true);
  const n = fileRequests().length;
  const forced = await downloadRepo({
    repoId: "org/tiny",
    cacheDir,
    forceDownload: true,
    files: ["config.json"],
    env: env(),
    progress: sink,
  });
  expect(forced.files[0].status).toBe("downloaded");
  expect(fileRequests().length).toBe(n + 1);
});

test("--token takes any token (no hf_ prefix needed) and beats HF_TOKEN", async () => {
  hub = await startFakeHub([repo({ token: "api_org_abc" })]);
  const r = await downloadRepo({
    repoId: "org/tiny",
    token: "api_org_abc",
    files: ["config.json"],
    env: env({ HF_TOKEN: "hf_other" }),
    progress: sink,
  });
  expect(r.files).toHaveLength(1);
  expect(hub.requests.at(-1)?.headers.authorization).toBe("Bearer api_org_abc");
  await expect(
    downloadRepo({ repoId: "org/tiny", token: "two words", env: env(), progress: sink }),
  ).rejects.toThrow(/--token: the token contains whitespace/);
});

test("--max-workers fetches files concurrently with one progress bar; HF_HUB_DISABLE_PROGRESS_BARS hides it", async () => {
  hub = await startFakeHub([repo()]);
  let out = "";
  const stream = {
    write: (s: string) => {
      out += s;
      return true;
    },
  };
  const r = await downloadRepo({ repoId: "org/tiny", maxWorkers: 4, env: env(), progress: stream });
  expect(r.files.map((f) => f.status)).toEqual(["downloaded", "downloaded", "downloaded", "downloaded"]);
  expect(out).toMatch(/4 files/);
  let quiet = "";
  const q = {
    write: (s: string) => {
      quiet += s;
      return true;
    },
  };
  await downloadRepo({
    repoId: "org/tiny",
    cacheDir: join(tmp, "c2"),
    env: env({ HF_HUB_DISABLE_PROGRESS_BARS: "1" }),
    progress: q,
  });
  expect(quiet).toBe("");
  await expect(downloadRepo({ repoId: "org/tiny", maxWorkers: 0, env: env() })).rejects.toThrow(
    /maxWorkers must be an integer >= 1/,
  );
});
