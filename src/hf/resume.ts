// One file over HTTP into a `.incomplete` file that survives interruption: a later call continues
// from the bytes already on disk with `Range: bytes=N-`. The server's answer decides what happens:
//   206 from N   append (Content-Range must start at N, else the bytes would be misplaced)
//   200          the server ignored the range: write the file again from byte 0
//   416 at size  the file is already whole
// The sha256 of the whole file can be computed on the way (the kept prefix is hashed first), so a
// resumed Git LFS file is checked against its oid like a fresh one.
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { open } from "node:fs/promises";

/** An answer that retrying will not change (4xx, wrong range, wrong size): not retried. */
export class DownloadError extends Error {
  override name = "DownloadError";
}

export interface FetchResumableOptions {
  /** Expected total size in bytes (from the Hub's metadata). */
  size: number;
  headers?: Record<string, string>;
  /** Compute the sha256 of the whole file. */
  sha256?: boolean;
  /** Called with the number of bytes on disk, as they grow. */
  onBytes?: (bytes: number) => void;
}

export interface FetchResumableResult {
  /** Bytes were kept from an earlier attempt. */
  resumed: boolean;
  /** Hex sha256 of the whole file when asked, else null. */
  digest: string | null;
}

/** Size of a file, -1 when there is none. */
export function sizeOf(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return -1;
  }
}

/** Fetch `url` into `dest`, continuing what `dest` already holds. Network errors propagate as thrown. */
export async function fetchResumable(
  url: string,
  dest: string,
  o: FetchResumableOptions,
): Promise<FetchResumableResult> {
  let offset = Math.max(0, sizeOf(dest));
  if (offset > o.size) offset = 0; // longer than the file can be: not a prefix of it
  const range: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  const res = await fetch(url, { headers: { ...o.headers, ...range } });
  const whole = res.status === 416 && offset === o.size;
  if (whole) {
    await res.body?.cancel();
  } else if (res.status === 200) {
    offset = 0;
  } else if (res.status === 206) {
    const contentRange = res.headers.get("content-range") ?? "";
    const start = Number(/^bytes (\d+)-/.exec(contentRange)?.[1]);
    if (start !== offset) {
      await res.body?.cancel();
      throw new DownloadError(`${url}: asked for bytes ${offset}-, the server sent '${contentRange}'`);
    }
  } else {
    const body = (await res.text().catch(() => "")).slice(0, 200);
    const msg = `${url}: HTTP ${res.status} ${res.statusText}${body ? ` (${body})` : ""}`;
    throw res.status >= 500 ? new Error(msg) : new DownloadError(msg);
  }

  const hash = o.sha256 ? createHash("sha256") : null;
  if (hash && offset > 0) {
    for await (const chunk of createReadStream(dest, { end: offset - 1 })) hash.update(chunk as Buffer);
  }
  o.onBytes?.(offset);
  if (!whole) {
    const fh = await open(dest, offset > 0 ? "r+" : "w");
    try {
      let pos = offset;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk, 0, chunk.byteLength, pos);
        pos += chunk.byteLength;
        hash?.update(chunk);
        o.onBytes?.(pos);
      }
      await fh.truncate(pos);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  const got = sizeOf(dest);
  if (got !== o.size) throw new DownloadError(`${url}: got ${got} bytes, expected ${o.size}`);
  return { resumed: offset > 0, digest: hash ? hash.digest("hex") : null };
}
