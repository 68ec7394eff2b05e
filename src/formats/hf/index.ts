/**
 * Hugging Face checkpoint directories (config.json, tokenizer.json, safetensors) read as virtual GGUF files.
 * Browser-safe; the Node adapter over the file system is src/node/hf-dir.ts.
 */
export { openHFCheckpoint, type HFCheckpoint, type OpenHFCheckpointOptions } from "./checkpoint.ts";
export { memoryDirectory, readJSONObject, type HFDirectory } from "./directory.ts";
export { parseHFConfig, type HFModelSpec } from "./config.ts";
