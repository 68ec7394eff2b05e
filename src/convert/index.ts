/**
 * GGUF model conversion, browser-safe: `convertGGUF` streams a parsed GGUF file into a ByteSink with its
 * linear matrices in another ternary or float type. The Node CLI wrapper is src/cli/convert.ts.
 */
export { convertGGUF, convertedMetadata, conversionWarnings, planConversion, tensorRole } from "./convert-gguf.ts";
export type { ConvertOptions, ConvertResult, ConvertedTensor, PlannedTensor, TensorRole } from "./convert-gguf.ts";
export { convertLinear, isTernaryType } from "./linear.ts";
export type { ConvertMethod, LinearConversion } from "./linear.ts";
export { CONVERT_TARGETS, EMBEDDING_TYPES, TARGET_FILE_TYPE, isConvertTarget, isEmbeddingType } from "./targets.ts";
export type { ConvertTarget, EmbeddingType } from "./targets.ts";
