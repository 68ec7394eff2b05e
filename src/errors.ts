/**
 * The errors bitnet-ts throws on purpose, as classes a caller can catch apart:
 *
 *   BitNetError                    every error below; `code` is a stable string for logs and APIs
 *   ├─ InvalidFileError            a model, tokenizer or data file that is malformed (names the file and field)
 *   │  └─ TruncatedFileError       … because it ends early (a partial download, a cut copy)
 *   ├─ UnsupportedModelError       a well-formed file this engine cannot run (architecture, tensor type)
 *   ├─ MemoryLimitError            the weights do not fit the backend's memory (WebAssembly's 4 GiB)
 *   ├─ ContextOverflowError        a prompt plus the tokens asked for do not fit the context
 *   ├─ DisposedError               a model (or engine) used after dispose()
 *   ├─ InvalidArgumentError        an API argument of the wrong type or out of range (names the parameter)
 *   ├─ ChatTemplateError           a chat template that fails to render or exceeds its limits
 *   └─ ConcurrencyError            a call that cannot run while another one holds the model
 *
 * Messages stay one line and name the file, tensor, key or parameter at fault. Browser-safe: the web
 * client rebuilds these by name (reviveError), so `instanceof` works across a Worker boundary too.
 */

export class BitNetError extends Error {
  /** A stable identifier, e.g. "ERR_BITNET_INVALID_FILE". */
  readonly code: string = "ERR_BITNET";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidFileError extends BitNetError {
  override readonly code: string = "ERR_BITNET_INVALID_FILE";
}

export class TruncatedFileError extends InvalidFileError {
  override readonly code: string = "ERR_BITNET_TRUNCATED_FILE";
}

export class UnsupportedModelError extends BitNetError {
  override readonly code: string = "ERR_BITNET_UNSUPPORTED_MODEL";
}

export class MemoryLimitError extends BitNetError {
  override readonly code: string = "ERR_BITNET_MEMORY_LIMIT";
}

/** The numbers of an overflow, so that a CLI or a server can say it in its own words. */
export interface ContextOverflow {
  promptTokens: number;
  /** `promptTokens` is a lower bound, known before tokenizing (a text too long to fit whatever its tokens). */
  atLeast?: boolean;
  /** Tokens asked for on top of the prompt (0 when the prompt alone does not fit). */
  maxTokens: number;
  contextLength: number;
}

export class ContextOverflowError extends BitNetError {
  override readonly code: string = "ERR_BITNET_CONTEXT_OVERFLOW";
  readonly overflow: ContextOverflow | undefined;
  constructor(message: string, options?: { cause?: unknown; overflow?: ContextOverflow }) {
    super(message, options);
    this.overflow = options?.overflow;
  }
}

export class DisposedError extends BitNetError {
  override readonly code: string = "ERR_BITNET_DISPOSED";
}

export class InvalidArgumentError extends BitNetError {
  override readonly code: string = "ERR_BITNET_INVALID_ARGUMENT";
  /** The parameter at fault as the API names it ("topP", "maxTokens"), when one is. */
  readonly param: string | undefined;
  /** The message without the parameter's name, for callers that name it their own way (a CLI flag, an HTTP field). */
  readonly problem: string | undefined;
  constructor(message: string, options?: { cause?: unknown; param?: string; problem?: string }) {
    super(message, options);
    this.param = options?.param;
    this.problem = options?.problem;
  }

  /** "<param> <problem>", e.g. `forParam("topP", "must be in (0, 1], got 2")`. */
  static forParam(param: string, problem: string): InvalidArgumentError {
    return new InvalidArgumentError(`${param} ${problem}`, { param, problem });
  }
}

export class ChatTemplateError extends BitNetError {
  override readonly code: string = "ERR_BITNET_CHAT_TEMPLATE";
}

export class ConcurrencyError extends BitNetError {
  override readonly code: string = "ERR_BITNET_CONCURRENCY";
}

const CLASSES = {
  BitNetError,
  InvalidFileError,
  TruncatedFileError,
  UnsupportedModelError,
  MemoryLimitError,
  ContextOverflowError,
  DisposedError,
  InvalidArgumentError,
  ChatTemplateError,
  ConcurrencyError,
} as const;

/** What crosses a Worker boundary: the class name and the message. */
export interface SerializedError {
  name: string;
  message: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

/** The error `serializeError` described, as an instance of the same class where it is one of ours. */
export function reviveError(s: SerializedError): Error {
  const Cls = Object.hasOwn(CLASSES, s.name) ? CLASSES[s.name as keyof typeof CLASSES] : undefined;
  if (Cls) return new Cls(s.message);
  const e = s.name === "AbortError" ? new DOMException(s.message, "AbortError") : new Error(s.message);
  if (!(e instanceof DOMException)) e.name = s.name;
  return e;
}
