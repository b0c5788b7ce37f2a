// `downloadRepo` against a fake Hub on loopback: the standard cache layout, what is cached is not
// fetched again, resuming after a dropped connection (in one run and across runs), tokens,
// HF_HUB_OFFLINE, HF_HUB_CACHE, include patterns, tags, datasets, paged listings.
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { resolveDatasetPath, resolveModelPath } from "../src/hf/cache.ts";
import { downloadRepo } from "../src/hf/download.ts";
import { type FakeHub, type FakeRepo, gitOid, startFakeHub } from "./helpers/fake-hub-server.ts";

const MAIN = "a".repeat(40);
const V1 = "b".repeat(40);
const weights = randomBytes(300_000);
const weightsSha = createHash("sha256").update(weights).digest("hex");
const config = '{"model_type":"qwen2","hidden_size":8}\n';

const model = (extra: Partial<FakeRepo> = {}): FakeRepo => ({
  type: "model",
  id: "org/tiny",
  refs: { main: MAIN, v1: V1 },
  commits: {
    [MAIN]: {
      "config.json": config,
      "model.safetensors": weights,
      "tokenizer.json": '{"version":"1.0"}',
      "sub/dir/extra.json": "[]",
    },
    [V1]: { "config.json": '{"old":true}' },
  },
  lfs: ["model.safetensors"],
  ...extra,
});

let tmp: string;
let hub: FakeHub | null = null;
const sink = { write: () => true };

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "r1lab-dl-"));
});
afterEach(async () => {
  await hub?.close();
  hub = null;
  rmSync(tmp, { recursive: true, force: true });
});

const envFor = (h: FakeHub, extra: Record<string, string> = {}) => ({
  HF_HOME: join(tmp, "home"),
  HF_ENDPOINT: h.url,
  ...extra,
});
const repoDir = (folder = "models--org--tiny") => join(tmp, "home", "hub", folder);
const fileRequests = (h: FakeHub) =>
  h.requests.filter((r) => r.url.includes("/resolve/") || r.url.startsWith("/cdn/"));

