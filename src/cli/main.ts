/**
 * The `bitnet` command line: wires each subcommand (one file each) into commander and turns any
 * error into one line on stderr and a non-zero exit. `--verbose` shows the stack as well.
 */
import { Command } from "commander";
import { registerBench } from "./bench.ts";
import { registerChat } from "./chat.ts";
import { registerConvert } from "./convert.ts";
import { registerEnergy } from "./energy.ts";
import { registerEval } from "./eval.ts";
import { registerGenerate } from "./generate.ts";
import { registerInfo } from "./info.ts";
import { registerLogits } from "./logits.ts";
import { registerPerplexity } from "./perplexity.ts";
import { registerReport } from "./report.ts";
import { registerReproduce } from "./reproduce.ts";
import { registerTrain } from "./train.ts";

const program = new Command();
program
  .name("bitnet")
  .description("BitNet b1.58 ternary language models: inspect, convert, run and train them on a CPU.")
  .option("--verbose", "print stack traces on errors")
  .showHelpAfterError();

registerGenerate(program);
registerLogits(program);
registerChat(program);
registerInfo(program);
registerConvert(program);
registerTrain(program);
registerReproduce(program);
registerBench(program);
registerPerplexity(program);
registerEval(program);
registerEnergy(program);
registerReport(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const verbose = process.argv.includes("--verbose");
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`bitnet: ${message.split("\n")[0]}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
