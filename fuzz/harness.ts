/**
 * The fuzzing harness: makes `cases` mutated files from the seeds (seeds.ts, mutate-*.ts), runs each in a
 * worker thread (worker.ts, target.ts) under a time limit (a hung worker is terminated and replaced) and a
 * memory limit (the worker's heap limit, and the process's resident memory watched from here), counts the
 * outcomes (accepted, clean error, crash, hang, blowup), re-runs every failure alone to confirm it, and
 * shrinks the first file of each distinct failure (truncation, then removing and zeroing chunks) into a
 * reproducer in `outDir`. Everything is deterministic in `seed`, so `case` numbers can be replayed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { ggufLayout, GGUF_MUTATIONS, type GGUFLayout } from "./mutate-gguf.ts";
import { SAFETENSORS_MUTATIONS } from "./mutate-safetensors.ts";
import { caseSeed, random } from "./random.ts";
import { buildSeeds, type Seed } from "./seeds.ts";
import type { CaseResult, Stage } from "./target.ts";

export type Verdict = "accepted" | "clean" | "crash" | "hang" | "blowup";

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Where reproducers and summary.json go; nothing is written when undefined. */
  outDir?: string;
  /** Per case (default 10 s). */
  timeLimitMs?: number;
  /** Heap limit of a worker, and the growth of resident memory during a case that counts as a blowup (default 1024 MiB). */
  memoryLimitMb?: number;
  /** Workers running cases side by side (default 1; memory is then attributed exactly). */
  jobs?: number;
  /** Shrink each distinct failure (default true). */
  shrink?: boolean;
  log?: (line: string) => void;
}

export interface Failure {
  verdict: Verdict;
  signature: string;
  caseIndex: number;
  seedFile: string;
  mutations: string[];
  message: string;
  stage: Stage | "start";
  /** Confirmed by running the case again alone. */
  confirmed: boolean;
  /** Bytes of the original file and of the shrunk reproducer. */
  bytes: number;
  shrunkBytes: number;
  reproducer?: string;
}

export interface FuzzReport {
  cases: number;
  seed: number;
  counts: Record<Verdict, number>;
  /** Clean errors by class (InvalidFileError, TruncatedFileError, ..., or plain Error that names the file). */
  cleanByClass: Record<string, number>;
  /** Failures that did not happen again when the case ran alone (a loaded machine). */
  unconfirmed: number;
  failures: Failure[];
  seconds: number;
}

interface Made {
  seed: Seed;
  mutations: string[];
  bytes: Uint8Array;
}

interface Ran {
  verdict: Verdict;
  stage: Stage | "start";
  result?: CaseResult;
}

/** Case `index`: a seed and one to three mutations, all from the case's own random stream. */
function makeCase(seeds: Seed[], layouts: Map<Seed, GGUFLayout>, runSeed: number, index: number, log: (line: string) => void): Made {
  const r = random(caseSeed(runSeed, index));
  const gguf = seeds.filter((s) => s.kind === "gguf");
  const st = seeds.filter((s) => s.kind === "safetensors");
  const seed = r.chance(0.7) ? r.pick(gguf) : r.pick(st);
  const mutations: string[] = [];
  let bytes = seed.bytes;
  const n = r.pick([1, 1, 1, 2, 2, 3]);
  for (let k = 0; k < n; k++) {
    try {
      bytes = mutateOnce();
    } catch (err) {
      // A bug of the harness, not of the code under test: say so and keep the bytes as they were.
      log(`harness: case ${index}: mutation after ${mutations.join("+") || "none"} failed: ${(err as Error).message}`);
    }
  }
  return { seed, mutations, bytes };

  function mutateOnce(): Uint8Array {
    if (seed.kind === "gguf") {
      const layout = layouts.get(seed) as GGUFLayout;
      // After a mutation that moved bytes, the seed's layout no longer fits; only in-place mutations follow it.
      const names = bytes.length === seed.bytes.length ? Object.keys(GGUF_MUTATIONS) : ["bytes", "truncate", "append"];
      const name = r.pick(names);
      mutations.push(name);
      return GGUF_MUTATIONS[name](r, bytes, layout, r.pick(gguf).bytes);
    }
    const name = mutations.length === 0 ? r.pick(Object.keys(SAFETENSORS_MUTATIONS)) : r.pick(["bytes", "truncate", "append", "data"]);
    mutations.push(name);
    return SAFETENSORS_MUTATIONS[name](r, bytes);
  }
}

/** A worker that runs one case at a time and is replaced when it hangs or dies. */
class Slot {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly timeLimitMs: number;
  private readonly memoryLimitMb: number;

  constructor(timeLimitMs: number, memoryLimitMb: number) {
    this.timeLimitMs = timeLimitMs;
    this.memoryLimitMb = memoryLimitMb;
  }

