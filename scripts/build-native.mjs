#!/usr/bin/env node
// Builds the native kernel addon (native/ → build/Release/bitnet_native.node) with node-gyp: npm's own
// copy (npm exposes its path as npm_config_node_gyp to install scripts), else one found next to npm or in
// node_modules. Plain JavaScript, because it runs at `npm install`, before anything else is built.
//
// It never fails the install: without a C compiler, Python or Node's headers, it prints one line and
// exits 0, and bitnet-ts uses its WebAssembly kernels. The full build output then sits in
// build/native-build.log; `--verbose` (npm run build:native) shows it as it runs.
// BITNET_SKIP_NATIVE=1 skips the build.
//
// Headers: node-gyp takes them from `nodedir` (this machine's npmrc sets it); when nothing sets it, the
// running Node's own include/node directory is used if it has one, so that nothing is downloaded.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const verbose = process.argv.includes("--verbose");
const notice = (why) => console.log(`bitnet-ts: native kernels not built (${why}); the WebAssembly kernels will be used instead.`);

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  try {
    candidates.push(createRequire(join(root, "package.json")).resolve("node-gyp/bin/node-gyp.js"));
  } catch {
    // not installed as a package: fine
  }
  // npm installed globally next to this Node, or the system's
  candidates.push(join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  candidates.push("/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js", "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js");
  return candidates.find((p) => existsSync(p)) ?? null;
}

function main() {
  if (process.env.BITNET_SKIP_NATIVE) return notice("BITNET_SKIP_NATIVE is set");
  const gyp = findNodeGyp();
  if (!gyp) return notice("node-gyp was not found");
  const args = [gyp, "rebuild", "--jobs=max"];
  if (!process.env.npm_config_nodedir) {
    const prefix = join(dirname(process.execPath), "..");
    if (existsSync(join(prefix, "include", "node", "node_api.h"))) args.push(`--nodedir=${prefix}`);
  }
  const run = spawnSync(process.execPath, args, { cwd: root, stdio: verbose ? "inherit" : "pipe", encoding: "utf8", env: process.env });
  const log = `${run.stdout ?? ""}${run.stderr ?? ""}`;
  if (!verbose) {
    mkdirSync(join(root, "build"), { recursive: true });
    writeFileSync(join(root, "build", "native-build.log"), log);
  }
  if (run.error) return notice(run.error.message);
  if (run.status !== 0) {
    const first = log.split("\n").find((l) => /error|not found|ERR!/i.test(l)) ?? `node-gyp exited with ${run.status}`;
    return notice(`${first.trim().slice(0, 200)}; see build/native-build.log`);
  }
  if (verbose || process.env.npm_config_loglevel === "verbose") console.log("bitnet-ts: native kernels built (build/Release/bitnet_native.node)");
}

main();
