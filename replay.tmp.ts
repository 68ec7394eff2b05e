import { readFileSync } from "node:fs";
import { runCase } from "./fuzz/target.ts";
const p = process.argv[2];
console.log(await runCase({ kind: p.endsWith(".gguf") ? "gguf" : "safetensors", checkpoint: p.includes("ckpt"), bytes: new Uint8Array(readFileSync(p)) }));
