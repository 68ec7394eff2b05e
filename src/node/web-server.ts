/**
 * The small static server behind `bitnet web` and `npm run web`: serves the built chat page
 * (dist/web/app, see scripts/build-web.ts) with the headers that make it cross-origin isolated, so the
 * engine gets SharedArrayBuffer and threads:
 *
 *   Cross-Origin-Opener-Policy: same-origin
 *   Cross-Origin-Embedder-Policy: require-corp
 *
 * plus Cross-Origin-Resource-Policy, nosniff, and ETag / Last-Modified with `no-cache` (the browser asks
 * again each time and gets a 304; the page's model cache is what keeps models). `model` offers another
 * GGUF file as the page's built-in model: the server answers /model.json with its URL. Only GET and HEAD
 * of files inside the site's folder are served; anything else is 4xx. node:http only: no dependency for
 * a few static files. Not here: the page, its build, the CLI flags (src/cli/web.ts).
 */
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

export interface WebServerOptions {
  /** The static site's folder. Default: dist/web/app of this package. */
  root?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** A GGUF file to serve as the page's built-in model, instead of the site's own. */
  model?: string;
  /** Called once per answered request (tests count requests with it). */
  onRequest?: (event: { method: string; path: string; status: number }) => void;
}

export interface WebServer {
  /** The page's URL, e.g. http://127.0.0.1:8080/. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** dist/web/app beside this package's src/. */
export function defaultWebAppDir(): string {
  return fileURLToPath(new URL("../../dist/web/app", import.meta.url));
}

export const ISOLATION_HEADERS = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
} as const;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".gguf": "application/octet-stream",
};

const MAX_URL = 4096;

export async function startWebServer(options: WebServerOptions = {}): Promise<WebServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be an integer from 0 to 65535, got ${port}`);
  const rootPath = options.root ?? defaultWebAppDir();
  let root: string;
  try {
    root = await realpath(rootPath);
    await stat(join(root, "index.html"));
  } catch {
    throw new Error(`${join(rootPath, "index.html")}: the chat page is not built (run npm run build:web)`);
  }
  const model = options.model !== undefined ? await modelFile(options.model) : null;

  const server = createServer((req, res) => {
    handle(req, res, root, model).then(
      (status) => options.onRequest?.({ method: req.method ?? "", path: req.url ?? "", status }),
      () => {
        if (!res.headersSent) res.writeHead(500, baseHeaders("text/plain; charset=utf-8")).end("internal error\n");
        else res.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(
        new Error(
          e.code === "EADDRINUSE"
            ? `port ${port} is in use on ${host}: pass --port N (0 picks a free port)`
            : e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND"
              ? `cannot listen on host ${host}: it is not an address of this machine`
              : `cannot listen on ${host}:${port} (${e.message})`,
        ),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface ModelFile {
  path: string;
  name: string;
  size: number;
  version: string;
}

async function modelFile(path: string): Promise<ModelFile> {
  let s;
  try {
    s = await stat(path);
  } catch {
    throw new Error(`${path}: no such file`);
  }
  if (!s.isFile()) throw new Error(`${path}: not a file`);
  // The URL changes with the file, so the page's cache (keyed by URL) never serves an older copy.
  return { path, name: basename(path), size: s.size, version: `${s.size.toString(36)}-${Math.floor(s.mtimeMs).toString(36)}` };
}

function baseHeaders(contentType: string): Record<string, string> {
  return {
    ...ISOLATION_HEADERS,
    "cross-origin-resource-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-type": contentType,
  };
}

/** Answers one request; resolves to the status sent. */
async function handle(req: IncomingMessage, res: ServerResponse, root: string, model: ModelFile | null): Promise<number> {
  const fail = (status: number, text: string, extra: Record<string, string> = {}): number => {
    res.writeHead(status, { ...baseHeaders("text/plain; charset=utf-8"), ...extra }).end(req.method === "HEAD" ? undefined : `${text}\n`);
    return status;
  };
  if (req.method !== "GET" && req.method !== "HEAD") return fail(405, "method not allowed", { allow: "GET, HEAD" });
  const raw = req.url ?? "/";
  if (raw.length > MAX_URL || !raw.startsWith("/")) return fail(400, "bad request");
  let path: string;
  try {
    path = decodeURIComponent(raw.split("?")[0].split("#")[0]);
  } catch {
    return fail(400, "bad request");
  }
  if (path.includes("\0") || path.includes("\\")) return fail(400, "bad request");
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === ".." || p.startsWith("."))) return fail(404, "not found");

  if (model) {
    if (parts.length === 1 && parts[0] === "model.json") {
      const body = `${JSON.stringify({ url: `models/${encodeURIComponent(model.name)}?v=${model.version}`, name: model.name, bytes: model.size })}\n`;
      res.writeHead(200, { ...baseHeaders(TYPES[".json"]), "cache-control": "no-store", "content-length": String(Buffer.byteLength(body)) });
      res.end(req.method === "HEAD" ? undefined : body);
      return 200;
    }
    if (parts.length === 2 && parts[0] === "models" && parts[1] === model.name) return sendFile(req, res, model.path);
  }

  let file = join(root, ...parts);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, "index.html");
    file = await realpath(file);
  } catch {
    return fail(404, "not found");
  }
  // A symbolic link inside the site must not lead out of it.
  if (file !== root && !file.startsWith(root + sep)) return fail(404, "not found");
  return sendFile(req, res, file);
}

async function sendFile(req: IncomingMessage, res: ServerResponse, file: string): Promise<number> {
  let s;
  try {
    s = await stat(file);
  } catch {
    res.writeHead(404, baseHeaders("text/plain; charset=utf-8")).end("not found\n");
    return 404;
  }
  if (!s.isFile()) {
    res.writeHead(404, baseHeaders("text/plain; charset=utf-8")).end("not found\n");
    return 404;
  }
  const etag = `W/"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`;
  const headers = {
    ...baseHeaders(TYPES[extname(file).toLowerCase()] ?? "application/octet-stream"),
    "cache-control": "no-cache",
    etag,
    "last-modified": s.mtime.toUTCString(),
  };
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers).end();
    return 304;
  }
  res.writeHead(200, { ...headers, "content-length": String(s.size) });
  if (req.method === "HEAD") {
    res.end();
    return 200;
  }
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file);
    stream.on("error", () => {
      res.destroy();
      resolve();
    });
    res.on("close", () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
  return 200;
}
