/**
 * Runs the `bitnet` command from its sources (src/cli/main.ts through tsx, on the pinned Node, from the
 * repository root: what bin/bitnet.js runs once built, without needing a fresh build) and captures its output. Asynchronous, so tests can run several commands at once.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Node's arguments that run the CLI from its sources: prepend them to the command's own. */
export const CLI_ARGS: readonly string[] = ["--import", "tsx", `${repoRoot}src/cli/main.ts`];

export function runCli(args: readonly string[], input?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...CLI_ARGS, ...args], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? "");
  });
}

/** A failed command: exit code 1, exactly one "bitnet: …" line on stderr that mentions `what`, no stack trace. */
export function assertOneLineError(r: CliRun, what: string | RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split("\n").filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^bitnet: /);
  if (typeof what === "string") assert.ok(lines[0].includes(what), `'${lines[0]}' mentions ${what}`);
  else assert.match(lines[0], what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
}
