/**
 * GET /metrics in Prometheus' text format, with llama-server's metric names behind a `bitnet_` prefix so
 * that dashboards built for it read ours: tokens and seconds of prompt processing and of generation,
 * requests running and waiting, decode steps and the sequences each one carried, and KV cache use.
 */
import type { BitNetModel } from "../model/model.ts";
import type { StepStats } from "../model/sequences.ts";

export class ServerMetrics {
  promptTokens = 0;
  predictedTokens = 0;
  promptSeconds = 0;
  predictedSeconds = 0;
  requests = 0;
  /** Requests being served now (a slot held, or waiting for one). */
  inFlight = 0;
  rejected = 0;
  decodeSteps = 0;
  private stepSequences = 0;

  onStep(s: StepStats): void {
    this.decodeSteps++;
    this.stepSequences += s.sequences;
  }

  /** One generation's figures: prompt time until its first token, generation time after it. */
  onTiming(startedAt: number, t: { promptTokens: number; completionTokens: number; firstTokenAt: number | null; endedAt: number }): void {
    this.promptTokens += t.promptTokens;
    this.predictedTokens += t.completionTokens;
    const first = t.firstTokenAt ?? t.endedAt;
    this.promptSeconds += (first - startedAt) / 1000;
    this.predictedSeconds += (t.endedAt - first) / 1000;
  }

  render(model: BitNetModel): string {
    const s = model.sequenceStats;
    const lines: string[] = [];
    const metric = (name: string, type: "counter" | "gauge", help: string, value: number): void => {
      lines.push(`# HELP bitnet_${name} ${help}`, `# TYPE bitnet_${name} ${type}`, `bitnet_${name} ${Number.isFinite(value) ? value : 0}`);
    };
    metric("prompt_tokens_total", "counter", "Number of prompt tokens processed.", this.promptTokens);
    metric("prompt_seconds_total", "counter", "Prompt process time, until each request's first token.", this.promptSeconds);
    metric("tokens_predicted_total", "counter", "Number of generation tokens processed.", this.predictedTokens);
    metric("tokens_predicted_seconds_total", "counter", "Predict process time, after each request's first token.", this.predictedSeconds);
    metric("requests_total", "counter", "Requests received.", this.requests);
    metric("requests_rejected_total", "counter", "Requests refused with 429 because the queue was full.", this.rejected);
    metric("n_decode_total", "counter", "Batching steps (forward passes over the running sequences).", this.decodeSteps);
    metric("n_busy_slots_per_decode", "gauge", "Average number of sequences per batching step.", this.decodeSteps > 0 ? this.stepSequences / this.decodeSteps : 0);
    metric("requests_processing", "gauge", "Requests being processed.", Math.max(0, this.inFlight - s.waiting));
    metric("requests_deferred", "gauge", "Requests waiting for a free sequence slot.", s.waiting);
    metric("kv_cache_slots", "gauge", "Sequence slots (each a KV cache region of the context length).", s.slots);
    metric("kv_cache_slots_busy", "gauge", "Sequence slots in use.", s.busy);
    metric("kv_cache_usage_ratio", "gauge", "Share of the sequence slots in use.", s.slots > 0 ? s.busy / s.slots : 0);
    metric("kv_cache_bytes", "gauge", "Bytes of KV cache placed so far.", model.kvCacheBytes);
    return `${lines.join("\n")}\n`;
  }
}
