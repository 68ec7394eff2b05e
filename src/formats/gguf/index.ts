/**
 * The GGUF format in one import: reader, writer, metadata value types, the name table and the
 * ggml type table. Nothing here touches Node APIs; open files with src/node/file-source.ts.
 */
export * from "./reader.ts";
export * from "./writer.ts";
export * from "./value-types.ts";
export * from "./names.ts";
export * from "./types.ts";