  private spawn(): Worker {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), {
      execArgv: ["--import", "tsx"], // the worker runs TypeScript sources, as the harness does
      resourceLimits: { maxOldGenerationSizeMb: this.memoryLimitMb, maxYoungGenerationSizeMb: 64 },
      stdout: true,
      stderr: true,
    });
    // What the code under test prints (warnings) is not the fuzzer's output.
    worker.stdout.resume();
    worker.stderr.resume();
    return worker;
  }

  run(made: Made, timeLimitMs = this.timeLimitMs): Promise<Ran> {
    const worker = (this.worker ??= this.spawn());
    const id = this.nextId++;
    const limitBytes = this.memoryLimitMb * 2 ** 20;
    return new Promise((resolve) => {
      let stage: Stage | "start" = "start";
      let settled = false;
      const baseline = process.memoryUsage.rss();
      const finish = (ran: Ran, kill: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(watch);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (kill) {
          this.worker = undefined;
          void worker.terminate();
        }
        resolve(ran);
      };
      const onMessage = (m: { id: number; stage?: Stage; result?: CaseResult }) => {
        if (m.id !== id) return;
        if (m.stage) stage = m.stage;
        if (m.result) finish({ verdict: m.result.outcome, stage: m.result.stage, result: m.result }, false);
      };
      const onError = (err: Error & { code?: string }) => {
        const blowup = err.code === "ERR_WORKER_OUT_OF_MEMORY";
        finish({ verdict: blowup ? "blowup" : "crash", stage, result: { outcome: "crash", stage: stage === "start" ? "read" : stage, error: { name: err.name, message: err.message, frame: "worker died" } } }, true);
      };
      const onExit = () => finish({ verdict: "crash", stage, result: { outcome: "crash", stage: stage === "start" ? "read" : stage, error: { name: "Exit", message: "the worker exited", frame: "" } } }, true);
      const timer = setTimeout(() => finish({ verdict: "hang", stage }, true), timeLimitMs);
      const watch = setInterval(() => {
        if (process.memoryUsage.rss() - baseline > limitBytes) finish({ verdict: "blowup", stage }, true);
      }, 10);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      const copy = made.bytes.slice(); // transferred, so the original stays for shrinking
      worker.postMessage({ id, kind: made.seed.kind, checkpoint: made.seed.checkpoint === true, bytes: copy }, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

const FAILING: readonly Verdict[] = ["crash", "hang", "blowup"];

/** What makes two failures the same: the verdict, the stage, and the error with its specifics blurred. */
export function signature(ran: Ran): string {
  const e = ran.result?.error;
  if (!e || ran.verdict !== "crash") return `${ran.verdict} in ${ran.stage}`;
  const blurred = e.message
    .replace(/fuzz-case\.(gguf|safetensors)/g, "FILE")
    .replace(/'[^']*'|"[^"]*"/g, "'…'")
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, "N")
    .slice(0, 100);
  return `crash in ${ran.stage}: ${e.name}: ${blurred}${e.frame ? ` @ ${e.frame.replace(/:\d+:\d+$/, "")}` : ""}`;
}

/**
 * Smaller bytes that fail the same way, within `budget` tries: the shortest failing prefix (binary
 * search), then large chunks cut out, then chunks zeroed from large to small (a GGUF or safetensors file
 * rarely survives losing bytes in the middle, but zeros show which bytes matter).
 */
async function shrink(slot: Slot, made: Made, sig: string, budget: number, timeLimitMs: number): Promise<Uint8Array> {
  let best = made.bytes;
  let tries = 0;
  const fails = async (bytes: Uint8Array): Promise<boolean> => {
    tries++;
    return signature(await slot.run({ ...made, bytes }, timeLimitMs)) === sig;
  };
  let lo = 0;
  let hi = best.length;
  while (hi - lo > 1 && tries < budget / 4) {
    const mid = (lo + hi) >> 1;
    if (await fails(best.subarray(0, mid))) hi = mid;
    else lo = mid;
  }
  if (hi < best.length) best = best.slice(0, hi);
  for (let chunk = best.length >> 1; chunk >= best.length >> 5 && chunk >= 1 && tries < budget / 2; chunk >>= 1) {
    for (let at = 0; at + chunk <= best.length && tries < budget / 2; ) {
      const cut = new Uint8Array(best.length - chunk);
      cut.set(best.subarray(0, at), 0);
      cut.set(best.subarray(at + chunk), at);
      if (await fails(cut)) best = cut;
      else at += chunk;
    }
  }
  for (let chunk = best.length >> 1; chunk >= 1 && tries < budget; chunk >>= 1) {
    for (let at = 0; at < best.length && tries < budget; at += chunk) {
      if (best.subarray(at, at + chunk).every((b) => b === 0)) continue;
      const zeroed = best.slice();
      zeroed.fill(0, at, at + chunk);
      if (await fails(zeroed)) best = zeroed;
    }
  }
  return best;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const log = options.log ?? (() => undefined);
  const timeLimitMs = options.timeLimitMs ?? 10_000;
  const memoryLimitMb = options.memoryLimitMb ?? 1024;
  const jobs = Math.max(1, options.jobs ?? 1);
  const seeds = await buildSeeds();
  const layouts = new Map<Seed, GGUFLayout>(seeds.filter((s) => s.kind === "gguf").map((s) => [s, ggufLayout(s.bytes)]));
  const counts: Record<Verdict, number> = { accepted: 0, clean: 0, crash: 0, hang: 0, blowup: 0 };
  const cleanByClass: Record<string, number> = {};
  const slots = Array.from({ length: jobs }, () => new Slot(timeLimitMs, memoryLimitMb));
  const suspects: { index: number; made: Made; ran: Ran }[] = [];
  let next = 0;
  let done = 0;
  const progressEvery = Math.max(100, Math.floor(options.cases / 20));
  await Promise.all(
    slots.map(async (slot) => {
      while (next < options.cases) {
        const index = next++;
        const made = makeCase(seeds, layouts, options.seed, index, log);
        const ran = await slot.run(made);
        if (FAILING.includes(ran.verdict)) suspects.push({ index, made, ran });
        else counts[ran.verdict]++;
        const cls = ran.verdict === "clean" ? ran.result?.error?.name : undefined;
        if (cls) cleanByClass[cls] = (cleanByClass[cls] ?? 0) + 1;
        if (++done % progressEvery === 0) log(`${done}/${options.cases} cases: ${JSON.stringify(counts)}, ${suspects.length} failing`);
      }
    }),
  );

  // Confirm each failure alone (a fresh worker), then count it under what it does alone.
  const failures: Failure[] = [];
  const firstOf = new Map<string, { made: Made; failure: Failure }>();
  const alone = new Slot(timeLimitMs, memoryLimitMb);
  let unconfirmed = 0;
  suspects.sort((a, b) => a.index - b.index);
  for (const s of suspects) {
    const again = await alone.run(s.made);
    if (!FAILING.includes(again.verdict)) {
      unconfirmed++;
      counts[again.verdict]++;
      continue;
    }
    counts[again.verdict]++;
    const sig = signature(again);
    if (firstOf.has(sig)) continue;
    const failure: Failure = {
      verdict: again.verdict,
      signature: sig,
      caseIndex: s.index,
      seedFile: s.made.seed.name,
      mutations: s.made.mutations,
      message: again.result?.error ? `${again.result.error.name}: ${again.result.error.message}` : `${again.verdict} in ${again.stage}`,
      stage: again.stage,
      confirmed: true,
      bytes: s.made.bytes.length,
      shrunkBytes: s.made.bytes.length,
    };
    firstOf.set(sig, { made: s.made, failure });
    failures.push(failure);
  }

  if (options.outDir) mkdirSync(options.outDir, { recursive: true });
  for (const [sig, { made, failure }] of firstOf) {
    let bytes = made.bytes;
    if (options.shrink !== false) {
      // A hang costs a full time limit per try: fewer tries, and a shorter limit (it hung for the whole of the first).
      const hang = failure.verdict === "hang";
      bytes = await shrink(alone, made, sig, hang ? 12 : 240, hang ? Math.min(timeLimitMs, 5000) : timeLimitMs);
      failure.shrunkBytes = bytes.length;
    }
    log(`${failure.verdict}: case ${failure.caseIndex} (${failure.seedFile}, ${failure.mutations.join("+")}), ${failure.bytes} -> ${failure.shrunkBytes} bytes: ${sig}`);
    if (options.outDir) {
      const slug = sig.replace(/[^A-Za-z0-9]+/g, "-").slice(0, 60).replace(/-+$/, "");
      const path = join(options.outDir, `case-${failure.caseIndex}-${slug}.${made.seed.checkpoint ? "ckpt." : ""}${made.seed.kind}`);
      writeFileSync(path, bytes);
      writeFileSync(`${path}.txt`, `${JSON.stringify({ ...failure, reproducer: path, seed: options.seed }, null, 2)}\n`);
      failure.reproducer = path;
    }
  }
  await alone.close();
  await Promise.all(slots.map((s) => s.close()));
  const report: FuzzReport = { cases: options.cases, seed: options.seed, counts, cleanByClass, unconfirmed, failures, seconds: (performance.now() - t0) / 1000 };
  if (options.outDir) writeFileSync(join(options.outDir, "summary.json"), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
