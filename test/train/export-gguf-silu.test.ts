/** Export → our engine → same tokens, for a SiLU model (llama.cpp's `bitnet` architecture). See export-engine-parity.ts. */
import { defineEngineParityTests } from "./export-engine-parity.ts";

defineEngineParityTests("silu", 6, "the cat sat");
