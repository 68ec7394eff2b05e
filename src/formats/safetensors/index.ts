/**
 * The safetensors format in one import: reader, writer and dtype table. Shapes are PyTorch order
 * (rows first), unlike GGUF. Nothing here touches Node APIs; for a directory of shards use
 * src/node/safetensors-dir.ts.
 */
export * from "./reader.ts";
export * from "./writer.ts";
export * from "./dtypes.ts";
