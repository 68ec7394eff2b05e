// The one error shape of the tokenizer package: "<file>: <key> <problem>", on one line. The problem may
// quote the file's own strings, so it is escaped and cut (printable) to stay one short line.
import { InvalidFileError } from "../errors.ts";
import { printable } from "../formats/describe.ts";

export function fail(what: string, key: string, problem: string): never {
  throw new InvalidFileError(`${what}: ${key} ${printable(problem, 400)}`);
}
