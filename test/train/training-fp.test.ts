// Tiny fp training runs: the loss falls well below its start, fixed seeds give identical bits, and the
// validation loss on held-out text falls below a stated bound within a fixed number of steps.
// The run, its bound and the seed are documented in tinyrun.ts (defineTrainingTests).
import { defineTrainingTests } from "./tinyrun.ts";

defineTrainingTests("fp");
