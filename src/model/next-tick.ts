/**
 * A macrotask boundary between generated tokens, so servers and pages stay responsive while a model
 * generates. setTimeout(0) would do, but browsers clamp nested timeouts to 4 ms, which a small model
 * would spend mostly waiting; setImmediate (Node) and a MessageChannel message (browsers, workers) are
 * not clamped.
 */
type Immediate = (callback: () => void) => unknown;

let channel: MessageChannel | null = null;
const waiting: Array<() => void> = [];

function viaMessageChannel(resolve: () => void): void {
  if (channel === null) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
  }
  waiting.push(resolve);
  channel.port2.postMessage(null);
}

export function nextMacrotask(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;
  return new Promise<void>((resolve) => (immediate ? immediate(resolve) : viaMessageChannel(resolve)));
}

/** A turn that took longer than this ran something (an empty turn takes microseconds). */
const BUSY_TURN_MS = 0.2;

/**
 * Macrotask turns, at least one, for `ms` and then for as long as the turns keep running something or
 * `expecting()` says more is on its way (a server reading requests), up to `maxMs` in all: lets an event
 * loop handle what is waiting.
 */
export async function yieldFor(ms: number, maxMs: number, expecting: () => boolean = () => false): Promise<void> {
  const start = performance.now();
  for (;;) {
    const t = performance.now();
    await nextMacrotask();
    const now = performance.now();
    if (now - start >= maxMs) return;
    if (now - start >= ms && now - t < BUSY_TURN_MS && !expecting()) return;
  }
}
