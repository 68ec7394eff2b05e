/**
 * Model names and the on-disk cache of models fetched from the Hugging Face Hub, for Node.
 *
 * A name is `hf:OWNER/REPO[@REVISION][:FILE]`. The cache root is $BITNET_CACHE, else $XDG_CACHE_HOME/bitnet-ts,
 * else ~/.cache/bitnet-ts; under it, one folder per repository:
 *
 *   hub/OWNER--REPO/refs/REVISION            the commit a revision resolved to (text)
 *   hub/OWNER--REPO/snapshots/COMMIT/FILE    the files, complete and verified (size and SHA-256 or git blob SHA-1)
 *   hub/OWNER--REPO/snapshots/COMMIT/.FILE.incomplete   a partial download, resumed with a Range request
 *   hub/OWNER--REPO/snapshots/COMMIT/.bitnet-manifest.json  which files make the model, their sizes and hashes
 * A file appears under its name only by an atomic rename after its check, so a name in a snapshot is always whole.
 * This file holds names, paths, listing and removal; download.ts and resolve.ts do the network part.
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../../errors.ts";

export interface HubName {
  owner: string;
  repo: string;
  /** A branch, tag or commit; default "main". */
  revision: string;
  /** A file inside the repository, when the name gives one. */
  file?: string;
}

const PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

export function isHubName(s: string): boolean {
  return s.startsWith("hf:");
}

/** Parses `hf:OWNER/REPO[@REVISION][:FILE]`; a malformed name is an InvalidArgumentError naming it. */
export function parseHubName(name: string): HubName {
  const bad = (why: string) => new InvalidArgumentError(`${JSON.stringify(name.slice(0, 200))}: not a Hub model name (${why}); expected hf:OWNER/REPO[@REVISION][:FILE]`);
  if (!isHubName(name)) throw bad("it does not start with hf:");
  const rest = name.slice(3);
  const colon = rest.indexOf(":");
  const repoPart = colon < 0 ? rest : rest.slice(0, colon);
  const file = colon < 0 ? undefined : rest.slice(colon + 1);
  const at = repoPart.indexOf("@");
  const id = at < 0 ? repoPart : repoPart.slice(0, at);
  const revision = at < 0 ? "main" : repoPart.slice(at + 1);
  const [owner, repo, ...extra] = id.split("/");
  if (extra.length > 0 || !owner || !repo || !PART.test(owner) || !PART.test(repo) || repo.includes("..")) throw bad("OWNER/REPO");
  if (!REVISION.test(revision) || revision.includes("..")) throw bad("REVISION");
  if (file !== undefined && !isSafeRepoPath(file)) throw bad("FILE");
  return { owner, repo, revision, file };
}

/** A path inside a repository that cannot leave the snapshot folder. */
export function isSafeRepoPath(p: string): boolean {
  if (p.length === 0 || p.length > 512 || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((seg) => seg.length > 0 && seg !== "." && seg !== ".." && !seg.startsWith(".bitnet-") && !seg.endsWith(".incomplete"));
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BITNET_CACHE) return env.BITNET_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "bitnet-ts");
  return join(homedir(), ".cache", "bitnet-ts");
}

export function repoDir(root: string, n: Pick<HubName, "owner" | "repo">): string {
  return join(root, "hub", `${n.owner}--${n.repo}`);
}

export const MANIFEST = ".bitnet-manifest.json";

export interface ManifestFile {
  path: string;
  size: number;
  /** SHA-256 of an LFS file, or undefined. */
  sha256?: string;
  /** git blob SHA-1 of a small file, or undefined. */
  gitSha1?: string;
}

export interface Manifest {
  repo: string;
  revision: string;
  commit: string;
  /** What the name resolves to: a GGUF file or the checkpoint directory (the snapshot itself). */
  entry: string;
  files: ManifestFile[];
}

export interface CachedModel {
  /** `OWNER/REPO`. */
  repo: string;
  commit: string;
  /** Revisions (refs) that point at this commit. */
  revisions: string[];
  /** The GGUF file or directory `-m hf:…` loads. */
  path: string;
  /** Bytes of the complete files. */
  bytes: number;
  files: number;
  /** Whether every file of the manifest is present. */
  complete: boolean;
}

export async function readManifest(snapshot: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(snapshot, MANIFEST), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

async function fileSize(p: string): Promise<number | undefined> {
  return stat(p).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
}

/** Whether every file a manifest lists is present with its size. */
export async function manifestComplete(snapshot: string, m: Manifest): Promise<boolean> {
  for (const f of m.files) if ((await fileSize(join(snapshot, f.path))) !== f.size) return false;
  return true;
}

/** Every model in the cache, by repository and commit. */
export async function listCachedModels(root = cacheRoot()): Promise<CachedModel[]> {
  const hub = join(root, "hub");
  const repos = await readdir(hub).catch(() => [] as string[]);
  const out: CachedModel[] = [];
  for (const r of repos.sort()) {
    const dir = join(hub, r);
    const refs = new Map<string, string[]>();
    for (const ref of await readdir(join(dir, "refs")).catch(() => [] as string[])) {
      const commit = (await readFile(join(dir, "refs", ref), "utf8").catch(() => "")).trim();
      refs.set(commit, [...(refs.get(commit) ?? []), ref]);
    }
    for (const commit of await readdir(join(dir, "snapshots")).catch(() => [] as string[])) {
      const snap = join(dir, "snapshots", commit);
      const m = await readManifest(snap);
      if (!m) continue;
      let bytes = 0;
      let files = 0;
      for (const f of m.files) {
        const s = await fileSize(join(snap, f.path));
        if (s !== undefined) {
          bytes += s;
          files++;
        }
      }
      out.push({ repo: m.repo, commit, revisions: refs.get(commit) ?? [], path: join(snap, m.entry), bytes, files, complete: files === m.files.length });
    }
  }
  return out;
}

/** Removes a repository (every revision) from the cache; returns the bytes freed, or 0 when it was not cached. */
export async function removeCachedModel(name: string, root = cacheRoot()): Promise<number> {
  const n = parseHubName(name);
  const dir = repoDir(root, n);
  const models = (await listCachedModels(root)).filter((m) => m.repo === `${n.owner}/${n.repo}`);
  if (!(await stat(dir).catch(() => undefined))) return 0;
  await rm(dir, { recursive: true, force: true });
  return models.reduce((s, m) => s + m.bytes, 0);
}
