/**
 * RAPL energy counters (src/node/rapl.ts) on a fake powercap tree: package domains summed, sub-zones and
 * non-package zones ignored, a counter wrap, and the reasons given when there is nothing to read.
 * (This machine has no /sys/class/powercap; the last test checks that openRapl says so rather than throwing.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRapl } from "../../src/node/rapl.ts";

function zone(root: string, dir: string, name: string, uj: number, range = 1000000): void {
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, "name"), `${name}\n`);
  writeFileSync(join(root, dir, "energy_uj"), `${uj}\n`);
  writeFileSync(join(root, dir, "max_energy_range_uj"), `${range}\n`);
}

test("package counters are summed; a wrapped counter adds its range", async () => {
  const root = mkdtempSync(join(tmpdir(), "powercap-"));
  try {
    zone(root, "intel-rapl:0", "package-0", 1000);
    zone(root, "intel-rapl:1", "package-1", 999000);
    zone(root, "intel-rapl:0:0", "core", 5); // a sub-zone: part of package 0 already
    zone(root, "intel-rapl:2", "psys", 7);
    const m = await openRapl(root);
    assert.ok(typeof m !== "string", String(m));
    assert.equal(m.domains.length, 2);
    const start = await m.read();
    writeFileSync(join(root, "intel-rapl:0", "energy_uj"), "3500\n");
    writeFileSync(join(root, "intel-rapl:1", "energy_uj"), "500\n"); // wrapped at 1,000,000
    assert.ok(Math.abs((await m.joulesSince(start)) - (2500 + 1500) / 1e6) < 1e-12);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("no powercap, no package domain, or an unreadable counter: a reason, not an exception", async () => {
  const root = mkdtempSync(join(tmpdir(), "powercap-"));
  try {
    assert.match(String(await openRapl(join(root, "absent"))), /absent does not exist \(no powercap interface/);
    zone(root, "intel-rapl:0", "psys", 1);
    assert.match(String(await openRapl(root)), /has no RAPL package domain/);
    zone(root, "intel-rapl:1", "package-0", 1);
    writeFileSync(join(root, "intel-rapl:1", "energy_uj"), "not a number\n");
    assert.match(String(await openRapl(root)), /intel-rapl:1\/energy_uj is not readable/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const here = await openRapl();
  assert.ok(typeof here === "string" || here.domains.length > 0, "this machine: a meter or a reason");
});
