/**
 * The browser's model cache: models that `load(url)` downloaded, kept by the origin so that the next
 * page load reads them from disk without a network request. Two stores, one interface:
 *
 *   "opfs"       the Origin Private File System (navigator.storage.getDirectory()), folder bitnet-models/:
 *                <key>.gguf (the bytes) and <key>.json (url, size, ETag, Last-Modified, when stored),
 *                key = the first 32 hex digits of SHA-256(url). A download is written to <key>.part,
 *                renamed to <key>.gguf when complete, and only then is <key>.json written: an entry
 *                without its .json, or whose file size differs from the size recorded, is never served,
 *                and an older copy stays usable until the new one is complete.
 *   "cache-api"  the Cache API (caches.open("bitnet-models")), where OPFS is missing; Cache.put only
 *                stores a response whose body arrived whole, so a half download is never served.
 *
 * A cached entry is found by its URL alone: no request is made to check it (`cache: "revalidate"` asks
 * the server with If-None-Match / If-Modified-Since instead). Both the engine's worker (get, put) and the
 * page (list, delete) use this module; everything here is a browser API available in both.
 * Not here: the download itself and its progress (engine-worker.ts), loading the model.
 */
import { BitNetError, InvalidArgumentError, TruncatedFileError } from "../errors.ts";

export type ModelCacheStore = "opfs" | "cache-api";
/** Which store to use: "auto" (OPFS, else the Cache API, else none), one of the two, or "off". */
export type ModelCacheChoice = "auto" | ModelCacheStore | "off";
export const MODEL_CACHE_CHOICES: readonly ModelCacheChoice[] = ["auto", "opfs", "cache-api", "off"];

/** Throws the one error for a `modelCache` option that is none of MODEL_CACHE_CHOICES. */
export function checkModelCacheChoice(choice: unknown): asserts choice is ModelCacheChoice {
  if (!MODEL_CACHE_CHOICES.includes(choice as ModelCacheChoice)) {
    throw new InvalidArgumentError(`modelCache must be "auto", "opfs", "cache-api" or "off", got ${JSON.stringify(choice)}`);
  }
}

/** One cached model, as listCachedModels() reports it. */
export interface CachedModel {
  /** The absolute URL the model was downloaded from (the cache key). */
  url: string;
  /** Size in bytes. */
  size: number;
  /** The server's ETag and Last-Modified headers at download time, if it sent them. */
  etag: string | null;
  lastModified: string | null;
  /** When it was stored (ISO 8601). */
  storedAt: string;
  store: ModelCacheStore;
}

export interface ModelCache {
  readonly store: ModelCacheStore;
  /** The cached bytes for `url` (a File or Blob read from disk on demand), or null. */
  get(url: string): Promise<{ blob: Blob; entry: CachedModel } | null>;
  /**
   * Streams `response`'s body into the cache under `url` and returns the stored entry. `onBytes` is
   * called as bytes arrive. Throws, storing nothing, when the body ends early or fails.
   */
  put(url: string, response: Response, onBytes: (loadedBytes: number) => void): Promise<{ blob: Blob; entry: CachedModel }>;
  list(): Promise<CachedModel[]>;
  /** Removes `url`'s entry; false when there was none. */
  delete(url: string): Promise<boolean>;
  /** Removes every entry, and any partial download left behind. */
  clear(): Promise<void>;
}

const DIR = "bitnet-models";
const CACHE_NAME = "bitnet-models";
/** Response headers the Cache API store adds to describe an entry. */
const SIZE_HEADER = "x-bitnet-size";
const STORED_HEADER = "x-bitnet-stored-at";

/** The store `choice` names, or null when none is available (no OPFS and no Cache API, e.g. a non-secure page). */
export async function openModelCache(choice: ModelCacheChoice = "auto"): Promise<ModelCache | null> {
  checkModelCacheChoice(choice);
  if (choice === "off") return null;
  if (choice !== "cache-api") {
    const dir = await opfsDirectory();
    if (dir) return new OpfsCache(dir);
    if (choice === "opfs") throw new BitNetError("modelCache: this browser gives the page no Origin Private File System (navigator.storage.getDirectory)");
  }
  if (typeof caches !== "undefined") return new CacheApiCache(await caches.open(CACHE_NAME));
  if (choice === "cache-api") throw new BitNetError("modelCache: this page has no Cache API (it needs a secure context: https or localhost)");
  return null;
}

