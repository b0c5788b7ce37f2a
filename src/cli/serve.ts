// `r1lab serve rewards`: the rule-based reward server (src/eval/reward-server.ts) for RL trainers in
// other processes, e.g. OpenRLHF's --remote_rm_url http://HOST:PORT/get_reward.
import { LABEL_TASKS, listenRewardServer } from "../eval/reward-server.ts";
import { type Command, numberFlag, UsageError } from "./command.ts";

const cmd: Command = {
  name: "serve",
  summary: "serve rule-based rewards over HTTP (OpenRLHF's remote reward API)",
  usage: "serve rewards --port P [--host 127.0.0.1] [--task NAME]",
  options: {
    port: { type: "string", default: "5000", help: "port to listen on (0: any free port)" },
    host: {
      type: "string",
      default: "127.0.0.1",
      help: "address to bind (0.0.0.0 to accept other machines)",
    },
    task: { type: "string", help: `default task for /get_reward: ${LABEL_TASKS.join(", ")}` },
    "max-body-mb": { type: "string", default: "10", help: "largest request body, MB (413 above it)" },
    "timeout-ms": { type: "string", default: "60000", help: "time limit per request (503 past it)" },
  },
  details: [
    "Routes:",
    '  POST /get_reward    {"query": [...], "prompts": [...], "labels": [...], "task"?: NAME} -> {"rewards": [...]}',
    '  POST /score/NAME    {"completions": [...], "golds": [...]} -> {"rewards": [...], "extracted": [...]}',
    "  GET  /health",
    "See docs/evaluation.md.",
  ].join("\n"),
  async run(v, positionals) {
    if (positionals[0] !== "rewards" || positionals.length !== 1) {
      throw new UsageError("usage: r1lab serve rewards --port P [--host H] [--task NAME]");
    }
    if (v.task !== undefined && !LABEL_TASKS.includes(v.task)) {
      throw new UsageError(
        `--task '${v.task}' cannot be served from labels; choose one of ${LABEL_TASKS.join(", ")}`,
      );
    }
    const port = numberFlag(v, "port", { int: true, min: 0, max: 65535 });
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
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        close().then(resolve);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
  },
};

export default cmd;
