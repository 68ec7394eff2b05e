/**
 * The evaluation API in one place (browser-safe): the scorer interface and its model implementation,
 * llama-perplexity's protocol, lm-evaluation-harness scoring, the task readers (rows in, items out), the
 * energy model and the report's tables. File reading, child processes and RAPL are src/node's.
 */
export { ModelScorer, type LogprobScorer, type ScoreRequest, type ScoringModel, type TokenScores } from "./scorer.ts";
export { tokenLogprob, type TokenLogprob } from "./log-softmax.ts";
export { formatPerplexity, perplexity, textPerplexity, type ChunkEstimate, type PerplexityOptions, type PerplexityResult } from "./perplexity.ts";
export {
  choiceItem, encodePair, multipleInputItem, scoreItems, taskMetrics, type EvalTokenizer, type ItemScore, type McItem, type Metric, type TaskMetrics,
} from "./lm-eval.ts";
export { GENERIC_TASK, HARNESS_TASKS, type TaskDef } from "./tasks/harness-tasks.ts";
export { kjvHeldOutChapters, kjvHeldOutText, kjvItems } from "./tasks/kjv.ts";
export { parseRows, type SourcedRow } from "./tasks/rows.ts";
export { parseTaskList, type TaskSpec } from "./tasks/registry.ts";
export { ENERGY_45NM, ENERGY_7NM, estimateEnergy, llamaMatmuls, modelMatmuls, perOperationRatio, type EnergyEstimate, type EnergyTable } from "./energy.ts";
export { evalJson, table2Markdown, type TaskResult } from "./table.ts";
export { reportJson, reportMarkdown, type Report } from "./report.ts";
export { reportPlot } from "./report-plot.ts";
