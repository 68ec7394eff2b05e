/**
 * Progress bars on stderr for long work (model load, conversion), drawn only on a terminal so that
 * piped output and CI logs stay clean.
 */
import cliProgress from "cli-progress";
import type { LoadProgressEvent } from "../model/model.ts";

export interface ByteProgress {
  update(loaded: number, total: number, label?: string): void;
  stop(): void;
}

export function byteProgressBar(title: string): ByteProgress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {percentage}% | {value}/{total} MB | {label}`, stream: process.stderr, clearOnComplete: true, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(loaded, total, label = "") {
      const mb = (n: number) => Math.round(n / 1e5) / 10;
      if (!started) {
        bar.start(mb(total), 0, { label });
        started = true;
      }
      bar.update(mb(loaded), { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function loadProgressBar(): { update: (e: LoadProgressEvent) => void; stop: () => void } {
  const bar = byteProgressBar("loading");
  return {
    update: (e) => {
      if (e.phase === "weights") bar.update(e.loadedBytes, e.totalBytes, e.tensor);
    },
    stop: () => bar.stop(),
  };
}

/** A bar over a count of work items (chunks, task items), on a terminal only; `label` is shown after the count. */
export function countProgressBar(title: string): ByteProgress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {percentage}% | {value}/{total} | {label} | ETA {eta_formatted}`, stream: process.stderr, clearOnComplete: true, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = "") {
      if (!started) {
        bar.start(total, 0, { label });
        started = true;
      }
      bar.update(done, { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
