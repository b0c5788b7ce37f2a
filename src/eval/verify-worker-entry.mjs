// Entry of a verification worker thread (verify-pool.ts): worker threads start without the tsx
// loader that runs r1lab's TypeScript, so this plain-JS file registers it, then loads the worker.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.module);
