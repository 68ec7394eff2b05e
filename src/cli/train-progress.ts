/**
 * How the training commands show a run's progress events (src/node/train-run.ts): a cli-progress bar on a
 * terminal, otherwise a line every `every` steps; notes and the final summary as lines of their own.
 */
import cliProgress from "cli-progress";
import { fmtDuration, type TrainRunEvent } from "../node/train-run.ts";

export interface ProgressReporter {
  event(e: TrainRunEvent): void;
  stop(): void;
}

/**
 * Without a terminal, a line is printed every `logEvery` steps of the run's config. `label` prefixes every
 * line (e.g. the run's name when several runs share a terminal).
 */
export function progressReporter(label = ""): ProgressReporter {
  const tty = process.stderr.isTTY === true;
  const prefix = label === "" ? "" : `${label} `;
  const bar = tty
    ? new cliProgress.SingleBar(
      { format: `${prefix}train [{bar}] {value}/{total} | loss {loss} | val {val} | {tps} tok/s | ETA {eta_s}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    )
    : undefined;
  let started = false;
  let val = "-";
  let every = 10;
  const line = (text: string): void => {
    if (bar && started) bar.stop();
    started = false;
    process.stdout.write(`${text}\n`);
  };
  return {
    event(e) {
      if (e.type === "note" || e.type === "exported") return line(e.message);
      if (e.type === "config") every = e.config.logEvery;
      if (e.type === "eval") val = e.valLoss.toFixed(3);
      if (e.type !== "step") return;
      if (e.valLoss !== undefined) val = e.valLoss.toFixed(3);
      const m = e.metric;
      const tps = e.tokensPerSecond;
      if (bar) {
        const payload = { loss: m.loss.toFixed(3), val, tps: tps.toFixed(0), eta_s: fmtDuration(e.etaSeconds) };
        if (!started) {
          bar.start(e.totalSteps, m.step, payload);
          started = true;
        } else bar.update(m.step, payload);
      } else if (m.step % every === 0 || m.step === e.totalSteps || e.valLoss !== undefined) {
        const v = e.valLoss !== undefined ? ` val ${e.valLoss.toFixed(4)}` : "";
        process.stdout.write(`${prefix}step ${m.step}/${e.totalSteps} loss ${m.loss.toFixed(4)}${v} lr ${m.lr.toExponential(2)} gnorm ${m.grad_norm.toFixed(3)} ${tps.toFixed(0)} tok/s elapsed ${fmtDuration(m.elapsed_s)} ETA ${fmtDuration(e.etaSeconds)}\n`);
      }
    },
    stop() {
      if (bar && started) bar.stop();
      started = false;
    },
  };
}

/** An AbortSignal that Ctrl-C aborts (a training run then saves a checkpoint and stops), and its cleanup. */
export function abortOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once("SIGINT", onSigint);
  return { signal: abort.signal, dispose: () => process.removeListener("SIGINT", onSigint) };
}
