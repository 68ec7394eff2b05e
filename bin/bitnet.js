#!/usr/bin/env node
// The `bitnet` command: loads the TypeScript CLI through tsx, so the published sources are the ones that run.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
