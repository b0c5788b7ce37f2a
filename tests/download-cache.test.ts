// The Hugging Face cache layout on disk: where the cache is, and that folders written the way
// Python's huggingface_hub / `hf download` writes them (built here by hand) are found.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import {
  cachedRefs,
  hfHome,
  hubCacheDir,
  isOffline,
  repoFolderName,
  resolveDatasetPath,
  resolveModelPath,
  snapshotFiles,
} from "../src/hf/cache.ts";
import { globToRegExp } from "../src/hf/download.ts";

const C1 = "1".repeat(40);
const C2 = "abcdef0123456789abcdef0123456789abcdef01";

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "r1lab-cache-"));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(tmp, { recursive: true, force: true });
});

/** A repo folder as huggingface_hub writes it: blobs, relative symlinks, refs. */
function pythonStyleRepo(
  hub: string,
  folder: string,
  commits: Record<string, Record<string, string>>,
  refs: Record<string, string>,
) {
  const repo = join(hub, folder);
  let n = 0;
  for (const [commit, files] of Object.entries(commits)) {
    for (const [path, content] of Object.entries(files)) {
      const blobName = (n++).toString(16).padStart(40, "0");
      mkdirSync(join(repo, "blobs"), { recursive: true });
      writeFileSync(join(repo, "blobs", blobName), content);
      const pointer = join(repo, "snapshots", commit, path);
      mkdirSync(join(pointer, ".."), { recursive: true });
      const depth = path.split("/").length + 1;
      symlinkSync(`${"../".repeat(depth)}blobs/${blobName}`, pointer);
    }
  }
  for (const [name, commit] of Object.entries(refs)) {
    mkdirSync(join(repo, "refs", name, ".."), { recursive: true });
    writeFileSync(join(repo, "refs", name), commit); // no newline, as Python writes it
  }
  return repo;
}

describe("where the cache is", () => {
  test("HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache", () => {
    expect(hubCacheDir({ HF_HUB_CACHE: "/a/hub", HF_HOME: "/b" })).toBe("/a/hub");
    expect(hubCacheDir({ HF_HOME: "/b" })).toBe("/b/hub");
    expect(hubCacheDir({ XDG_CACHE_HOME: "/x" })).toBe("/x/huggingface/hub");
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: "/legacy" })).toBe("/legacy");
    expect(hubCacheDir({})).toMatch(/\.cache\/huggingface\/hub$/);
    expect(hfHome({ HF_HOME: "/b" })).toBe("/b");
  });

  test("HF_HUB_OFFLINE accepts 1/true/yes/on", () => {
    for (const v of ["1", "true", "YES", "on"]) expect(isOffline({ HF_HUB_OFFLINE: v })).toBe(true);
    for (const v of ["0", "", "false", undefined]) expect(isOffline({ HF_HUB_OFFLINE: v })).toBe(false);
  });

  test("folder names, and ids that are refused", () => {
    expect(repoFolderName("Qwen/Qwen2.5-0.5B", "model")).toBe("models--Qwen--Qwen2.5-0.5B");
    expect(repoFolderName("openai/gsm8k", "dataset")).toBe("datasets--openai--gsm8k");
    expect(repoFolderName("gpt2", "model")).toBe("models--gpt2");
    for (const bad of ["a/b/c", "../x", "a/..", "a--b/c", "/abs", ""]) {
      expect(() => repoFolderName(bad, "model")).toThrow(/not a Hugging Face repo id/);
    }
  });
});

