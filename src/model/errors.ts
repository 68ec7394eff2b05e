/** Errors a caller may want to tell apart from bad input in general. */

/** The prompt plus the requested tokens do not fit the context. */
export class ContextOverflowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContextOverflowError";
  }
}
