/**
 * The native kernels where the addon is present and runs on this CPU, else another backend (the wasm
 * kernels, in practice) with the reason why: the one place that decides, so that callers (the kernel
 * factory, the CLI) report the same fallback the same way.
 * Not here: the native kernels themselves (kernels.ts), the wasm selection (../kernels.ts).
 */
import { BitNetError, InvalidArgumentError } from "../../errors.ts";
import type { Kernels } from "../../kernels/types.ts";
import { createNativeKernels, nativeKernelsStatus, type NativeKernelOptions } from "./kernels.ts";

export interface PreferredKernels {
  kernels: Kernels;
  /** Why the native kernels were passed over, or null when they are the ones returned. */
  fallbackReason: string | null;
}

/** The native kernels, else `fallback()` (e.g. the wasm kernels) and the reason. */
export async function nativeOrElse(options: NativeKernelOptions, fallback: () => Promise<Kernels>): Promise<PreferredKernels> {
  const status = nativeKernelsStatus(options);
  if (!status.available) return { kernels: await fallback(), fallbackReason: `native kernels unavailable: ${status.reason}` };
  try {
    return { kernels: await createNativeKernels(options), fallbackReason: null };
  } catch (e) {
    if (!(e instanceof BitNetError) || e instanceof InvalidArgumentError) throw e; // a bad option is the caller's to fix
    return { kernels: await fallback(), fallbackReason: e.message };
  }
}
