/**
 * The fuzz worker: runs the cases the harness sends, one at a time, reporting the stage it is in before
 * each (so a hang or a blowup can be placed) and the result after. It runs under resourceLimits set by
 * the harness, which also times it and terminates it when a case hangs.
 */
import { parentPort } from "node:worker_threads";
import { runCase, type CaseInput } from "./target.ts";

interface Job extends CaseInput {
  id: number;
}

const port = parentPort;
if (!port) throw new Error("fuzz/worker.ts runs as a worker thread");
port.on("message", (job: Job) => {
  void runCase(job, (stage) => port.postMessage({ id: job.id, stage })).then((result) => port.postMessage({ id: job.id, result }));
});
