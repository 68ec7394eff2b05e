/**
 * `bitnet perplexity`, `eval`, `energy` and `report` as a user runs them on the default model: their
 * output formats, the files they write, and one-line errors for careless input (an empty text, a text
 * shorter than 2·ctx, a missing file, a task file with a malformed row or an out-of-range gold, an
 * unknown task). The report's FP twin here is the default model converted to F16 (the same weights in
 * float), which is enough to exercise every measurement.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertOneLineError, repoRoot, runCli } from "./run-cli.ts";

const DEFAULT = join(repoRoot, "models/bitnet-default.gguf");
const absent = existsSync(DEFAULT) ? false : "models/bitnet-default.gguf is absent";

describe("bitnet perplexity / eval / energy / report", { skip: absent }, () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "bitnet-eval-cli-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("perplexity prints llama.cpp's lines, and --json the numbers", async () => {
    const r = await runCli(["perplexity", "--ctx", "128", "--chunks", "3", "-t", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[1\]\d+\.\d{4},\[2\]\d+\.\d{4},\[3\]\d+\.\d{4},\nFinal estimate: PPL = \d+\.\d{4} \+\/- \d+\.\d{5}\n$/);
    const j = await runCli(["perplexity", "--ctx", "128", "--chunks", "3", "-t", "1", "--json"]);
    const out = JSON.parse(j.stdout);
    assert.equal(out.chunks, 3);
    assert.equal(out.scored, 3 * 63);
    assert.ok(out.ppl > 1 && out.ppl < 2048 && out.stderr > 0);
    assert.equal(out.estimates.length, 3);
    assert.ok(r.stdout.includes(`PPL = ${out.ppl.toFixed(4)} +/- ${out.stderr.toFixed(5)}`), "the same figures both ways");
  });

  it("perplexity: an empty text, a text shorter than 2·ctx, a missing file are one-line errors", async () => {
    const empty = join(dir, "empty.txt");
    const short = join(dir, "short.txt");
    writeFileSync(empty, "");
    writeFileSync(short, "And God said, Let there be light: and there was light.\n");
    assertOneLineError(await runCli(["perplexity", "-f", empty]), `${empty}: the text is empty`);
    assertOneLineError(await runCli(["perplexity", "-f", short, "--ctx", "64"]), /short\.txt: \d+ tokens, but perplexity with a context of 64 needs at least 128 \(2 × ctx\)/);
    assertOneLineError(await runCli(["perplexity", "-f", join(dir, "nope.txt")]), "nope.txt: no such file");
    assertOneLineError(await runCli(["perplexity", "--ctx", "2"]), "--ctx must be an integer ≥ 4");
  });

  it("eval scores a generic JSONL task and the KJV task; --out writes results and samples", async () => {
    const file = join(dir, "sums.jsonl");
    writeFileSync(file, [
      { context: "And God said, Let there be", choices: ["light", "the of and"], gold: 0 },
      { context: "In the beginning God created the heaven and the", choices: ["earth.", "Moses"], gold: 0 },
      { context: "And the LORD spake unto", choices: ["Moses, saying,", "light"], gold: 0 },
    ].map((x) => JSON.stringify(x)).join("\n") + "\n");
    const out = join(dir, "eval-out");
    const r = await runCli(["eval", "--tasks", `kjv,${file}`, "--limit", "20", "-t", "1", "--json", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j.results), ["kjv", "sums"]);
    assert.equal(j.results.kjv.n, 20);
    assert.equal(j.results.sums.n, 3);
    for (const k of ["acc", "acc_stderr", "acc_norm", "acc_norm_stderr", "n"]) assert.ok(k in j.results.kjv, k);
    assert.ok(Math.abs(j.average - (j.results.kjv.acc_norm + j.results.sums.acc_norm) / 2) < 1e-12);
    assert.deepEqual(JSON.parse(readFileSync(join(out, "results.json"), "utf8")).results, j.results);
    assert.match(readFileSync(join(out, "results.md"), "utf8"), /^\| Models \| Size \| KJV \| sums \| Avg\. \|/);
    const samples = readFileSync(join(out, "samples-sums.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(samples.length, 3);
    assert.equal(samples[0].ll.length, 2);
    const text = await runCli(["eval", "--tasks", file, "-t", "1"]);
    assert.match(text.stdout, /^sums +n +3 +acc [\d.]+ ± [\d.]+ +acc_norm [\d.]+ ± [\d.]+\n\n\| Models \| Size \| sums \| Avg\. \|\n\|---\|---\|---:\|---:\|\n\| bitnet-default\.gguf \| 2\.3M \| /);
  });

  it("eval: a malformed row (file and line named), a gold out of range, an unknown task, a bad --limit", async () => {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"context": "a", "choices": ["b", "c"], "gold": 0}\n{"context": "a", "choices": ["b"\n');
    assertOneLineError(await runCli(["eval", "--tasks", bad]), new RegExp(`${bad.replace(/[.]/g, "\\.")}:2: not valid JSON`));
    const gold = join(dir, "gold.jsonl");
    writeFileSync(gold, '{"context": "a", "choices": ["b", "c"], "gold": 5}\n');
    assertOneLineError(await runCli(["eval", "--tasks", gold]), `${gold}:1: field 'gold' gives answer 5, outside the 2 choices [0, 1]`);
    assertOneLineError(await runCli(["eval", "--tasks", "mmlu"]), "--tasks: unknown task 'mmlu'");
    assertOneLineError(await runCli(["eval", "--tasks", "hellaswag"]), "--tasks: hellaswag needs its rows");
    assertOneLineError(await runCli(["eval", "--limit", "0"]), "--limit must be an integer ≥ 1");
  });

  it("energy: the paper's model for the file's shapes, and what it says about measuring", async () => {
    const r = await runCli(["energy", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.linear_matrices, 21);
    assert.equal(j.nodes[0].per_operation_ratio.toFixed(1), "71.4");
    assert.equal(j.nodes[1].per_operation_ratio.toFixed(1), "50.0");
    assert.ok(j.nodes[0].ratio > 71.4 && j.nodes[0].ratio < 72, "n·p / (n − 1)·p lifts the ratio a little at width 256");
    assert.equal(typeof j.measured.available, "boolean");
    if (!j.measured.available) assert.match(j.measured.note, /^no measured energy on this machine: /);
    const text = await runCli(["energy"]);
    assert.match(text.stdout, /It is a model of the arithmetic's energy, not a measurement/);
    assert.match(text.stdout, /FP16 \/ ternary {2,}71\.6× {2,}50\.1×/);
    assertOneLineError(await runCli(["energy", "-m", join(dir, "none.gguf")]), "none.gguf: no such file");
  });

  it("report: Table 1 and Table 2 for a ternary model and an FP file, as Markdown, JSON, SVG and PNG", async () => {
    const fp = join(dir, "fp16.gguf");
    const c = await runCli(["convert", DEFAULT, fp, "--type", "f16"]);
    assert.equal(c.code, 0, c.stderr);
    const out = join(dir, "report");
    const r = await runCli(["report", "--ternary", DEFAULT, "--fp", fp, "--ctx", "128", "--chunks", "2", "--limit", "12", "--rounds", "1", "--prompt", "16", "--tokens", "8", "-t", "1", "--out", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ternary.weightTypes, "tq2_0");
    assert.equal(j.fp.weightTypes, "f16");
    assert.ok(j.fp.fileBytes > j.ternary.fileBytes);
    assert.ok(j.ternary.peakRssBytes > j.ternary.baselineRssBytes && j.ternary.decodeMsPerToken > 0 && j.ternary.prefillTokS > 0);
    assert.equal(j.ternary.perplexity.chunks, 2);
    assert.equal(j.ternary.eval.results.kjv.n, 12);
    assert.ok(Math.abs(j.ratios.fileBytes - j.fp.fileBytes / j.ternary.fileBytes) < 1e-12);
    const md = readFileSync(join(out, "report.md"), "utf8");
    assert.match(md, /## Table 1: size, memory, latency, perplexity\n\n\| Models \| Size \| weights \| file \| peak memory \|/);
    assert.match(md, /## Table 2: zero-shot accuracy \(%\)\n\n\| Models \| Size \| KJV \| Avg\. \|/);
    assert.match(readFileSync(join(out, "report.svg"), "utf8"), /^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    assert.deepEqual([...readFileSync(join(out, "report.png")).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assertOneLineError(await runCli(["report", "--ternary", DEFAULT, "--fp", join(dir, "none.gguf")]), "none.gguf: no such file");
  });
});
