export type HubProgressEvent = { phase: "download"; file: string; loadedBytes: number; totalBytes: number };
export function isHubName(s: string): boolean {
  return s.startsWith("hf:");
}
export async function resolveHubModel(_name: string, _o: { onProgress?: (e: HubProgressEvent) => void }): Promise<string> {
  throw new Error("todo");
}
