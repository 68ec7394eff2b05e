/**
 * The `bitnet` command line: wires each subcommand (one file each) into commander and turns any
 * error into one line on stderr and a non-zero exit. `--verbose` shows the stack as well.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { cliErrorMessage } from "./error-message.ts";
import { registerBench } from "./bench.ts";
import { registerChat } from "./chat.ts";
import { registerConvert } from "./convert.ts";
import { registerEnergy } from "./energy.ts";
import { registerEval } from "./eval.ts";
import { registerGenerate } from "./generate.ts";
import { registerInfo } from "./info.ts";
import { registerLogits } from "./logits.ts";
import { registerModels } from "./models.ts";
import { registerPull } from "./pull.ts";
import { registerPerplexity } from "./perplexity.ts";
import { registerReport } from "./report.ts";
import { registerReproduce } from "./reproduce.ts";
import { registerServe } from "./serve.ts";
import { registerTrain } from "./train.ts";
import { registerWeb } from "./web.ts";

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
registerServe(program);
registerBench(program);
registerPerplexity(program);
registerEval(program);
registerEnergy(program);
registerReport(program);
registerPull(program);
registerModels(program);
registerWeb(program);

// A reader that went away (`bitnet generate … | head -1`) ends the command quietly, as for any Unix filter.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  process.stderr.write(`bitnet: cannot write the output: ${e.message}\n`);
  process.exit(1);
});

program.version(packageVersion(), "-V, --version");

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const verbose = process.argv.includes("--verbose");
  process.stderr.write(`bitnet: ${cliErrorMessage(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}
