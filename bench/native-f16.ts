/**
 * A model over WebAssembly's 4 GiB on the native kernels: BitNet b1.58 2B4T's shape with F16 weights
 * everywhere (the FP baseline: 4.5 GiB of weights), random, written once under os.tmpdir() by
 * bench/models.ts. It loads the file with the native kernels (each tensor its own buffer), prints load
 * time, resident memory and a few decode steps, then checks the logits of a 3-token prompt against the
 * reference kernels (slow: about 20 s). A check to run by hand, not a test: it needs about 10 GB.
 *
 *   node_modules/.bin/node --import tsx bench/native-f16.ts [--threads N]
 */
import { parseArgs } from "node:util";
import { loadModel } from "../src/index.ts";
import { refKernels } from "../src/kernels/ref.ts";
import { createNativeKernels } from "../src/node/native/kernels.ts";
import { benchSpec, ensureModel } from "./models.ts";

const { values: args } = parseArgs({ options: { threads: { type: "string", default: "2" } } });
const GiB = 2 ** 30;
const path = await ensureModel(benchSpec({ layers: 30, vocab: 128256 }, "f16"));
const kernels = await createNativeKernels({ threads: Number(args.threads) });
let t0 = performance.now();
const model = await loadModel(path, { kernels, contextLength: 64, batchSize: 8 });
const weightBytes = model.file.tensors.reduce((s, t) => s + t.byteSize, 0);
console.log(`${path}: ${(weightBytes / GiB).toFixed(2)} GiB of weights loaded with ${model.backend} ×${args.threads} in ${((performance.now() - t0) / 1000).toFixed(1)} s, rss ${(process.memoryUsage().rss / GiB).toFixed(2)} GiB`);
const prompt = [1, 5, 9];
const got = model.logits(prompt);
t0 = performance.now();
for (let i = 0; i < 8; i++) model.step(11 + i);
console.log(`decode: ${(8000 / (performance.now() - t0)).toFixed(2)} tok/s`);
await model.dispose();
await kernels.close();

const ref = await loadModel(path, { kernels: refKernels, contextLength: 64, batchSize: 8 });
const want = ref.logits(prompt);
await ref.dispose();
let scale = 0, worst = 0;
for (let i = 0; i < want.length; i++) {
  scale = Math.max(scale, Math.abs(want[i]));
  worst = Math.max(worst, Math.abs(got[i] - want[i]));
}
const argmax = (a: Float32Array) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
console.log(`against the reference kernels: max |Δlogit| ${worst.toExponential(2)} (max |logit| ${scale.toFixed(2)}), argmax ${argmax(got)} and ${argmax(want)}`);
if (worst > 1e-4 * scale || argmax(got) !== argmax(want)) process.exitCode = 1;