describe("downloadRepo", () => {
  test("writes the standard layout: refs/main, blobs named by etag, relative snapshot links", async () => {
    hub = await startFakeHub([model()]);
    const r = await downloadRepo({ repoId: "org/tiny", env: envFor(hub), progress: sink });
    const dir = repoDir();
    expect(r.commit).toBe(MAIN);
    expect(r.snapshotDir).toBe(join(dir, "snapshots", MAIN));
    expect(readFileSync(join(dir, "refs", "main"), "utf8")).toBe(MAIN);
    const cfgOid = gitOid(Buffer.from(config));
    expect(readlinkSync(join(r.snapshotDir, "config.json"))).toBe(`../../blobs/${cfgOid}`);
    expect(readlinkSync(join(r.snapshotDir, "model.safetensors"))).toBe(`../../blobs/${weightsSha}`);
    expect(readlinkSync(join(r.snapshotDir, "sub/dir/extra.json"))).toMatch(
      /^\.\.\/\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/,
    );
    expect(readFileSync(join(r.snapshotDir, "model.safetensors")).equals(weights)).toBe(true);
    expect(readFileSync(join(r.snapshotDir, "config.json"), "utf8")).toBe(config);
    expect(existsSync(join(dir, "blobs", `${weightsSha}.incomplete`))).toBe(false);
    expect(r.files.map((f) => [f.path, f.status])).toEqual([
      ["config.json", "downloaded"],
      ["model.safetensors", "downloaded"],
      ["sub/dir/extra.json", "downloaded"],
      ["tokenizer.json", "downloaded"],
    ]);
    // resolveModelPath finds what was downloaded.
    expect(await resolveModelPath("org/tiny", { cacheDir: join(tmp, "home", "hub") })).toBe(r.snapshotDir);

    // A second run fetches no file: everything is cached.
    const before = fileRequests(hub).length;
    const again = await downloadRepo({ repoId: "org/tiny", env: envFor(hub), progress: sink });
    expect(again.files.every((f) => f.status === "cached")).toBe(true);
    expect(fileRequests(hub).length).toBe(before);
  });

  test("a tag gets refs/<tag> and its own snapshot; a blob shared by two commits is stored once", async () => {
    const shared = model();
    shared.commits[V1]["model.safetensors"] = weights;
    hub = await startFakeHub([shared]);
    const env = envFor(hub);
    await downloadRepo({ repoId: "org/tiny", env, progress: sink, include: ["model.safetensors"] });
    const transfers = fileRequests(hub).length;
    const r = await downloadRepo({ repoId: "org/tiny", revision: "v1", env, progress: sink });
    expect(readFileSync(join(repoDir(), "refs", "v1"), "utf8")).toBe(V1);
    expect(r.snapshotDir).toBe(join(repoDir(), "snapshots", V1));
    expect(readFileSync(join(r.snapshotDir, "config.json"), "utf8")).toBe('{"old":true}');
    expect(r.files.find((f) => f.path === "model.safetensors")?.status).toBe("cached");
    expect(fileRequests(hub).length).toBe(transfers + 1); // only v1's config.json
    // A commit hash as revision writes no ref.
    await downloadRepo({ repoId: "org/tiny", revision: MAIN, env, progress: sink, include: ["config.json"] });
    expect(existsSync(join(repoDir(), "refs", MAIN))).toBe(false);
  });

  test("--include picks files with fnmatch patterns", async () => {
    hub = await startFakeHub([model()]);
    const r = await downloadRepo({
      repoId: "org/tiny",
      include: ["*.json"],
      env: envFor(hub),
      progress: sink,
    });
    expect(r.files.map((f) => f.path)).toEqual(["config.json", "sub/dir/extra.json", "tokenizer.json"]);
    expect(existsSync(join(r.snapshotDir, "model.safetensors"))).toBe(false);
    await expect(
      downloadRepo({ repoId: "org/tiny", include: ["*.bin"], env: envFor(hub), progress: sink }),
    ).rejects.toThrow(/no file matches --include \*\.bin/);
  });

  test("HF_HUB_CACHE wins over HF_HOME; HF_ENDPOINT may end with /", async () => {
    hub = await startFakeHub([model()]);
    const cache = join(tmp, "elsewhere");
    const r = await downloadRepo({
      repoId: "org/tiny",
      include: ["config.json"],
      env: { HF_HOME: join(tmp, "home"), HF_HUB_CACHE: cache, HF_ENDPOINT: `${hub.url}/` },
      progress: sink,
    });
    expect(r.snapshotDir).toBe(join(cache, "models--org--tiny", "snapshots", MAIN));
    expect(existsSync(join(tmp, "home", "hub"))).toBe(false);
  });

  test("datasets go to datasets--org--name and are found by resolveDatasetPath", async () => {
    const ds: FakeRepo = {
      type: "dataset",
      id: "org/math",
      refs: { main: MAIN },
      commits: { [MAIN]: { "data/test.jsonl": '{"problem":"1+1","answer":"2"}\n', "README.md": "# math" } },
    };
    hub = await startFakeHub([model(), ds], { pageSize: 1 });
    const r = await downloadRepo({
      repoId: "org/math",
      repoType: "dataset",
      env: envFor(hub),
      progress: sink,
    });
    expect(r.snapshotDir).toBe(join(repoDir("datasets--org--math"), "snapshots", MAIN));
    expect(r.files.map((f) => f.path)).toEqual(["README.md", "data/test.jsonl"]); // two listing pages
    expect(hub.requests.filter((q) => q.url.includes("/tree/")).length).toBe(2);
    expect(await resolveDatasetPath("org/math", { cacheDir: join(tmp, "home", "hub") })).toBe(r.snapshotDir);
    await expect(downloadRepo({ repoId: "org/math", env: envFor(hub), progress: sink })).rejects.toThrow(
      /model org\/math@main: not found at http:\/\/127\.0\.0\.1:\d+ \(a private repo also needs HF_TOKEN\)/,
    );
  });

  test("refuses a file path from the Hub that would leave the snapshot folder", async () => {
    const evil = model();
    evil.commits[MAIN] = { "../../../escape.txt": "x" };
    hub = await startFakeHub([evil]);
    await expect(downloadRepo({ repoId: "org/tiny", env: envFor(hub), progress: sink })).rejects.toThrow(
      /refusing the file path '\.\.\/\.\.\/\.\.\/escape\.txt'/,
    );
    expect(existsSync(join(tmp, "home", "escape.txt"))).toBe(false);
  });
});

