/** Export → our engine → same tokens, for a ReLU² model (bitnet.cpp's `bitnet-b1.58` architecture). See export-engine-parity.ts. */
import { defineEngineParityTests } from "./export-engine-parity.ts";

defineEngineParityTests("relu2", 3, "the cat sat");
