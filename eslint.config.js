// Lint rules: typescript-eslint's recommended set, plus the project's ban on Node-only imports in core code.
import tseslint from "typescript-eslint";

const nodeOnly = ["fs", "node:fs", "fs/promises", "node:fs/promises", "worker_threads", "node:worker_threads", "path", "node:path", "os", "node:os", "child_process", "node:child_process", "http", "node:http"];

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "build/**", "**/*.wasm", "src/kernels/wasm/assembly/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Core code must run in the browser too: Node APIs live in src/node, src/cli and src/server only.
    files: ["src/**/*.ts"],
    ignores: ["src/node/**", "src/cli/**", "src/server/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: nodeOnly.map((name) => ({ name, message: "Core code stays browser-safe: put Node APIs in src/node." })) }],
    },
  },
);