/** An absolute URL string for `url`, relative to the page (or worker) when it is relative. */
export function absoluteUrl(url: string | URL): string {
  try {
    return new URL(url, globalThis.location?.href).href;
  } catch {
    throw new InvalidArgumentError(`model URL ${JSON.stringify(String(url))} is not a valid URL`);
  }
}

/** The size a download must have: Content-Length, unless the body is compressed (then the decoded size is unknown). */
export function expectedSize(response: Response): number | null {
  const length = response.headers.get("content-length");
  const encoding = response.headers.get("content-encoding");
  if (length === null || (encoding !== null && encoding !== "identity")) return null;
  const n = Number(length);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Reads `response`'s body to the end, handing each chunk to `write`; checks the length against
 * Content-Length. Errors name the URL and how far the download got, on one line.
 */
export async function pumpBody(url: string, response: Response, write: (chunk: Uint8Array) => Promise<void> | void, onBytes: (loadedBytes: number) => void): Promise<number> {
  if (!response.body) throw new BitNetError(`${url}: the response has no body`);
  const total = expectedSize(response);
  const reader = response.body.getReader();
  let loaded = 0;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new BitNetError(`${url}: the download failed after ${loaded}${total !== null ? ` of ${total}` : ""} bytes (${oneLine(e)})`);
      }
      if (chunk.done) break;
      loaded += chunk.value.byteLength;
      if (total !== null && loaded > total) throw new BitNetError(`${url}: the server sent more than the ${total} bytes of its Content-Length`);
      await write(chunk.value);
      onBytes(loaded);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  }
  if (total !== null && loaded !== total) throw new TruncatedFileError(`${url}: truncated download: got ${loaded} of ${total} bytes (the connection closed early)`);
  return loaded;
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/** SHA-256 of the URL, as the entry's file name. */
async function keyOf(url: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url));
  return [...new Uint8Array(digest)].slice(0, 16).map((b) => b.toString(16).padStart(2, "0")).join("");
}

function describe(url: string, response: Response, size: number, store: ModelCacheStore): CachedModel {
  return { url, size, etag: response.headers.get("etag"), lastModified: response.headers.get("last-modified"), storedAt: new Date().toISOString(), store };
}

// ---- OPFS ----

