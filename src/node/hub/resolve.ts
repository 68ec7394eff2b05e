/**
 * `hf:OWNER/REPO[@REVISION][:FILE]` → a local path, for Node: asks the Hub which commit the revision is and what
 * files it holds (`GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true`: sizes, LFS SHA-256s, git blob ids),
 * picks what to fetch, downloads each file from `{endpoint}/{repo}/resolve/{commit}/{file}` into the cache
 * (download.ts), and returns the GGUF file or the checkpoint directory. Without FILE it takes the repository's
 * only GGUF file, else its safetensors checkpoint (config, tokenizer files, weights).
 * Offline (HF_HUB_OFFLINE=1, or when the Hub cannot be reached) it uses what the cache holds for that revision,
 * and says in one line when that is nothing. The endpoint is $HF_ENDPOINT (tests point it at a local server).
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError, InvalidFileError, UnsupportedModelError } from "../../errors.ts";
import { cacheRoot, isHubName, isSafeRepoPath, manifestComplete, MANIFEST, parseHubName, readManifest, repoDir, type HubName, type Manifest, type ManifestFile } from "./cache.ts";
import { downloadFile, hubFetch, HubUnavailableError, type HubProgressEvent } from "./download.ts";

export { isHubName, type HubProgressEvent };

export const DEFAULT_ENDPOINT = "https://huggingface.co";
const API_TIMEOUT_MS = 30_000;

export interface ResolveOptions {
  onProgress?: (e: HubProgressEvent) => void;
  env?: NodeJS.ProcessEnv;
}

/** Files of a safetensors checkpoint besides the weights; those present are fetched. */
const CHECKPOINT_FILES = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"];

interface Sibling {
  rfilename: string;
  size?: number;
  blobId?: string;
  lfs?: { size?: number; sha256?: string };
}

