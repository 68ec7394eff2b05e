/**
 * Test helper for the browser tests (test/web): Debian's Chromium driven by playwright-core, and the
 * small pieces every browser test's HTTP server needs. Chromium comes from scripts/install-chromium.sh
 * (CI runs it); without it a test is skipped locally and fails in CI (CI=true), where it must be there.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const inCI = process.env.CI === "true";

/** The `skip` option of a browser test's describe(): a reason locally without Chromium, false otherwise. */
export const chromiumSkip: string | false =
  !haveChromium && !inCI ? `Chromium not found at ${CHROMIUM} (run scripts/install-chromium.sh, or set CHROMIUM_PATH); CI does not skip this test` : false;

/** Headless Chromium (no sandbox: CI runs as root). */
export async function launchChromium(): Promise<Browser> {
  assert.ok(haveChromium, `Chromium not found at ${CHROMIUM}: CI must install it (scripts/install-chromium.sh)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** The headers that make a page cross-origin isolated (SharedArrayBuffer, so threads): the chat page server's. */
export { ISOLATION_HEADERS } from "../../src/node/web-server.ts";

/** Starts `server` on a free port of 127.0.0.1 and returns its base URL (no trailing slash). */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Collects the page's uncaught errors and console.error messages (workers' included), for `assert.deepEqual(errors, [])`. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}
