// The one error shape of the tokenizer package: "<file>: <key> <problem>", on one line.
import { InvalidFileError } from "../errors.ts";

export function fail(what: string, key: string, problem: string): never {
  throw new InvalidFileError(`${what}: ${key} ${problem}`);
}
