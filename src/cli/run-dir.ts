// Run folders: runs/<name>/ with its resolved config.json written before any work, runs/latest
// pointing at the newest one (a relative symlink, so the runs folder can be moved), and `--resume
// runs/<name>` reading the config back. Shared by the commands that write runs (zero, r1).
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { UsageError } from "./command.ts";

export function pointLatest(runDir: string): void {
  const link = join(dirname(runDir), "latest");
  rmSync(link, { force: true });
  symlinkSync(basename(runDir), link);
}

/** `--name`: letters, digits, '.', '_' and '-' (it becomes a folder name). */
export function checkRunName(name: string): string {
  if (!/^[\w.-]+$/.test(name))
    throw new UsageError(`--name may contain letters, digits, '.', '_' and '-' only, got '${name}'`);
  return name;
}

/** `--resume DIR`: the run's folder and config; a `--device` other than the run's is refused. */
export function resumeRun<C extends { device: string }>(
  dir: string,
  device: string | undefined,
): { runDir: string; cfg: C; cfgPath: string } {
  const runDir = resolve(dir);
  const cfgPath = join(runDir, "config.json");
  if (!existsSync(cfgPath))
    throw new UsageError(`--resume ${dir}: no config.json there (is it a run folder?)`);
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as C;
  if (device && device !== cfg.device)
    throw new UsageError(`--resume: the run used device '${cfg.device}'; drop --device or pass the same`);
  return { runDir, cfg, cfgPath };
}

/** A new run folder runsDir/name with `cfg` in config.json; an existing run is refused. */
export function newRun(runsDir: string, name: string, cfg: unknown): string {
  const runDir = resolve(runsDir, name);
  if (existsSync(join(runDir, "config.json")))
    throw new UsageError(`${runDir} exists: pass --resume ${runDir} to continue it, or another --name`);
  mkdirSync(runDir, { recursive: true });
  writeJsonAtomic(join(runDir, "config.json"), cfg);
  return runDir;
}
