// `r1lab serve rewards`: the rule-based reward server (src/eval/reward-server.ts) for RL trainers in
// other processes, e.g. OpenRLHF's --remote_rm_url http://HOST:PORT/get_reward.
// `r1lab serve model`: an OpenAI-compatible server over a model (src/serve/server.ts), for chat UIs,
// agent frameworks, scripts and `r1lab eval --backend openai`. It prints its PID and exits when its
// parent process does (so a test or a script that dies does not leave it running).
import { LABEL_TASKS, listenRewardServer } from "../eval/reward-server.ts";
import { type Command, numberFlag, requireFlag, UsageError } from "./command.ts";
import { checkDeviceFlag } from "./logits.ts";

const cmd: Command = {
  name: "serve",
  summary:
    "serve a model over the OpenAI API, or rule-based rewards over HTTP (OpenRLHF's remote reward API)",
  usage: [
    "serve model --model DIR_OR_ID [--host 127.0.0.1] [--port 8000] [--api-key-env VAR] [--max-batch N] [--quantize none|int8|int4] [--reasoning-parser deepseek_r1]",
    "       serve rewards --port P [--host 127.0.0.1] [--task NAME]",
  ].join("\n"),
  options: {
    port: {
      type: "string",
      help: "port to listen on (0: any free port; default 8000 for model, 5000 for rewards)",
    },
    host: {
      type: "string",
      default: "127.0.0.1",
      help: "address to bind (0.0.0.0 to accept other machines)",
    },
    model: {
      type: "string",
      help: "model: a model folder (r1lab checkpoint or HF) or org/name in the HF cache",
    },
    "served-model-name": { type: "string", help: "model: the name clients send (default: --model as given)" },
    "api-key-env": {
      type: "string",
      help: "model: require this environment variable's value as the Bearer API key",
    },
    "max-batch": { type: "string", default: "16", help: "model: most sequences decoded together" },
    "max-queue": {
      type: "string",
      default: "64",
      help: "model: most requests waiting for the batch (429 past it)",
    },
    quantize: {
      type: "string",
      default: "none",
      help: "model: linear-layer weights none, int8 (per channel) or int4 (block-wise)",
    },
    "group-size": {
      type: "string",
      default: "32",
      help: "model: int4 block size along the input, 32 or 128",
    },
    "reasoning-parser": {
      type: "string",
      help: "model: deepseek_r1 splits <think>...</think> into reasoning_content",
    },
    device: { type: "string", help: "model: cpu or webgpu (default: R1LAB_DEVICE, else cpu)" },
    executor: {
      type: "string",
      help: "model: ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort)",
    },
    revision: { type: "string", help: "model: branch, tag or commit for an org/name model (default: main)" },
    task: { type: "string", help: `rewards: default task for /get_reward: ${LABEL_TASKS.join(", ")}` },
    "max-body-mb": { type: "string", default: "10", help: "largest request body, MB (413 above it)" },
    "timeout-ms": { type: "string", default: "60000", help: "rewards: time limit per request (503 past it)" },
  },
  details: [
    "serve model routes (OpenAI API):",
    "  GET  /v1/models   POST /v1/chat/completions   POST /v1/completions   GET /health",
    "serve rewards routes:",
    '  POST /get_reward    {"query": [...], "prompts"?: [...], "labels": [...], "task"?: NAME} -> {"rewards": [...], "scores": [...]}',
    '  POST /score/NAME    {"completions": [...], "golds" | "labels": [...]} -> {"rewards": [...], "extracted": [...]}',
    '  GET  /health        -> {"status": "ok", "task": NAME | null, "tasks": [...]}',
    "  rewards are 1 or 0 (scores repeats them, as OpenRLHF reads); extracted: the answer found, or null",
    "See docs/serving.md and docs/evaluation.md.",
  ].join("\n"),
  async run(v, positionals) {
    if (positionals[0] === "model" && positionals.length === 1) return serveModel(v);
    if (positionals[0] !== "rewards" || positionals.length !== 1) {
      throw new UsageError(
        "usage: r1lab serve model --model DIR_OR_ID [...] | r1lab serve rewards --port P [...]",
      );
    }
    if (v.task !== undefined && !LABEL_TASKS.includes(v.task)) {
      throw new UsageError(
        `--task '${v.task}' cannot be served from labels; choose one of ${LABEL_TASKS.join(", ")}`,
      );
    }
    const port = v.port === undefined ? 5000 : numberFlag(v, "port", { int: true, min: 0, max: 65535 });
    const maxBodyBytes = Math.round(numberFlag(v, "max-body-mb", { min: 0.001 }) * 1024 * 1024);
    const timeoutMs = numberFlag(v, "timeout-ms", { int: true, min: 1 });
    const { url, close } = await listenRewardServer({
      port,
      host: v.host,
      task: v.task,
      maxBodyBytes,
      timeoutMs,
    });
    console.log(
      `r1lab reward server on ${url} (task: ${v.task ?? "from each request"}); POST /get_reward, POST /score/<task>, GET /health`,
    );
    await untilStopped(close);
  },
};

