// A fake Hugging Face Hub on 127.0.0.1 (a free port) for the download tests. It answers what
// @huggingface/hub and r1lab's downloader ask, the way the Hub does:
//   GET /api/{models|datasets}/{id}/revision/{rev}     repo info with the commit `sha`
//   GET /api/{models|datasets}/{id}/tree/{rev}?recursive=true   file listing (oid, size, lfs), paged
//   GET /[datasets/]{id}/resolve/{rev}/{path}           the file: ETag/X-Repo-Commit, Range -> 206;
//                                                       LFS files redirect (302) to /cdn/{sha256}
// A repo can require a token (401 without `Authorization: Bearer <token>`). `dropAfter` makes the
// next N body transfers of a file stop after some bytes and cut the connection, to test resuming.
// Every request is recorded with its headers.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface FakeRepo {
  type: "model" | "dataset";
  id: string;
  /** branch or tag -> commit hash (40 hex). */
  refs: Record<string, string>;
  /** commit hash -> path -> content; paths listed in `lfs` are served as LFS files. */
  commits: Record<string, Record<string, string | Uint8Array>>;
  lfs?: string[];
  /** When set, every request for this repo needs `Authorization: Bearer <token>`. */
  token?: string;
}

export interface RecordedHubRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
}

export interface FakeHub {
  /** http://127.0.0.1:PORT: use as HF_ENDPOINT. */
  url: string;
  requests: RecordedHubRequest[];
  /** The next `times` transfers of `path` (any repo) send `bytes` bytes, then cut the connection. */
  dropAfter(path: string, bytes: number, times?: number): void;
  close(): Promise<void>;
}

export interface FakeHubOptions {
  /** Tree listing page size (a Link: rel="next" header for more). Default 1000. */
  pageSize?: number;
  /** Answer Range requests with the whole file (200), like a server without range support. */
  ignoreRange?: boolean;
}

const bytesOf = (c: string | Uint8Array) => (typeof c === "string" ? Buffer.from(c, "utf8") : Buffer.from(c));

/** The Hub's id of a non-LFS file: git's blob sha1. */
export const gitOid = (c: Buffer) =>
  createHash("sha1").update(`blob ${c.byteLength}\0`).update(c).digest("hex");
export const sha256 = (c: Buffer) => createHash("sha256").update(c).digest("hex");