describe("resuming", () => {
  test("a connection dropped mid-file is resumed with a Range request in the same run", async () => {
    hub = await startFakeHub([model()]);
    hub.dropAfter("model.safetensors", 100_000);
    const logs: string[] = [];
    const r = await downloadRepo({
      repoId: "org/tiny",
      include: ["*.safetensors"],
      env: envFor(hub),
      progress: sink,
      log: (l) => logs.push(l),
    });
    expect(r.files[0].status).toBe("resumed");
    expect(readFileSync(join(r.snapshotDir, "model.safetensors")).equals(weights)).toBe(true);
    const ranges = fileRequests(hub).map((q) => q.headers.range);
    expect(ranges).toContain("bytes=100000-");
    expect(logs.some((l) => /connection lost.*retry 1\/3/.test(l))).toBe(true);
  });

  test("an interrupted run leaves blobs/<sha256>.incomplete; the next run continues it", async () => {
    hub = await startFakeHub([model()]);
    hub.dropAfter("model.safetensors", 120_000);
    const env = envFor(hub);
    const incomplete = join(repoDir(), "blobs", `${weightsSha}.incomplete`);
    await expect(
      downloadRepo({ repoId: "org/tiny", include: ["*.safetensors"], env, retries: 0, progress: sink }),
    ).rejects.toThrow(/model\.safetensors: .*120000 bytes kept in .*\.incomplete: run again to resume/);
    expect(lstatSync(incomplete).size).toBe(120_000);
    const r = await downloadRepo({
      repoId: "org/tiny",
      include: ["*.safetensors"],
      env,
      retries: 0,
      progress: sink,
    });
    expect(r.files[0].status).toBe("resumed");
    expect(fileRequests(hub).at(-1)?.headers.range).toBe("bytes=120000-");
    expect(readFileSync(join(r.snapshotDir, "model.safetensors")).equals(weights)).toBe(true);
    expect(existsSync(incomplete)).toBe(false);
  });

  test("a partial file with wrong bytes fails the sha256 check and is removed; a server without ranges restarts", async () => {
    hub = await startFakeHub([model()]);
    const env = envFor(hub);
    const incomplete = join(repoDir(), "blobs", `${weightsSha}.incomplete`);
    mkdirSync(join(repoDir(), "blobs"), { recursive: true });
    writeFileSync(incomplete, Buffer.alloc(5000, 7));
    await expect(
      downloadRepo({ repoId: "org/tiny", include: ["*.safetensors"], env, progress: sink }),
    ).rejects.toThrow(
      new RegExp(`sha256 [0-9a-f]{64} is not the Hub's ${weightsSha}; the partial file was removed`),
    );
    expect(existsSync(incomplete)).toBe(false);
    await hub.close();

    hub = await startFakeHub([model()], { ignoreRange: true });
    writeFileSync(incomplete, Buffer.alloc(5000, 7));
    const r = await downloadRepo({
      repoId: "org/tiny",
      include: ["*.safetensors"],
      env: envFor(hub),
      progress: sink,
    });
    expect(r.files[0].status).toBe("downloaded"); // the 200 answer restarted the file from byte 0
    expect(readFileSync(join(r.snapshotDir, "model.safetensors")).equals(weights)).toBe(true);
  });
});

describe("tokens and offline mode", () => {
  test("HF_TOKEN is sent as a Bearer token on every request; without it the error says so", async () => {
    hub = await startFakeHub([model({ token: "hf_secret" })]);
    await expect(downloadRepo({ repoId: "org/tiny", env: envFor(hub), progress: sink })).rejects.toThrow(
      /it needs a token: set HF_TOKEN/,
    );
    const n = hub.requests.length;
    await downloadRepo({ repoId: "org/tiny", env: envFor(hub, { HF_TOKEN: "hf_secret" }), progress: sink });
    const sent = hub.requests.slice(n).filter((q) => !q.url.startsWith("/cdn/"));
    expect(sent.length).toBeGreaterThan(4);
    expect(sent.every((q) => q.headers.authorization === "Bearer hf_secret")).toBe(true);
    await expect(
      downloadRepo({ repoId: "org/tiny", env: envFor(hub, { HF_TOKEN: "hf_wrong" }), progress: sink }),
    ).rejects.toThrow(/the token was refused/);
    // A token without the hf_ prefix is sent as it is (the Hub, not r1lab, judges it).
    await expect(
      downloadRepo({ repoId: "org/tiny", env: envFor(hub, { HF_TOKEN: "secret" }), progress: sink }),
    ).rejects.toThrow(/the token was refused/);
    expect(hub.requests.at(-1)?.headers.authorization).toBe("Bearer secret");
  });

  test("the token file written by `hf auth login` ($HF_HOME/token) is used", async () => {
    hub = await startFakeHub([model({ token: "hf_fromfile" })]);
    mkdirSync(join(tmp, "home"), { recursive: true });
    writeFileSync(join(tmp, "home", "token"), "hf_fromfile\n");
    const r = await downloadRepo({
      repoId: "org/tiny",
      include: ["config.json"],
      env: envFor(hub),
      progress: sink,
    });
    expect(r.files).toHaveLength(1);
    expect(hub.requests.at(-1)?.headers.authorization).toBe("Bearer hf_fromfile");
  });

  test("HF_HUB_OFFLINE=1 answers from the cache without any request, or fails saying where it looked", async () => {
    hub = await startFakeHub([model()]);
    const online = await downloadRepo({ repoId: "org/tiny", env: envFor(hub), progress: sink });
    const n = hub.requests.length;
    const env = envFor(hub, { HF_HUB_OFFLINE: "1", HF_ENDPOINT: "http://127.0.0.1:9" });
    const r = await downloadRepo({ repoId: "org/tiny", env, include: ["*.json"] });
    expect(r.snapshotDir).toBe(online.snapshotDir);
    expect(r.files.map((f) => [f.path, f.status])).toEqual([
      ["config.json", "cached"],
      ["sub/dir/extra.json", "cached"],
      ["tokenizer.json", "cached"],
    ]);
    expect(hub.requests.length).toBe(n);
    await expect(downloadRepo({ repoId: "org/tiny", revision: "v1", env })).rejects.toThrow(
      /HF_HUB_OFFLINE is set and org\/tiny@v1 is not in the cache \(looked for .*models--org--tiny\/refs\/v1\)/,
    );
    await expect(downloadRepo({ repoId: "org/tiny", include: ["*.bin"], env })).rejects.toThrow(
      /no cached file .* matches --include \*\.bin/,
    );
    await expect(downloadRepo({ repoId: "org/other", env })).rejects.toThrow(
      /models--org--other\/refs\/main/,
    );
  });
});
