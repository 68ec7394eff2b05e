/**
 * One file from the Hugging Face Hub into the cache, for Node: streamed to `.FILE.incomplete` next to its final
 * name, resumed with an HTTP Range request after a dropped connection (here, up to a few times, and on the next
 * run), checked against the Hub's metadata (size, then SHA-256 for LFS files or the git blob SHA-1 for small
 * ones), and only then renamed into place. A file that fails its check is deleted, never left behind.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { BitNetError, InvalidFileError } from "../../errors.ts";
import type { ManifestFile } from "./cache.ts";

export interface HubProgressEvent {
  phase: "download";
  /** `OWNER/REPO/FILE`. */
  file: string;
  loadedBytes: number;
  totalBytes: number;
}

/** The Hub or the network failed (no answer, or a 5xx): the caller may fall back to the cache. */
export class HubUnavailableError extends BitNetError {
  override readonly code: string = "ERR_BITNET_HUB_UNAVAILABLE";
}

const RETRIES = 3;

export function authHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const token = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function hubFetch(url: string, what: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string>) }, redirect: "follow" });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = (err as Error).name === "TimeoutError" ? "no answer within the time limit" : (cause?.code ?? cause?.message ?? (err as Error).message);
    throw new HubUnavailableError(`${what}: cannot reach ${new URL(url).origin} (${reason})`, { cause: err });
  }
  if (res.status >= 500) throw new HubUnavailableError(`${what}: ${new URL(url).origin} answered HTTP ${res.status}`);
  return res;
}

async function sizeOf(p: string): Promise<number> {
  return stat(p).then(
    (s) => s.size,
    () => 0,
  );
}

async function digest(p: string, f: ManifestFile): Promise<{ kind: string; expected: string; got: string } | undefined> {
  if (f.sha256) {
    const h = createHash("sha256");
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
    return { kind: "SHA-256", expected: f.sha256.toLowerCase(), got: h.digest("hex") };
  }
  if (f.gitSha1) {
    const h = createHash("sha1");
    h.update(`blob ${f.size}\0`);
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
    return { kind: "git SHA-1", expected: f.gitSha1.toLowerCase(), got: h.digest("hex") };
  }
  return undefined;
}

/**
 * Makes `snapshot/f.path` the verified file at `url` (a resolve URL pinned to a commit). `what` names it in
 * messages and progress (`OWNER/REPO/FILE`).
 */
export async function downloadFile(url: string, snapshot: string, f: ManifestFile, what: string, onProgress?: (e: HubProgressEvent) => void): Promise<void> {
  const final = join(snapshot, f.path);
  if ((await sizeOf(final)) === f.size && (await stat(final).catch(() => undefined))?.isFile()) return;
  await mkdir(dirname(final), { recursive: true });
  const partial = join(dirname(final), `.${basename(final)}.incomplete`);
  for (let attempt = 0; ; attempt++) {
    let have = await sizeOf(partial);
    if (have > f.size) {
      await rm(partial, { force: true });
      have = 0;
    }
    if (have < f.size || f.size === 0) {
      try {
        have = await fetchInto(url, partial, have, f.size, what, onProgress);
      } catch (err) {
        // A connection dropped mid-body: what arrived stays in the partial file and the next try resumes it.
        if (err instanceof HubUnavailableError) {
          if (attempt + 1 < RETRIES) continue;
          throw err;
        }
        await rm(partial, { force: true });
        throw err;
      }
    }
    if (have !== f.size) {
      if (attempt + 1 < RETRIES) continue;
      throw new HubUnavailableError(`${what}: the download stopped at ${have} of ${f.size} bytes; run the command again to resume it`);
    }
    break;
  }
  const check = await digest(partial, f);
  if (check && check.got !== check.expected) {
    await rm(partial, { force: true });
    throw new InvalidFileError(`${what}: ${check.kind} is ${check.got}, but the Hub says ${check.expected}; the download was deleted`);
  }
  await rename(partial, final);
}

/** Appends the bytes from `have` on to `partial`; returns its new size. */
async function fetchInto(url: string, partial: string, have: number, size: number, what: string, onProgress?: (e: HubProgressEvent) => void): Promise<number> {
  const res = await hubFetch(url, what, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
  if (res.status === 416 && have === size) return have;
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new InvalidFileError(`${what}: the Hub answered HTTP ${res.status}${res.status === 401 || res.status === 403 ? " (a gated or private repository needs HF_TOKEN)" : res.status === 404 ? " (no such file or revision)" : ""}`);
  }
  const append = res.status === 206;
  if (append) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    if (!range || Number(range[1]) !== have) {
      await res.body?.cancel();
      throw new InvalidFileError(`${what}: the Hub answered a range request with Content-Range ${JSON.stringify(res.headers.get("content-range"))}, not bytes ${have}-`);
    }
  }
  let at = append ? have : 0;
  const fh = await open(partial, append ? "a" : "w");
  try {
    if (!res.body) return at;
    const reader = res.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw new HubUnavailableError(`${what}: the connection dropped at byte ${at} of ${size} (${(err as Error).message})`, { cause: err });
      }
      if (chunk.done) break;
      if (at + chunk.value.byteLength > size) {
        await reader.cancel();
        throw new InvalidFileError(`${what}: the Hub sent more than the ${size} bytes its metadata gives`);
      }
      await fh.write(chunk.value);
      at += chunk.value.byteLength;
      onProgress?.({ phase: "download", file: what, loadedBytes: at, totalBytes: size });
    }
  } finally {
    await fh.close();
  }
  return at;
}