describe("resolveModelPath / resolveDatasetPath", () => {
  test("finds a model cached by hf at main, a tag, and a commit hash", async () => {
    const hub = join(tmp, "home", "hub");
    pythonStyleRepo(
      hub,
      "models--org--tiny",
      { [C1]: { "config.json": '{"v":1}', "sub/dir/x.txt": "deep" }, [C2]: { "config.json": '{"v":2}' } },
      { main: C1, "v2.0": C2, "refs/pr/1": C2 },
    );
    vi.stubEnv("HF_HOME", join(tmp, "home"));
    vi.stubEnv("HF_HUB_CACHE", "");
    vi.stubEnv("HUGGINGFACE_HUB_CACHE", "");
    const main = await resolveModelPath("org/tiny");
    expect(main).toBe(join(hub, "models--org--tiny", "snapshots", C1));
    expect(snapshotFiles(main)).toEqual([
      { path: "config.json", size: 7 },
      { path: "sub/dir/x.txt", size: 4 },
    ]);
    expect(await resolveModelPath("org/tiny", { revision: "v2.0" })).toBe(
      join(hub, "models--org--tiny", "snapshots", C2),
    );
    expect(await resolveModelPath("org/tiny", { revision: "refs/pr/1" })).toMatch(new RegExp(`${C2}$`));
    expect(await resolveModelPath("org/tiny", { revision: C2 })).toMatch(new RegExp(`${C2}$`));
    expect(cachedRefs(join(hub, "models--org--tiny"))).toEqual(["main", "refs/pr/1", "v2.0"]);
  });

  test("finds a dataset under datasets--org--name, not under models--", async () => {
    const hub = join(tmp, "hub");
    pythonStyleRepo(
      hub,
      "datasets--org--math",
      { [C1]: { "data/train-00000-of-00001.parquet": "PAR1" } },
      { main: C1 },
    );
    expect(await resolveDatasetPath("org/math", { cacheDir: hub })).toBe(
      join(hub, "datasets--org--math", "snapshots", C1),
    );
    await expect(resolveModelPath("org/math", { cacheDir: hub })).rejects.toThrow(
      /models--org--math \(not in the Hugging Face cache\)/,
    );
  });

  test("a local folder wins over the cache", async () => {
    const hub = join(tmp, "hub");
    pythonStyleRepo(hub, "models--org--tiny", { [C1]: { "config.json": "{}" } }, { main: C1 });
    const local = join(tmp, "org", "tiny");
    mkdirSync(local, { recursive: true });
    expect(await resolveModelPath(local, { cacheDir: hub })).toBe(local);
    const cwd = process.cwd();
    try {
      process.chdir(tmp);
      expect(await resolveModelPath("org/tiny", { cacheDir: hub })).toBe(local);
    } finally {
      process.chdir(cwd);
    }
  });

  test("errors list every place looked at, the known refs and snapshots, and how to download", async () => {
    const hub = join(tmp, "hub");
    pythonStyleRepo(hub, "models--org--tiny", { [C1]: { "config.json": "{}" } }, { main: C1 });
    const missingRepo = resolveModelPath("org/absent", { cacheDir: hub });
    await expect(missingRepo).rejects.toThrow(/model 'org\/absent' not found/);
    await expect(resolveModelPath("org/absent", { cacheDir: hub })).rejects.toThrow(
      /models--org--absent \(not in the Hugging Face cache\)[\s\S]*pnpm r1lab download org\/absent/,
    );
    await expect(resolveModelPath("org/tiny", { cacheDir: hub, revision: "v9" })).rejects.toThrow(
      new RegExp(
        `refs/v9 \\(revision 'v9' not cached; refs: main; snapshots: ${C1}\\)[\\s\\S]*--revision v9`,
      ),
    );
    await expect(resolveModelPath("org/tiny", { cacheDir: hub, revision: C2 })).rejects.toThrow(
      /snapshot is missing/,
    );
    await expect(resolveDatasetPath("./no/such/dir/here", { cacheDir: hub })).rejects.toThrow(
      /not an org\/name id/,
    );
    await expect(resolveModelPath("org/tiny", { cacheDir: hub, revision: "../x" })).rejects.toThrow(
      /not a valid branch/,
    );
  });

  test("a broken ref and a blob deleted under a link are reported", async () => {
    const hub = join(tmp, "hub");
    const repo = pythonStyleRepo(hub, "models--org--tiny", { [C1]: { "config.json": "{}" } }, { main: C1 });
    writeFileSync(join(repo, "refs", "bad"), "not-a-hash\n");
    await expect(resolveModelPath("org/tiny", { cacheDir: hub, revision: "bad" })).rejects.toThrow(
      /refs\/bad: expected a 40-hex commit hash/,
    );
    rmSync(join(repo, "blobs"), { recursive: true });
    expect(() => snapshotFiles(join(repo, "snapshots", C1))).toThrow(
      /config.json: broken link.*download again/,
    );
  });
});

describe("--include patterns (fnmatch, as hf)", () => {
  test("* crosses folders, ? is one character, [..] sets, a trailing / means the folder", () => {
    const m = (g: string, p: string) => globToRegExp(g).test(p);
    expect(m("*.json", "config.json")).toBe(true);
    expect(m("*.json", "sub/dir/x.json")).toBe(true);
    expect(m("*.json", "model.safetensors")).toBe(false);
    expect(m("model-0000?-of-00002.safetensors", "model-00001-of-00002.safetensors")).toBe(true);
    expect(m("model-0000[12]-*", "model-00003-of-00003.safetensors")).toBe(false);
    expect(m("model-0000[!3]-*", "model-00001-of-00003.safetensors")).toBe(true);
    expect(m("data/", "data/train.parquet")).toBe(true);
    expect(m("data/", "other/train.parquet")).toBe(false);
    expect(m("a.b", "axb")).toBe(false);
    expect(m("(x)+", "(x)+")).toBe(true);
  });
});
