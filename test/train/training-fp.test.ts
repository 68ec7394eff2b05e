// Tiny fp training run: the loss falls well below its start, and fixed seeds give identical bits.
// The run, its bound and the seed are documented in tinyrun.ts (defineTrainingTests).
import { defineTrainingTests } from "./tinyrun.ts";

defineTrainingTests("fp");