async function serveModel(v: Record<string, any>): Promise<void> {
  const model = requireFlag(v, "model", "serve model");
  const port = v.port === undefined ? 8000 : numberFlag(v, "port", { int: true, min: 0, max: 65535 });
  const maxBatch = numberFlag(v, "max-batch", { int: true, min: 1 });
  const maxQueue = numberFlag(v, "max-queue", { int: true, min: 0 });
  const maxBodyBytes = Math.round(numberFlag(v, "max-body-mb", { min: 0.001 }) * 1024 * 1024);
  const groupSize = numberFlag(v, "group-size", { int: true });
  if (groupSize !== 32 && groupSize !== 128)
    throw new UsageError(`--group-size must be 32 or 128, got ${groupSize}`);
  const { QUANTIZE_MODES } = await import("../model/quantize.ts");
  if (!QUANTIZE_MODES.includes(v.quantize))
    throw new UsageError(`--quantize must be one of ${QUANTIZE_MODES.join(", ")}, got '${v.quantize}'`);
  const parser = v["reasoning-parser"];
  if (parser !== undefined && parser !== "deepseek_r1")
    throw new UsageError(`--reasoning-parser must be deepseek_r1, got '${parser}'`);
  let apiKey: string | undefined;
  if (v["api-key-env"] !== undefined) {
    apiKey = process.env[v["api-key-env"]];
    if (!apiKey)
      throw new UsageError(
        `--api-key-env ${v["api-key-env"]}: that environment variable is not set or empty`,
      );
  }
  checkDeviceFlag(v.device);
  const { initEngine } = await import("../engine/device.ts");
  const { loadServedModel } = await import("../serve/served-model.ts");
  const { listenModelServer } = await import("../serve/server.ts");
  await initEngine({ device: v.device, executor: v.executor });
  const m = await loadServedModel({
    model,
    name: v["served-model-name"],
    revision: v.revision,
    quantize: v.quantize,
    groupSize,
  });
  if (m.quant) {
    const q = m.quant;
    const mib = (b: number) => (b / 2 ** 20).toFixed(2);
    console.error(
      `quantised ${q.quantized} linear weights to ${q.mode}${q.groupSize ? ` (group ${q.groupSize})` : ""}: weights ${mib(q.bytesBefore)} MiB -> ${mib(q.bytesAfter)} MiB${q.skipped.length ? `; kept float32: ${q.skipped.join(", ")}` : ""}`,
    );
  }
  const { url, close } = await listenModelServer(m, {
    port,
    host: v.host,
    apiKey,
    maxBatch,
    maxQueue,
    maxBodyBytes,
    reasoningParser: parser === "deepseek_r1",
  });
  if (v.host !== "127.0.0.1" && v.host !== "localhost" && v.host !== "::1" && !apiKey)
    console.error(
      `warning: listening on ${v.host} without an API key; anyone who can reach it can use it (--api-key-env)`,
    );
  console.log(`r1lab model server on ${url}/v1 (model '${m.name}', pid ${process.pid})`);
  await untilStopped(close);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Wait for SIGINT/SIGTERM or the parent's exit, then close. The parent is the process that started
 * `r1lab` (bin/r1lab.js passes it as R1LAB_PARENT_PID: tsx and the launcher sit in between), or
 * else this process's own parent.
 */
function untilStopped(close: () => Promise<void>): Promise<void> {
  const parent = process.ppid;
  const launcher = Number(process.env.R1LAB_PARENT_PID);
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      clearInterval(watch);
      close().then(resolve);
    };
    // Reparented (the parent died): ppid changes to init or a subreaper.
    const watch = setInterval(() => {
      if (process.ppid !== parent || (launcher > 1 && !alive(launcher))) stop();
    }, 1000);
    watch.unref();
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export default cmd;
