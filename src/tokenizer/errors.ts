// The one error shape of the tokenizer package: "<file>: <key> <problem>", on one line.

export function fail(what: string, key: string, problem: string): never {
  throw new Error(`${what}: ${key} ${problem}`);
}
