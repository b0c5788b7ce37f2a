// Run folders: runs/<name>/ with runs/latest pointing at the newest one (a relative symlink, so the
// runs folder can be moved). Shared by the commands that write runs (zero, r1).
import { rmSync, symlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export function pointLatest(runDir: string): void {
  const link = join(dirname(runDir), "latest");
  rmSync(link, { force: true });
  symlinkSync(basename(runDir), link);
}
