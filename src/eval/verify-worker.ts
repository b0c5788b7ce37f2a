// The body of a verification worker thread: answers {id, completion, gold, opts} with checkMath's
// verdict. Runs inside verify-pool.ts's workers, so a verification that never ends blocks only this
// thread, which the pool terminates and replaces.
import { parentPort } from "node:worker_threads";
import { checkMath, type MathCheckOptions } from "./math-verify.ts";

interface Job {
  id: number;
  completion: string;
  gold: string;
  opts: MathCheckOptions;
}

const port = parentPort;
if (port) {
  port.on("message", (job: Job) => {
    port.postMessage({ id: job.id, result: checkMath(job.completion, job.gold, job.opts) });
  });
  checkMath("\\boxed{\\frac{1}{2}}", "0.5"); // load the CAS before taking timed work
  port.postMessage({ ready: true });
}
