/**
 * Streaming stop-string matcher: text arrives in pieces (one detokenized token at a time) and
 * must be emitted as soon as it is certain not to be part of a stop string. Whatever could still
 * turn into a stop string is held back; a stop string itself is never emitted, nor is anything
 * after it.
 *
 * It works on JavaScript strings (UTF-16 code units) and expects whole characters from the
 * streaming detokenizer; it does not know about tokens or stop token ids.
 */

export interface StopPush {
  /** Text that is now safe to show. */
  emit: string;
  /** True once a stop string has been seen; later pushes emit nothing. */
  stopped: boolean;
}

export class StopMatcher {
  private readonly stops: readonly string[];
  private readonly longest: number;
  private held = "";
  private stoppedOn: string | undefined;

  constructor(stops: readonly string[]) {
    for (const [i, stop] of stops.entries()) {
      if (typeof stop !== "string" || stop.length === 0) {
        throw new Error(`StopMatcher: stops[${i}] must be a non-empty string`);
      }
    }
    this.stops = [...new Set(stops)];
    this.longest = this.stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /** Whether a stop string has been seen. */
  get stopped(): boolean {
    return this.stoppedOn !== undefined;
  }

  /** The stop string that ended the stream, if any. */
  get matched(): string | undefined {
    return this.stoppedOn;
  }

  push(text: string): StopPush {
    if (this.stoppedOn !== undefined) return { emit: "", stopped: true };
    const buffer = this.held + text;

    // The earliest occurrence wins; at equal starts the text before it is the same anyway.
    let at = -1;
    for (const stop of this.stops) {
      const i = buffer.indexOf(stop);
      if (i !== -1 && (at === -1 || i < at)) {
        at = i;
        this.stoppedOn = stop;
      }
    }
    if (at !== -1) {
      this.held = "";
      return { emit: buffer.slice(0, at), stopped: true };
    }

    const keep = this.partialSuffixLength(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** End of stream without a stop: releases whatever was held back. */
  flush(): string {
    const rest = this.stoppedOn === undefined ? this.held : "";
    this.held = "";
    return rest;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private partialSuffixLength(buffer: string): number {
    for (let k = Math.min(this.longest - 1, buffer.length); k > 0; k--) {
      const tail = buffer.slice(buffer.length - k);
      for (const stop of this.stops) if (stop.length > k && stop.startsWith(tail)) return k;
    }
    return 0;
  }
}
