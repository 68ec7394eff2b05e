/** Where the Hugging Face checkpoint fixtures live (written by scripts/hf-fixtures), and their layouts. */
import { fileURLToPath } from "node:url";

export const HF_FIXTURES = fileURLToPath(new URL("../fixtures/hf/", import.meta.url));
export const HF_LAYOUTS = ["bitnet-2b4t", "bitnet-2b4t-bf16", "1bitllm", "llama3-1.58-sharded"] as const;