/** The parts of the File System API used here that TypeScript's DOM library lacks (or types only for workers). */
interface FileHandle extends FileSystemFileHandle {
  move?(newName: string): Promise<void>;
  createSyncAccessHandle?(): Promise<SyncAccessHandle>;
}
interface SyncAccessHandle {
  write(buffer: BufferSource, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

async function opfsDirectory(): Promise<FileSystemDirectoryHandle | null> {
  const storage = globalThis.navigator?.storage as (StorageManager & { getDirectory?: () => Promise<FileSystemDirectoryHandle> }) | undefined;
  if (typeof storage?.getDirectory !== "function") return null;
  try {
    const root = await storage.getDirectory();
    return await root.getDirectoryHandle(DIR, { create: true });
  } catch {
    return null; // e.g. a browser that has the API but refuses it here (private windows)
  }
}

const isNotFound = (e: unknown): boolean => e instanceof DOMException && (e.name === "NotFoundError" || e.name === "TypeMismatchError");

async function removeQuietly(dir: FileSystemDirectoryHandle, name: string): Promise<boolean> {
  try {
    await dir.removeEntry(name);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Writes a file in place: a sync access handle in workers (the fast path, and the only one some browsers have), else a writable stream. */
async function openWriter(handle: FileHandle): Promise<{ write(chunk: Uint8Array): Promise<void> | void; close(): Promise<void>; abort(): Promise<void> }> {
  const isWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";
  if (isWorker && typeof handle.createSyncAccessHandle === "function") {
    const sync = await handle.createSyncAccessHandle();
    sync.truncate(0);
    let at = 0;
    return {
      write(chunk) {
        at += sync.write(chunk as Uint8Array<ArrayBuffer>, { at });
      },
      async close() {
        sync.flush();
        sync.close();
      },
      async abort() {
        sync.close();
      },
    };
  }
  const stream = await handle.createWritable({ keepExistingData: false });
  return {
    write: (chunk) => stream.write(chunk as Uint8Array<ArrayBuffer>),
    close: () => stream.close(),
    abort: () => stream.abort(),
  };
}

class OpfsCache implements ModelCache {
  readonly store = "opfs" as const;
  private readonly dir: FileSystemDirectoryHandle;
  constructor(dir: FileSystemDirectoryHandle) {
    this.dir = dir;
  }

  /** The entry's description and the name of its data file, or null when `key` has no complete entry. */
  private async readEntry(key: string): Promise<{ entry: CachedModel; file: string } | null> {
    try {
      const file = await (await this.dir.getFileHandle(`${key}.json`)).getFile();
      const e = JSON.parse(await file.text()) as Partial<CachedModel> & { file?: unknown };
      if (typeof e?.url !== "string" || !Number.isSafeInteger(e.size)) return null;
      const data = e.file === `${key}.part` ? e.file : `${key}.gguf`;
      return { entry: { url: e.url, size: e.size as number, etag: e.etag ?? null, lastModified: e.lastModified ?? null, storedAt: String(e.storedAt), store: "opfs" }, file: data };
    } catch {
      return null; // missing, unreadable or not JSON: not an entry
    }
  }

  async get(url: string): Promise<{ blob: Blob; entry: CachedModel } | null> {
    const found = await this.readEntry(await keyOf(url));
    if (!found || found.entry.url !== url) return null;
    let blob: File;
    try {
      blob = await (await this.dir.getFileHandle(found.file)).getFile();
    } catch {
      return null;
    }
    if (blob.size !== found.entry.size) {
      // Not what was stored (changed behind our back): never serve it.
      await this.delete(url);
      return null;
    }
    return { blob, entry: found.entry };
  }

  async put(url: string, response: Response, onBytes: (loadedBytes: number) => void): Promise<{ blob: Blob; entry: CachedModel }> {
    const key = await keyOf(url);
    const part = `${key}.part`;
    const handle = (await this.dir.getFileHandle(part, { create: true })) as FileHandle;
    const canMove = typeof handle.move === "function";
    // Without a rename the new bytes go where an old entry's are, so that entry is forgotten first;
    // with one, an old entry stays usable until the new download is complete.
    if (!canMove) await removeQuietly(this.dir, `${key}.json`);
    let writer: Awaited<ReturnType<typeof openWriter>>;
    try {
      writer = await openWriter(handle);
    } catch (e) {
      throw new BitNetError(`${url}: cannot write the model cache (${oneLine(e)}; is the same model downloading in another tab?)`);
    }
    let size: number;
    try {
      size = await pumpBody(url, response, (chunk) => writer.write(chunk), onBytes);
      await writer.close();
    } catch (e) {
      await writer.abort().catch(() => undefined);
      await removeQuietly(this.dir, part).catch(() => undefined);
      if (e instanceof DOMException && e.name === "QuotaExceededError") throw new BitNetError(`${url}: not enough storage to cache the model (${oneLine(e)})`);
      throw e;
    }
    const name = canMove ? `${key}.gguf` : part;
    if (canMove) {
      await removeQuietly(this.dir, `${key}.json`);
      await removeQuietly(this.dir, name);
      await handle.move?.(name);
    }
    const entry = describe(url, response, size, "opfs");
    const meta = await openWriter((await this.dir.getFileHandle(`${key}.json`, { create: true })) as FileHandle);
    await meta.write(new TextEncoder().encode(JSON.stringify({ ...entry, file: name })));
    await meta.close();
    const blob = await (await this.dir.getFileHandle(name)).getFile();
    return { blob, entry };
  }

  async list(): Promise<CachedModel[]> {
    const out: CachedModel[] = [];
    for await (const name of this.dir.keys()) {
      if (!name.endsWith(".json")) continue;
      const found = await this.readEntry(name.slice(0, -".json".length));
      if (found) out.push(found.entry);
    }
    return out.sort((a, b) => a.url.localeCompare(b.url));
  }

  async delete(url: string): Promise<boolean> {
    const key = await keyOf(url);
    const had = await removeQuietly(this.dir, `${key}.json`);
    await removeQuietly(this.dir, `${key}.gguf`);
    await removeQuietly(this.dir, `${key}.part`);
    return had;
  }

  async clear(): Promise<void> {
    const names: string[] = [];
    for await (const name of this.dir.keys()) names.push(name);
    for (const name of names) await removeQuietly(this.dir, name);
  }
}

// ---- Cache API ----

class CacheApiCache implements ModelCache {
  readonly store = "cache-api" as const;
  private readonly cache: Cache;
  constructor(cache: Cache) {
    this.cache = cache;
  }

  /** The entry a stored response describes; its size from our header, or from the body when the download had no Content-Length. */
  private static async entryOf(url: string, response: Response): Promise<{ entry: CachedModel; blob: () => Promise<Blob> }> {
    let blob: Blob | null = null;
    const body = async (): Promise<Blob> => (blob ??= await response.blob());
    const header = response.headers.get(SIZE_HEADER);
    const size = header !== null ? Number(header) : (await body()).size;
    const entry: CachedModel = { url, size, etag: response.headers.get("etag"), lastModified: response.headers.get("last-modified"), storedAt: response.headers.get(STORED_HEADER) ?? "", store: "cache-api" };
    return { entry, blob: body };
  }

  async get(url: string): Promise<{ blob: Blob; entry: CachedModel } | null> {
    const response = await this.cache.match(url);
    if (!response) return null;
    const { entry, blob } = await CacheApiCache.entryOf(url, response);
    const bytes = await blob();
    if (!Number.isSafeInteger(entry.size) || bytes.size !== entry.size) {
      await this.cache.delete(url);
      return null;
    }
    return { blob: bytes, entry };
  }

  async put(url: string, response: Response, onBytes: (loadedBytes: number) => void): Promise<{ blob: Blob; entry: CachedModel }> {
    // Cache.put replaces an old entry only when the new body is complete.
    const body = new TransformStream<Uint8Array, Uint8Array>();
    const writer = body.writable.getWriter();
    const pumped = pumpBody(url, response, (chunk) => writer.write(chunk), onBytes).then(
      () => writer.close(),
      async (e: unknown) => {
        await writer.abort(e).catch(() => undefined);
        throw e;
      },
    );
    const headers = new Headers({ "content-type": "application/octet-stream", [STORED_HEADER]: new Date().toISOString() });
    for (const h of ["etag", "last-modified"]) {
      const v = response.headers.get(h);
      if (v !== null) headers.set(h, v);
    }
    const known = expectedSize(response);
    if (known !== null) headers.set(SIZE_HEADER, String(known));
    // Cache.put stores the entry only once its body has arrived whole; a failed body stores nothing.
    const stored = this.cache.put(url, new Response(body.readable, { headers }));
    try {
      await Promise.all([pumped, stored]);
    } catch (e) {
      await Promise.allSettled([pumped, stored]);
      const first = await pumped.then(() => e, (p: unknown) => p);
      if (first instanceof DOMException && first.name === "QuotaExceededError") throw new BitNetError(`${url}: not enough storage to cache the model (${oneLine(first)})`);
      throw first;
    }
    const hit = await this.get(url);
    if (!hit) throw new BitNetError(`${url}: the model cache lost the entry it just stored`);
    return hit;
  }

  async list(): Promise<CachedModel[]> {
    const out: CachedModel[] = [];
    for (const request of await this.cache.keys()) {
      const response = await this.cache.match(request);
      if (response) out.push((await CacheApiCache.entryOf(request.url, response)).entry);
    }
    return out.sort((a, b) => a.url.localeCompare(b.url));
  }

  delete(url: string): Promise<boolean> {
    return this.cache.delete(url);
  }

  async clear(): Promise<void> {
    for (const request of await this.cache.keys()) await this.cache.delete(request);
  }
}

// ---- the page's API ----

export interface ModelCacheOptions {
  /** Which store to read (default "auto": the one `load` uses in this browser). */
  store?: ModelCacheChoice;
}

/** Every model `load(url)` has cached for this origin. */
export async function listCachedModels(options: ModelCacheOptions = {}): Promise<CachedModel[]> {
  const cache = await openModelCache(options.store ?? "auto");
  return cache ? cache.list() : [];
}

/** Removes the cached copy of the model at `url` (relative URLs resolve against the page); false when none was cached. */
export async function deleteCachedModel(url: string | URL, options: ModelCacheOptions = {}): Promise<boolean> {
  const cache = await openModelCache(options.store ?? "auto");
  return cache ? cache.delete(absoluteUrl(url)) : false;
}

/** Removes every cached model (and any partial download left by a closed tab). */
export async function clearModelCache(options: ModelCacheOptions = {}): Promise<void> {
  const cache = await openModelCache(options.store ?? "auto");
  await cache?.clear();
}
