#!/usr/bin/env node
// The `bitnet` command: the compiled CLI (dist/, built by `npm run build`, which `npm install` runs).
await import("../dist/cli/main.js");
