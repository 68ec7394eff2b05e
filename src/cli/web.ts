/**
 * `bitnet web [--port N] [--host ADDR] [-m FILE]`: serves the chat page (built by `npm run build:web`
 * into dist/web/app) on loopback, with the headers that give the page threads, until Ctrl+C.
 * `-m FILE` offers FILE as the page's built-in model. The server is src/node/web-server.ts.
 */
import type { Command } from "commander";
import { isIP } from "node:net";
import { defaultModelPath } from "../node/default-model.ts";
import { parseIntFlag } from "./model-options.ts";
import { startWebServer } from "../node/web-server.ts";

interface WebFlags {
  port: string;
  host: string;
  model?: string;
  root?: string;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function registerWeb(program: Command): void {
  program
    .command("web")
    .description("serve the chat page: the model runs in the browser, on the visitor's CPU")
    .option("--port <n>", "port to listen on (0 picks a free one)", "8080")
    .option("--host <addr>", "address to listen on", "127.0.0.1")
    .option("-m, --model <file>", "GGUF file the page loads first (default: the embedded model)")
    .option("--root <dir>", "the built page to serve (default: dist/web/app)")
    .action(async (flags: WebFlags) => {
      const port = parseIntFlag("port", flags.port, 0) as number;
      if (port > 65535) throw new Error(`--port must be an integer from 0 to 65535, got '${flags.port}'`);
      const host = flags.host.trim();
      if (host === "" || (isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host))) throw new Error(`--host must be an address or a host name, got '${flags.host}'`);
      // The package ships one copy of the embedded model (models/); the built page's own copy is for static hosts.
      const web = await startWebServer({ port, host, model: flags.model ?? defaultModelPath(), root: flags.root });
      process.stdout.write(`bitnet web: serving the chat page at ${web.url} (Ctrl+C stops)\n`);
      if (!LOOPBACK.has(host)) {
        process.stderr.write(
          "bitnet web: note: browsers give plain-http pages on other hosts no threads and no model cache (they are not a secure context); serve over https for those\n",
        );
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void web.close().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
