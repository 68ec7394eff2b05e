/** Runs the real `bitnet` command (bin/bitnet.js on the pinned Node) and captures its output. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], input?: string): CliResult {
  const r = spawnSync(process.execPath, [`${ROOT}bin/bitnet.js`, ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
