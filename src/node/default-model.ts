/**
 * Where the embedded default model lives: models/ at the package root. Commands fall back to it when
 * no -m is given; until a model is shipped there the commands say so instead.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const DEFAULT_MODEL_FILE = "bitnet-default.gguf";

export function defaultModelPath(): string | undefined {
  const path = fileURLToPath(new URL(`../../models/${DEFAULT_MODEL_FILE}`, import.meta.url));
  return existsSync(path) ? path : undefined;
}
