/**
 * `bitnet pull hf:OWNER/REPO[@REV][:FILE]`: fetches a model from the Hugging Face Hub into the cache (resuming a
 * partial download, checking sizes and SHA-256s) and prints the local path `-m` can take. The work is
 * src/node/hub; this file draws the progress bar.
 */
import type { Command } from "commander";
import { resolveHubModel } from "../node/hub/resolve.ts";
import { byteProgressBar } from "./progress.ts";

/** Resolves a Hub name with a download progress bar on a terminal; returns the local path. */
export async function pullWithProgress(name: string): Promise<string> {
  let bar: ReturnType<typeof byteProgressBar> | undefined;
  let current = "";
  try {
    return await resolveHubModel(name, {
      onProgress: (e) => {
        if (e.file !== current) {
          bar?.stop();
          bar = byteProgressBar(`downloading ${e.file.split("/").pop()}`);
          current = e.file;
        }
        bar?.update(e.loadedBytes, e.totalBytes, "");
      },
    });
  } finally {
    bar?.stop();
  }
}

export function registerPull(program: Command): void {
  program
    .command("pull")
    .description("download a model from the Hugging Face Hub into the cache ($BITNET_CACHE, else $XDG_CACHE_HOME/bitnet-ts or ~/.cache/bitnet-ts)")
    .argument("<name>", "hf:OWNER/REPO[@REVISION][:FILE]; without FILE, the repository's only GGUF file, else its safetensors checkpoint")
    .action(async (name: string) => {
      process.stdout.write(`${await pullWithProgress(name)}\n`);
    });
}
