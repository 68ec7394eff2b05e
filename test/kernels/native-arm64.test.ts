// The arm64 kernel sets (NEON, NEON with dotprod), which no test machine here runs natively: the C
// sources are cross-compiled with aarch64-linux-gnu-gcc (as binding.gyp compiles them) together with
// native/check_kernels.c, which holds every set the (emulated) CPU runs to the portable kernels (ternary
// and Q8_0 bit for bit, attention within 1e-5 and the same bits in chunks, float matmuls within their
// bound and batch-invariant), then run under qemu-aarch64 with a CPU that has dotprod and one that has
// not. Skipped where the cross toolchain or qemu is missing (Debian: gcc-aarch64-linux-gnu
// libc6-dev-arm64-cross qemu-user).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NATIVE = new URL("../../native/", import.meta.url).pathname;
const has = (cmd: string, arg: string) => spawnSync(cmd, [arg], { stdio: "ignore" }).status === 0;
const tools = has("aarch64-linux-gnu-gcc", "--version") && has("qemu-aarch64", "--version");

const BASE = ["check_kernels", "jobs", "pool", "cpu", "ops", "prep", "ternary_generic", "float_generic", "q8_generic", "attention_generic", "ternary_neon", "float_neon", "q8_neon", "attention_neon"];
const DOTPROD = ["ternary_neondot", "q8_neondot"];
const FLAGS = ["-std=gnu11", "-O2", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-psabi", "-DBN_ARM_SETS"];

test("arm64: the NEON kernel sets compile warning-free and agree with the portable kernels under qemu", { skip: !tools && "no aarch64 cross compiler or qemu-aarch64", timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "bitnet-arm64-"));
  try {
    const objects: string[] = [];
    for (const f of [...BASE, ...DOTPROD]) {
      const o = join(dir, `${f}.o`);
      const extra = DOTPROD.includes(f) ? ["-march=armv8.2-a+dotprod"] : [];
      execFileSync("aarch64-linux-gnu-gcc", [...FLAGS, ...extra, "-c", join(NATIVE, `${f}.c`), "-o", o], { stdio: "pipe" });
      objects.push(o);
    }
    const exe = join(dir, "check_kernels");
    execFileSync("aarch64-linux-gnu-gcc", ["-static", ...objects, "-o", exe, "-lpthread", "-lm"], { stdio: "pipe" });
    // "max" has dotprod; cortex-a53 (ARMv8.0) has not, so only the NEON and portable sets run there
    for (const [cpu, sets] of [["max", ["neondot", "neon", "generic"]], ["cortex-a53", ["neon", "generic"]]] as const) {
      const run = spawnSync("qemu-aarch64", ["-cpu", cpu, exe], { encoding: "utf8" });
      assert.equal(run.status, 0, `${cpu}: ${run.stdout}${run.stderr}`);
      const names = run.stdout.trim().split("\n").map((l) => l.split(":")[0]);
      assert.deepEqual(names, sets, `${cpu}: ${run.stdout}`);
      assert.match(run.stdout, /neon: agrees with the portable kernels/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
