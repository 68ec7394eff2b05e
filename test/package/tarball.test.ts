// The package as a user gets it: `npm pack` (which builds dist/ through `prepare`) in a copy of the
// repository, so that the build never rewrites files other tests are reading; the tarball installed into a
// fresh project; then, there:
// - plain `.mjs` imports of `bitnet-ts` under Node 22 and Node 24, loading the embedded model and generating;
// - the packaged `bitnet` command;
// - a `.ts` consumer type-checked by tsc with strict settings (our declarations, never our sources);
// - `bitnet-ts/web` bundled by esbuild for the browser.
// Needs the npm registry (or npm's cache) for the tarball's dependencies and for Node 22.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const repo = join(import.meta.dirname, "..", "..");
const NODE22 = "22.23.3";
const PROMPT = "And God said";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 2 ** 20, timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, cwd, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

const CONSUMER_MJS = `
import { loadModel, defaultModelPath, BitNetError, InvalidFileError } from "bitnet-ts";
const model = await loadModel(defaultModelPath(), { threads: 1 });
let text = "";
for await (const t of model.generate(${JSON.stringify(PROMPT)}, { maxTokens: 8, temperature: 0 })) text += t.text;
const bad = await loadModel(new Uint8Array(64), { threads: 1 }).catch((e) => e);
console.log(JSON.stringify({ node: process.version, backend: model.backend, text, typed: bad instanceof InvalidFileError && bad instanceof BitNetError, message: bad.message }));
await model.dispose();
`;

const CONSUMER_TS = `
import { loadModel, train, type BitNetModel, type GenerateOptions, type TrainRunEvent, ContextOverflowError } from "bitnet-ts";
import { loadModelFrom, refKernels, type Kernels } from "bitnet-ts/core";
import { createBitNetWorker, type BitNetModelInfo } from "bitnet-ts/web";

export async function run(path: string): Promise<string> {
  const options: GenerateOptions = { maxTokens: 4, temperature: 0 };
  const model: BitNetModel = await loadModel(path, { threads: 1 });
  let out = "";
  try {
    for await (const { text } of model.generate("x", options)) out += text;
  } catch (e) {
    if (e instanceof ContextOverflowError) return "overflow";
    throw e;
  }
  const k: Kernels = refKernels;
  await loadModelFrom(new Uint8Array(0), { kernels: k }).catch(() => undefined);
  const seen: TrainRunEvent["type"][] = [];
  void train;
  void seen;
  const info: BitNetModelInfo | null = null;
  void info;
  void createBitNetWorker;
  return out;
}
`;

describe("the packed tarball, installed into a fresh project", { timeout: 900_000 }, () => {
  let work: string;
  let app: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "bitnet-tarball-"));
    // A copy of what npm packs from (and builds with), sharing node_modules.
    const copy = join(work, "repo");
    mkdirSync(copy);
    for (const entry of ["src", "bin", "scripts", "native", "binding.gyp", "models", "data", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "README.md"]) {
      cpSync(join(repo, entry), join(copy, entry), { recursive: true, filter: (f) => !f.includes(`${join("src", "web", "generated")}`) && !f.includes(join("wasm", "generated")) });
    }
    symlinkSync(join(repo, "node_modules"), join(copy, "node_modules"));
    await ok("npm", ["pack", "--pack-destination", work], copy);
    const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");

    app = join(work, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }));
    await ok("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(work, tarball), `node@${NODE22}`], app);
    writeFileSync(join(app, "consumer.mjs"), CONSUMER_MJS);
    writeFileSync(join(app, "consumer.ts"), CONSUMER_TS);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const [label, node] of [["Node 24", () => process.execPath], ["Node 22", () => join(app, "node_modules", ".bin", "node")]] as const) {
    test(`a plain .mjs import generates under ${label}`, async () => {
      const out = JSON.parse(await ok(node(), ["consumer.mjs"], app));
      assert.match(out.node, label === "Node 22" ? /^v22\./ : /^v24\./);
      // The native kernels where the install step could build them (it can here), else WebAssembly.
      assert.match(out.backend, /^(native|wasm)-/);
      assert.ok(out.text.length > 0, "some text was generated");
      assert.equal(out.typed, true, "a bad file is an InvalidFileError");
      assert.match(out.message, /<buffer>: /);
    });
  }

  test("the tarball carries the native sources, and its install step built them or said why not", () => {
    const pkg = join(app, "node_modules", "bitnet-ts");
    for (const f of ["native/api.c", "binding.gyp", "scripts/build-native.mjs", "dist/index.d.ts", "models/bitnet-default.gguf"]) assert.ok(existsSync(join(pkg, f)), f);
    assert.ok(!existsSync(join(pkg, "src")) && !existsSync(join(pkg, "test")), "no sources or tests in the package");
  });

  test("the packaged bitnet command runs the embedded model, and a bad flag is one line", async () => {
    const bin = join(app, "node_modules", ".bin", "bitnet");
    const out = await ok(process.execPath, [bin, "generate", PROMPT, "-n", "8", "--temp", "0"], app);
    assert.ok(out.trim().length > 0);
    const bad = await run(process.execPath, [bin, "generate", PROMPT, "--top-p", "2"], app);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^bitnet: .*--top-p/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });

  test("a TypeScript consumer type-checks against the declarations with strict settings", async () => {
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: false,
          noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, lib: ["ES2023", "DOM"], types: ["node"],
        },
        files: ["consumer.ts"],
      }),
    );
    // @types/node for the declarations that mention Node's types; the tsc of this repository.
    symlinkSync(join(repo, "node_modules", "@types"), join(app, "node_modules", "@types"));
    await ok(process.execPath, [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "."], app);
  });

  test("bitnet-ts/web bundles for the browser with esbuild", async () => {
    writeFileSync(join(app, "page.js"), 'import { createBitNetWorker, InvalidFileError } from "bitnet-ts/web";\nwindow.engine = createBitNetWorker;\nwindow.E = InvalidFileError;\n');
    const result = await build({ entryPoints: [join(app, "page.js")], bundle: true, write: false, platform: "browser", format: "esm", absWorkingDir: app, logLevel: "silent" });
    assert.equal(result.errors.length, 0);
    const text = result.outputFiles[0].text;
    assert.ok(text.length > 100_000, "the engine worker's source is inside");
    assert.doesNotMatch(text, /require\("node:|from "node:/, "no Node module in a browser bundle");
  });
});
