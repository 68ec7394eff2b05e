/**
 * Where the tests find files other implementations wrote: ../shared/fixtures beside the repository (CI
 * puts it there too), and the embedded default model.
 */
import { fileURLToPath } from "node:url";

export const FIXTURES_DIR = fileURLToPath(new URL("../../../shared/fixtures/", import.meta.url));

export const DEFAULT_MODEL = fileURLToPath(new URL("../../models/bitnet-default.gguf", import.meta.url));

export function fixturePath(name: string): string {
  return `${FIXTURES_DIR}${name}`;
}