function endpoint(env: NodeJS.ProcessEnv): string {
  return (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

function offline(env: NodeJS.ProcessEnv): boolean {
  const v = (env.HF_HUB_OFFLINE ?? "").toLowerCase();
  return v === "1" || v === "true" || v === "yes" || v === "on";
}

function fileOf(s: Sibling, what: string): ManifestFile {
  const size = s.lfs?.size ?? s.size;
  if (!Number.isSafeInteger(size) || (size as number) < 0) throw new InvalidFileError(`${what}: the Hub's metadata gives no size for '${s.rfilename}'`);
  const sha256 = typeof s.lfs?.sha256 === "string" && /^[0-9a-f]{64}$/i.test(s.lfs.sha256) ? s.lfs.sha256 : undefined;
  const gitSha1 = !s.lfs && typeof s.blobId === "string" && /^[0-9a-f]{40}$/i.test(s.blobId) ? s.blobId : undefined;
  if (!sha256 && !gitSha1) throw new InvalidFileError(`${what}: the Hub's metadata gives no SHA-256 or blob id for '${s.rfilename}', so it cannot be checked`);
  return { path: s.rfilename, size: size as number, sha256, gitSha1 };
}

/** Which files to fetch, and what the name resolves to. */
function choose(n: HubName, siblings: Sibling[], what: string): { entry: string; files: Sibling[]; needsIndex?: Sibling } {
  const byName = new Map(siblings.map((s) => [s.rfilename, s]));
  if (n.file !== undefined) {
    const s = byName.get(n.file);
    if (!s) throw new InvalidFileError(`${what}: the repository has no file '${n.file}'`);
    return { entry: n.file, files: [s] };
  }
  const ggufs = siblings.filter((s) => s.rfilename.toLowerCase().endsWith(".gguf"));
  if (ggufs.length === 1) return { entry: ggufs[0].rfilename, files: ggufs };
  if (byName.has("config.json")) {
    const files = CHECKPOINT_FILES.map((f) => byName.get(f)).filter((s): s is Sibling => s !== undefined);
    const index = byName.get("model.safetensors.index.json");
    const single = byName.get("model.safetensors");
    if (index) return { entry: ".", files: [...files, index], needsIndex: index };
    if (single) return { entry: ".", files: [...files, single] };
    throw new UnsupportedModelError(`${what}: the repository has config.json but no model.safetensors or model.safetensors.index.json`);
  }
  if (ggufs.length > 1) {
    throw new InvalidArgumentError(`${what}: the repository has ${ggufs.length} GGUF files; name one, e.g. hf:${n.owner}/${n.repo}:${ggufs[0].rfilename} (${ggufs.map((g) => g.rfilename).slice(0, 6).join(", ")}${ggufs.length > 6 ? ", …" : ""})`);
  }
  throw new UnsupportedModelError(`${what}: the repository has neither a GGUF file nor a safetensors checkpoint (config.json)`);
}

async function readRef(dir: string, revision: string): Promise<string | undefined> {
  const commit = (await readFile(join(dir, "refs", revision.replaceAll("/", "--")), "utf8").catch(() => "")).trim();
  return /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
}

async function fromCache(n: HubName, root: string, what: string, why: string): Promise<string> {
  const dir = repoDir(root, n);
  const commit = /^[0-9a-f]{40}$/.test(n.revision) ? n.revision : await readRef(dir, n.revision);
  const snap = commit ? join(dir, "snapshots", commit) : undefined;
  const m = snap ? await readManifest(snap) : undefined;
  const wanted = m && (n.file === undefined || m.files.some((f) => f.path === n.file));
  if (snap && m && wanted && (await manifestComplete(snap, m))) return join(snap, n.file ?? m.entry);
  throw new HubUnavailableError(`${what}: ${why}, and the cache (${root}) does not hold it${m ? " complete; run 'bitnet pull' online to finish it" : "; run 'bitnet pull' once online"}`);
}

/** Fetches (or finds in the cache) the model `name` names; returns the GGUF file or checkpoint directory path. */
export async function resolveHubModel(name: string, options: ResolveOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const n = parseHubName(name);
  const root = cacheRoot(env);
  const what = `hf:${n.owner}/${n.repo}`;
  if (offline(env)) return fromCache(n, root, name, "HF_HUB_OFFLINE is set");
  const base = endpoint(env);
  const repoPath = `${n.owner}/${n.repo}`;
  let info: { sha?: unknown; siblings?: unknown };
  try {
    // A network that drops packets instead of refusing them must not hang the command: give up on the Hub after 30 s.
    const res = await hubFetch(`${base}/api/models/${repoPath}/revision/${encodeURIComponent(n.revision)}?blobs=true`, what, { signal: AbortSignal.timeout(API_TIMEOUT_MS) });
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      await res.body?.cancel();
      throw new InvalidFileError(`${what}: the Hub answered HTTP ${res.status} for revision '${n.revision}' (${res.status === 404 ? "no such repository or revision" : "a gated or private repository needs HF_TOKEN"})`);
    }
    if (!res.ok) throw new HubUnavailableError(`${what}: the Hub answered HTTP ${res.status}`);
    info = (await res.json()) as typeof info;
  } catch (err) {
    if (err instanceof HubUnavailableError) return fromCache(n, root, name, err.message.replace(`${what}: `, ""));
    if (err instanceof SyntaxError) throw new InvalidFileError(`${what}: the Hub's answer is not JSON`);
    throw err;
  }
  const commit = typeof info.sha === "string" && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : undefined;
  if (!commit) throw new InvalidFileError(`${what}: the Hub's answer has no commit sha`);
  if (!Array.isArray(info.siblings)) throw new InvalidFileError(`${what}: the Hub's answer has no file list`);
  const siblings = (info.siblings as Sibling[]).filter((s) => s && typeof s.rfilename === "string" && isSafeRepoPath(s.rfilename));

  const dir = repoDir(root, n);
  const snap = join(dir, "snapshots", commit);
  await mkdir(snap, { recursive: true });
  const chosen = choose(n, siblings, what);
  const resolveUrl = (file: string) => `${base}/${repoPath}/resolve/${commit}/${file.split("/").map(encodeURIComponent).join("/")}`;
  const files = chosen.files.map((s) => fileOf(s, what));
  const get = (f: ManifestFile) => downloadFile(resolveUrl(f.path), snap, f, `${what}/${f.path}`, options.onProgress);
  // The shards come from the index, which must be fetched first.
  for (const f of files) if (chosen.needsIndex && f.path === chosen.needsIndex.rfilename) await get(f);
  if (chosen.needsIndex) {
    const index = JSON.parse(await readFile(join(snap, chosen.needsIndex.rfilename), "utf8")) as { weight_map?: Record<string, unknown> };
    const shards = new Set(Object.values(index.weight_map ?? {}).filter((v): v is string => typeof v === "string"));
    for (const shard of shards) {
      const s = siblings.find((x) => x.rfilename === shard);
      if (!s) throw new InvalidFileError(`${what}/${chosen.needsIndex.rfilename}: shard '${shard}' is not in the repository`);
      files.push(fileOf(s, what));
    }
  }
  const manifest: Manifest = { repo: repoPath, revision: n.revision, commit, entry: chosen.entry, files };
  const prior = await readManifest(snap);
  const merged: Manifest = prior ? { ...manifest, entry: n.file === undefined ? manifest.entry : prior.entry, files: [...prior.files.filter((p) => !files.some((f) => f.path === p.path)), ...files] } : manifest;
  await writeAtomic(join(snap, MANIFEST), JSON.stringify(merged, null, 1));
  for (const f of files) await get(f);
  await mkdir(join(dir, "refs"), { recursive: true });
  await writeAtomic(join(dir, "refs", n.revision.replaceAll("/", "--")), commit);
  return join(snap, chosen.entry);
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
