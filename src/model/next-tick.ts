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
