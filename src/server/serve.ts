/**
 * The Node listener for the app (app.ts): @hono/node-server on a host and port (loopback unless asked),
 * and a clean stop: SIGTERM or SIGINT stops taking connections and requests, lets running streams
 * finish, then frees the model and resolves `closed`.
 */
import { serve, type ServerType } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { BitNetModel } from "../model/model.ts";
import { trackArrivals } from "./arrivals.ts";
import { createServerApp, type ServerApp, type ServerOptions } from "./app.ts";

export interface ListenOptions extends ServerOptions {
  host?: string;
  port?: number;
  /** Stop on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
}

export interface RunningServer extends ServerApp {
  url: string;
  port: number;
  /** Stops as SIGTERM does; resolves when every stream has ended and the model is disposed. */
  stop(): Promise<void>;
  /** Resolves once the server has stopped. */
  closed: Promise<void>;
}

export async function startServer(model: BitNetModel, options: ListenOptions = {}): Promise<RunningServer> {
  const app = createServerApp(model, options);
  const host = options.host ?? "127.0.0.1";
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.app.fetch, hostname: host, port: options.port ?? 8080 }, () => resolve(s));
    s.once("error", reject);
  });
  trackArrivals(server as Server, model); // serve() without createServer makes a node:http Server
  const port = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | null = null;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const listening = new Promise<void>((resolve) => server.close(() => resolve()));
      await app.drain();
      // Idle keep-alive connections would hold close() open.
      (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      await listening;
      await model.dispose();
      markClosed();
    })();
    return stopping;
  };
  if (options.handleSignals !== false) {
    const onSignal = (): void => void stop();
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    void closed.then(() => {
      process.removeListener("SIGTERM", onSignal);
      process.removeListener("SIGINT", onSignal);
    });
  }
  const shown = host.includes(":") ? `[${host}]` : host;
  return { ...app, url: `http://${shown}:${port}`, port, stop, closed };
}
