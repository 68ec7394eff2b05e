/**
 * Measured energy from the Linux powercap interface (RAPL: Intel, and AMD since Zen), for Node. Each
 * package domain /sys/class/powercap/intel-rapl:N (name "package-N") has a cumulative counter
 * energy_uj that wraps at max_energy_range_uj. We read every package counter before and after a piece
 * of work and take the difference (one wrap allowed). The counters cover the whole package, so anything
 * else running on the machine is counted too; on a shared machine the figure is an upper bound.
 * Many systems make energy_uj readable by root only, and virtual machines usually have no powercap at
 * all: then `openRapl` says why instead of throwing.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export const POWERCAP_ROOT = "/sys/class/powercap";

interface Domain {
  path: string;
  name: string;
  range: number;
}

export interface RaplMeter {
  domains: string[];
  /** Microjoules on every package counter now (cumulative, for `joulesSince`). */
  read(): Promise<number[]>;
  /** Joules spent since `start` (a `read()` result), summed over the packages. */
  joulesSince(start: readonly number[]): Promise<number>;
}

async function readNumber(path: string): Promise<number> {
  const n = Number((await readFile(path, "utf8")).trim());
  if (!Number.isFinite(n)) throw new Error(`${path}: not a number`);
  return n;
}

/** A meter over the package domains under `root`, or the reason there is none. */
export async function openRapl(root = POWERCAP_ROOT): Promise<RaplMeter | string> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return `${root} does not exist (no powercap interface: a virtual machine, a container, or a kernel without RAPL)`;
  }
  const domains: Domain[] = [];
  for (const d of names.filter((n) => /^(intel|amd)-rapl:\d+$/.test(n)).sort()) {
    const path = join(root, d);
    let name: string;
    try {
      name = (await readFile(join(path, "name"), "utf8")).trim();
    } catch {
      continue;
    }
    if (!name.startsWith("package")) continue;
    try {
      await readNumber(join(path, "energy_uj"));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return `${join(path, "energy_uj")} is not readable${code === "EACCES" ? " (root only on this system)" : ` (${code ?? (e as Error).message})`}`;
    }
    const range = await readNumber(join(path, "max_energy_range_uj")).catch(() => 2 ** 32);
    domains.push({ path, name, range });
  }
  if (domains.length === 0) return `${root} has no RAPL package domain`;
  const read = () => Promise.all(domains.map((d) => readNumber(join(d.path, "energy_uj"))));
  return {
    domains: domains.map((d) => `${d.path} (${d.name})`),
    read,
    async joulesSince(start) {
      const now = await read();
      return now.reduce((s, v, i) => s + (v >= start[i] ? v - start[i] : v + domains[i].range - start[i]), 0) / 1e6;
    },
  };
}
