/**
 * `bitnet models [--json]`: the models in the cache, with their revisions, sizes and local paths; and
 * `bitnet rm hf:OWNER/REPO`: removes one repository (every revision) from the cache.
 */
import type { Command } from "commander";
import { InvalidArgumentError } from "../errors.ts";
import { cacheRoot, listCachedModels, removeCachedModel } from "../node/hub/cache.ts";

function size(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

export function registerModels(program: Command): void {
  program
    .command("models")
    .description("list the models in the cache, with sizes")
    .option("--json", "print a JSON array")
    .action(async (flags: { json?: boolean }) => {
      const models = await listCachedModels();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
        return;
      }
      if (models.length === 0) {
        process.stdout.write(`no models in ${cacheRoot()} (bitnet pull hf:OWNER/REPO fetches one)\n`);
        return;
      }
      const rows = models.map((m) => [`hf:${m.repo}`, m.revisions.join(",") || m.commit.slice(0, 10), size(m.bytes), m.complete ? "" : "(incomplete)", m.path]);
      const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
      for (const r of rows) process.stdout.write(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padStart(w[2])}  ${r[4]}${r[3] ? ` ${r[3]}` : ""}\n`);
    });

  program
    .command("rm")
    .description("remove a model (every cached revision) from the cache")
    .argument("<name>", "hf:OWNER/REPO")
    .action(async (name: string) => {
      const freed = await removeCachedModel(name);
      if (freed === 0 && !(await listCachedModels()).some((m) => name.startsWith(`hf:${m.repo}`))) {
        throw new InvalidArgumentError(`${name}: not in the cache (${cacheRoot()})`);
      }
      process.stdout.write(`removed ${name} (${size(freed)})\n`);
    });
}
