/**
 * Opens a model given by URL in the engine's worker, through the model cache (model-cache.ts):
 *
 *   cache "use"         (default) a cached copy is read from disk with no request at all; otherwise the
 *                       model is downloaded, stored, and read back from the store;
 *   cache "revalidate"  a cached copy is used if the server answers 304 to If-None-Match (its ETag) or
 *                       If-Modified-Since; otherwise the new download replaces it;
 *   cache "reload"      always downloads, replacing the cached copy;
 *   cache "off"         downloads into memory, neither reading nor writing the cache.
 *
 * A download that cannot be stored (no storage API, quota, a lock held by another tab) is still loaded,
 * from memory, and `cacheError` says why it was not kept. Downloads bypass the HTTP cache: the model
 * cache is the one copy. Not here: the stores themselves (model-cache.ts), parsing the model.
 */
import { BitNetError, InvalidArgumentError } from "../errors.ts";
import { blobSource, bufferSource, type ByteSource } from "../formats/source.ts";
import { expectedSize, openModelCache, pumpBody, type ModelCache, type ModelCacheChoice } from "./model-cache.ts";
import type { WebCacheMode, WebLoadProgressEvent } from "./protocol.ts";

export interface OpenedModel {
  source: ByteSource;
  /** Where the bytes came from. */
  from: "cache" | "network";
  /** The cache that holds the model now (to forget it if it turns out not to load), or null. */
  cache: ModelCache | null;
  /** Why a downloaded model was not kept in the cache, or null. */
  cacheError: string | null;
}

const MODES: readonly WebCacheMode[] = ["use", "revalidate", "reload", "off"];

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

export async function openModelUrl(
  url: string,
  file: string,
  mode: WebCacheMode,
  store: ModelCacheChoice,
  onProgress: (e: WebLoadProgressEvent) => void,
): Promise<OpenedModel> {
  if (!MODES.includes(mode)) throw new InvalidArgumentError(`cache must be one of ${MODES.map((m) => `"${m}"`).join(", ")}, got ${JSON.stringify(mode)}`);
  let cache: ModelCache | null = null;
  let cacheError: string | null = null;
  if (mode !== "off") {
    try {
      cache = await openModelCache(store);
      if (!cache) cacheError = "this page has no storage for a model cache (no Origin Private File System, no Cache API)";
    } catch (e) {
      cacheError = oneLine(e);
    }
  }
  const hit = cache && (mode === "use" || mode === "revalidate") ? await cache.get(url) : null;
  const fromCache = (blob: Blob, size: number): OpenedModel => {
    onProgress({ phase: "cache", file, totalBytes: size });
    return { source: blobSource(blob, file), from: "cache", cache, cacheError: null };
  };
  if (hit && mode === "use") return fromCache(hit.blob, hit.entry.size);

  const headers: Record<string, string> = {};
  if (hit?.entry.etag) headers["if-none-match"] = hit.entry.etag;
  else if (hit?.entry.lastModified) headers["if-modified-since"] = hit.entry.lastModified;
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store", headers });
  } catch (e) {
    throw new BitNetError(`${file}: cannot download the model (${oneLine(e)})`);
  }
  if (hit && response.status === 304) {
    await response.body?.cancel();
    return fromCache(hit.blob, hit.entry.size);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new BitNetError(`${file}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`);
  }
  const total = expectedSize(response);
  // One event per chunk would be thousands of messages for a large model: at most one per 50 ms, and the last.
  let last = -Infinity;
  const onBytes = (loadedBytes: number): void => {
    const now = performance.now();
    if (now - last < 50 && loadedBytes !== total) return;
    last = now;
    onProgress({ phase: "download", file, loadedBytes, totalBytes: total });
  };
  onBytes(0);

  if (cache) {
    const room = await freeBytes();
    if (total !== null && room !== null && total > room) {
      cacheError = `not enough storage to cache the model (${total} bytes, ${room} free)`;
    } else {
      try {
        const stored = await cache.put(url, response, onBytes);
        return { source: blobSource(stored.blob, file), from: "network", cache, cacheError: null };
      } catch (e) {
        // A store that failed before reading the body (a lock, a missing API) costs the cache, not the load.
        if (response.bodyUsed) throw e;
        cacheError = oneLine(e);
      }
    }
  }
  const chunks: Uint8Array[] = [];
  const size = await pumpBody(file, response, (chunk) => void chunks.push(chunk), onBytes);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { source: bufferSource(bytes, file), from: "network", cache: null, cacheError };
}

/** Bytes the origin may still store, or null when the browser does not say. */
async function freeBytes(): Promise<number | null> {
  try {
    const { quota, usage } = await navigator.storage.estimate();
    return quota !== undefined && usage !== undefined ? quota - usage : null;
  } catch {
    return null;
  }
}
