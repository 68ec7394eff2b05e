/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1, serving the URL layout and headers bitnet-ts uses:
 * `GET /api/models/OWNER/REPO/revision/REV?blobs=true` and `GET /OWNER/REPO/resolve/COMMIT/FILE` (with Range,
 * X-Repo-Commit, X-Linked-Size, X-Linked-Etag). Faults on demand: a connection dropped halfway through a file,
 * a corrupted byte. Counts requests so tests can prove that offline use makes none.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface MockRepo {
  files: Record<string, Uint8Array>;
  commit?: string;
}

export interface MockHub {
  url: string;
  requests: string[];
  /** Files (`OWNER/REPO/FILE`) whose next download is cut after half its bytes. */
  dropOnce: Set<string>;
  /** Files whose served bytes have one byte flipped. */
  corrupt: Set<string>;
  close(): Promise<void>;
}

const isLfs = (f: string) => /\.(safetensors|gguf)$/.test(f);

export async function startMockHub(repos: Record<string, MockRepo>): Promise<MockHub> {
  const requests: string[] = [];
  const dropOnce = new Set<string>();
  const corrupt = new Set<string>();
  const commitOf = (id: string) => repos[id].commit ?? createHash("sha1").update(id).digest("hex");
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ""}`);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url.pathname);
    if (api) {
      const repo = repos[api[1]];
      if (!repo) return void res.writeHead(404).end("{}");
      const siblings = Object.entries(repo.files).map(([name, bytes]) => ({
        rfilename: name,
        size: bytes.byteLength,
        blobId: createHash("sha1").update(`blob ${bytes.byteLength}\0`).update(bytes).digest("hex"),
        ...(isLfs(name) ? { lfs: { size: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex"), pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ id: api[1], sha: commitOf(api[1]), siblings }));
    }
    const file = /^\/([^/]+\/[^/]+)\/resolve\/([0-9a-f]{40})\/(.+)$/.exec(url.pathname);
    const repo = file ? repos[file[1]] : undefined;
    const name = file ? decodeURIComponent(file[3]) : "";
    if (!file || !repo || file[2] !== commitOf(file[1]) || !repo.files[name]) return void res.writeHead(404).end("not found");
    const key = `${file[1]}/${name}`;
    let bytes = repo.files[name];
    if (corrupt.has(key)) {
      bytes = bytes.slice();
      bytes[bytes.length >> 1] ^= 0x40;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const from = range ? Number(range[1]) : 0;
    const headers = { "x-repo-commit": file[2], "x-linked-size": String(bytes.byteLength), "x-linked-etag": `"${createHash("sha256").update(repo.files[name]).digest("hex")}"`, "accept-ranges": "bytes" };
    if (from >= bytes.byteLength && bytes.byteLength > 0) return void res.writeHead(416, { "content-range": `bytes */${bytes.byteLength}` }).end();
    const body = bytes.subarray(from);
    res.writeHead(range ? 206 : 200, { ...headers, "content-length": String(body.byteLength), ...(range ? { "content-range": `bytes ${from}-${bytes.byteLength - 1}/${bytes.byteLength}` } : {}) });
    if (dropOnce.has(key)) {
      dropOnce.delete(key);
      res.write(body.subarray(0, body.byteLength >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    dropOnce,
    corrupt,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
