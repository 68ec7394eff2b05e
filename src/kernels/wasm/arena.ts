/**
 * The one WebAssembly.Memory the wasm kernels work in, and a bump allocator over it: weights are placed
 * once at load (Kernels.allocWeights), scratch grows on demand, nothing is ever freed.
 *
 * Shared memory (threads; Node, and cross-origin-isolated pages) keeps every earlier view valid when it
 * grows. An ordinary memory detaches all views on growth: with it, place everything before the first
 * matmul, or reserve the total up front (`initialBytes`); a detached weight view then raises an error
 * that says so instead of reading garbage. Not here: the kernels (kernels.ts).
 */

const PAGE = 65536;
/** wasm32 addresses 4 GiB. */
export const MAX_WASM_BYTES = 65536 * PAGE;
/** Offset 0..64 KiB is never handed out, so a pointer of 0 is always a bug. */
const FIRST_ADDRESS = PAGE;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export class WasmArena {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  private top = FIRST_ADDRESS;
  /** Every buffer object the memory has had: a shared memory hands out a new one after each growth. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(shared: boolean, initialBytes = 0) {
    const initial = Math.max(2, Math.ceil((initialBytes + FIRST_ADDRESS) / PAGE));
    if (initial > MAX_WASM_BYTES / PAGE) throw new Error(`wasm kernels: cannot reserve ${mib(initialBytes)}, over wasm32's 4 GiB`);
    this.shared = shared;
    this.memory = new WebAssembly.Memory({ initial, maximum: MAX_WASM_BYTES / PAGE, shared });
    this.buffers.add(this.memory.buffer);
  }

  /** Bytes handed out so far (including the unused first page). */
  get used(): number {
    return this.top;
  }

  /** Reserves `bytes` aligned to `align` (a power of two) and returns the address. `what` names the use in errors. */
  alloc(bytes: number, align: number, what: string): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`wasm kernels: bad allocation size ${bytes} for ${what}`);
    if (!(align > 0 && (align & (align - 1)) === 0)) throw new Error(`wasm kernels: alignment ${align} for ${what} is not a power of two`);
    const ptr = Math.ceil(this.top / align) * align;
    const end = ptr + bytes;
    if (end > MAX_WASM_BYTES) {
      throw new Error(`wasm kernels: ${what} needs ${mib(bytes)} but the WebAssembly memory already holds ${mib(this.top)}; wasm32 stops at 4 GiB (use the reference kernels for models this large)`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow by at least an eighth, so that many small allocations do not grow page by page.
      const pages = Math.min(Math.max(Math.ceil((end - have) / PAGE), Math.ceil(have / PAGE / 8)), MAX_WASM_BYTES / PAGE - have / PAGE);
      try {
        this.memory.grow(pages);
      } catch (e) {
        throw new Error(`wasm kernels: could not grow the WebAssembly memory to ${mib(have + pages * PAGE)} for ${what} (${(e as Error).message})`);
      }
      this.buffers.add(this.memory.buffer);
    }
    this.top = end;
    return ptr;
  }

  /**
   * Grows the memory now so that `bytes` more can be allocated without growing again: with an ordinary
   * memory, call it with the model's size before placing weights, since growth detaches earlier views.
   */
  reserve(bytes: number): void {
    const end = this.top + bytes;
    if (end > MAX_WASM_BYTES) throw new Error(`wasm kernels: cannot reserve ${mib(bytes)} more: the WebAssembly memory already holds ${mib(this.top)} and wasm32 stops at 4 GiB`);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      this.memory.grow(Math.ceil((end - have) / PAGE));
      this.buffers.add(this.memory.buffer);
    }
  }

  /** A byte view of [ptr, ptr + bytes) on the current buffer. */
  bytes(ptr: number, bytes: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, bytes);
  }

  /**
   * The address of `view` if it lies in this memory, else null. Throws when it did but was detached by
   * growth of an ordinary (non-shared) memory.
   */
  addressOf(view: ArrayBufferView, what: string): number | null {
    const buf = view.buffer;
    if (buf !== this.memory.buffer && !this.buffers.has(buf)) return null;
    if (!this.shared && buf !== this.memory.buffer) {
      throw new Error(`wasm kernels: ${what} was placed in the WebAssembly memory before it grew, and growth detached it (ordinary memories do; create the kernels with initialBytes covering the model, or use shared memory)`);
    }
    return view.byteOffset;
  }
}