export async function startFakeHub(repos: FakeRepo[], opts: FakeHubOptions = {}): Promise<FakeHub> {
  const requests: RecordedHubRequest[] = [];
  const drops = new Map<string, { bytes: number; times: number }>();
  const pageSize = opts.pageSize ?? 1000;
  const sockets = new Set<Socket>();
  const blobsBySha = new Map<string, Buffer>();
  for (const r of repos)
    for (const files of Object.values(r.commits))
      for (const [p, c] of Object.entries(files))
        if (r.lfs?.includes(p)) blobsBySha.set(sha256(bytesOf(c)), bytesOf(c));

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const notFound = (res: ServerResponse, code: string, msg: string) =>
    json(res, 404, { error: msg }, { "X-Error-Code": code });

  /** Send a file, honouring Range and the scripted connection drops. */
  const sendFile = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    data: Buffer,
    headers: Record<string, string>,
  ) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = data.byteLength - 1;
    if (m && !opts.ignoreRange) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), end) : end;
      if (start >= data.byteLength) {
        res.writeHead(416, { "Content-Range": `bytes */${data.byteLength}`, ...headers });
        res.end();
        return;
      }
    }
    const partial = Boolean(m) && !opts.ignoreRange;
    res.writeHead(partial ? 206 : 200, {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(end - start + 1),
      "Accept-Ranges": "bytes",
      ...(partial ? { "Content-Range": `bytes ${start}-${end}/${data.byteLength}` } : {}),
      ...headers,
    });
    const body = data.subarray(start, end + 1);
    const drop = drops.get(path);
    // Probes (Range: bytes=0-0) are never dropped: only real transfers.
    if (drop && drop.times > 0 && body.byteLength > drop.bytes) {
      drop.times--;
      res.write(body.subarray(0, drop.bytes), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    res.end(body);
  };

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const u = new URL(req.url ?? "/", "http://x");
    const parts = u.pathname.split("/").filter(Boolean).map(decodeURIComponent);

    if (parts[0] === "cdn" && parts.length === 2) {
      const data = blobsBySha.get(parts[1]);
      if (!data) return notFound(res, "EntryNotFound", "no such blob");
      return sendFile(req, res, u.searchParams.get("path") ?? "", data, { ETag: `"${parts[1]}"` });
    }

    // Which repo: /api/{models|datasets}/org/name/..., /datasets/org/name/resolve/..., /org/name/resolve/...
    const api = parts[0] === "api";
    const rest = api ? parts.slice(1) : parts;
    const type = rest[0] === "datasets" ? "dataset" : rest[0] === "models" ? "model" : "model";
    const idParts = rest[0] === "datasets" || rest[0] === "models" ? rest.slice(1) : rest;
    const verbAt = idParts.findIndex((p) => ["revision", "tree", "resolve"].includes(p));
    const id = idParts.slice(0, verbAt).join("/");
    const repo = repos.find((r) => r.type === type && r.id === id);
    if (verbAt < 1 || !repo) return notFound(res, "RepoNotFound", `Repository ${id} not found`);
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      return json(res, 401, { error: "Invalid credentials in Authorization header" });
    }
    const verb = idParts[verbAt];
    const rev = idParts[verbAt + 1] ?? "main";
    const commit = /^[0-9a-f]{40}$/.test(rev) && repo.commits[rev] ? rev : repo.refs[rev];
    if (!commit) return notFound(res, "RevisionNotFound", `Invalid rev id: ${rev}`);
    const files = repo.commits[commit];

    if (api && verb === "revision") {
      return json(res, 200, {
        _id: `fake-${repo.id}`,
        id: repo.id,
        sha: commit,
        private: Boolean(repo.token),
        lastModified: "2025-01-01T00:00:00.000Z",
        siblings: Object.keys(files).map((rfilename) => ({ rfilename })),
      });
    }
    if (api && verb === "tree") {
      const entries = Object.entries(files)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([path, c]) => {
          const data = bytesOf(c);
          const lfs = repo.lfs?.includes(path);
          return {
            type: "file",
            path,
            size: lfs ? 134 : data.byteLength,
            oid: gitOid(lfs ? Buffer.from(`version https://git-lfs.github.com/spec/v1\n`) : data),
            ...(lfs ? { lfs: { oid: sha256(data), size: data.byteLength, pointerSize: 134 } } : {}),
          };
        });
      const cursor = Number(u.searchParams.get("cursor") ?? 0);
      const page = entries.slice(cursor, cursor + pageSize);
      const next = cursor + pageSize < entries.length;
      const link = new URL(req.url ?? "", `http://${req.headers.host}`);
      link.searchParams.set("cursor", String(cursor + pageSize));
      return json(res, 200, page, next ? { Link: `<${link.href}>; rel="next"` } : {});
    }
    if (!api && verb === "resolve") {
      const path = idParts.slice(verbAt + 2).join("/");
      const content = files[path];
      if (content === undefined) return notFound(res, "EntryNotFound", `${path} does not exist`);
      const data = bytesOf(content);
      if (repo.lfs?.includes(path)) {
        const sha = sha256(data);
        res.writeHead(302, {
          Location: `/cdn/${sha}?path=${encodeURIComponent(path)}`,
          "X-Linked-ETag": `"${sha}"`,
          "X-Linked-Size": String(data.byteLength),
          "X-Repo-Commit": commit,
        });
        return res.end();
      }
      return sendFile(req, res, path, data, { ETag: `"${gitOid(data)}"`, "X-Repo-Commit": commit });
    }
    return notFound(res, "EntryNotFound", `no route for ${u.pathname}`);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    dropAfter(path, bytes, times = 1) {
      drops.set(path, { bytes, times });
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}
