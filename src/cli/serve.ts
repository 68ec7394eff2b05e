/**
 * `bitnet serve`: an OpenAI-compatible HTTP server on one model (src/server), on loopback unless --host
 * says otherwise, with --parallel sequences batched together. With no -m it serves the embedded model.
 * The API key comes from --api-key or BITNET_API_KEY. SIGTERM (or Ctrl-C) stops taking requests, lets
 * running streams finish and exits.
 */
import type { Command } from "commander";
import { startServer } from "../server/serve.ts";
import { addModelFlags, openModel, parseIntFlag, type ModelFlags } from "./model-options.ts";

interface ServeFlags extends ModelFlags {
  host: string;
  port: string;
  parallel: string;
  apiKey?: string;
  queue: string;
  timeout: string;
  maxBody: string;
  alias?: string;
}

export function registerServe(program: Command): void {
  const cmd = program
    .command("serve")
    .description("serve a model over OpenAI's HTTP API (chat/completions, completions, models, tokenize, metrics)")
    .option("--host <host>", "address to listen on (default loopback only)", "127.0.0.1")
    .option("--port <n>", "port", "8080")
    .option("--parallel <n>", "sequences generated at once, batched together (each holds a KV cache of --ctx tokens)", "4")
    .option("--api-key <key>", "require Authorization: Bearer <key> (default: the BITNET_API_KEY environment variable)")
    .option("--queue <n>", "requests that may wait for a free sequence; more are refused with 429", "64")
    .option("--timeout <seconds>", "longest a request may run", "600")
    .option("--max-body <bytes>", "largest request body", String(4 * 2 ** 20))
    .option("--alias <name>", "model id shown to clients (default: the file name)");
  addModelFlags(cmd);
  cmd.action(async (flags: ServeFlags) => {
    const parallel = parseIntFlag("parallel", flags.parallel, 1) as number;
    const port = parseIntFlag("port", flags.port, 0) as number;
    if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
    const model = await openModel(flags, { parallel });
    const server = await startServer(model, {
      host: flags.host,
      port,
      apiKey: flags.apiKey ?? (process.env.BITNET_API_KEY || undefined),
      maxQueue: parseIntFlag("queue", flags.queue, 0),
      timeoutSeconds: parseIntFlag("timeout", flags.timeout, 1),
      maxBodyBytes: parseIntFlag("max-body", flags.maxBody, 1024),
      modelId: flags.alias,
    });
    const kv = (model.kvBytesPerSequence / 2 ** 20).toFixed(1);
    if (model.fallbackReason) process.stderr.write(`bitnet serve: note: ${model.fallbackReason}\n`);
    process.stderr.write(
      `bitnet serve: ${model.fileName} (${model.backend} ×${model.threads}), ${model.parallel} sequences of ${model.contextLength} tokens (KV cache ${kv} MiB each) on ${server.url}\n`,
    );
    await server.closed;
    process.stderr.write("bitnet serve: stopped\n");
  });
}
