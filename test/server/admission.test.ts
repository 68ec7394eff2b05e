// Clients that arrive together while the model is busy join the batch together. Node accepts one
// connection per event-loop turn and a request needs a few turns to be read, so the scheduler leaves the
// loop turns between steps for as long as they keep doing work or the server expects a request
// (src/model/next-tick.ts yieldFor, src/server/arrivals.ts); with a single turn, N clients were admitted
// one per step and the last waited N steps for its first token.
// The steps here are made slow (as a 2B model's are) by a head matmul that holds the thread for 60 ms.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { loadModel, type BitNetModel } from "../../src/index.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import type { StepStats } from "../../src/model/sequences.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { DEFAULT_MODEL } from "../helpers/fixtures.ts";

const STEP_MS = 60;

const slowKernels: Kernels = {
  ...refKernels,
  floatMatmul(w, x, tokens, out) {
    refKernels.floatMatmul(w, x, tokens, out);
    const until = performance.now() + STEP_MS;
    while (performance.now() < until); // a step's compute, holding the event loop as a real one does
  },
};

/** A streamed completion on a connection of its own; resolves when the stream ends. */
function streamOnNewConnection(url: string, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ prompt, max_tokens: 3, temperature: 0, stream: true });
    const req = request(`${url}/v1/completions`, { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A socket connected to the server, and what it will have received when the server closes it. */
async function openConnection(port: number): Promise<{ socket: Socket; reply: Promise<string> }> {
  const socket = connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  let text = "";
  socket.on("data", (d: string) => (text += d));
  const reply = new Promise<string>((resolve, reject) => {
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return { socket, reply };
}

function completionRequest(prompt: string): { head: string; body: string } {
  const body = JSON.stringify({ prompt, max_tokens: 3, temperature: 0, stream: true });
  const head = `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return { head, body };
}

describe("bitnet serve: admission", () => {
  let model: BitNetModel;
  let server: RunningServer;
  const steps: StepStats[] = [];

  before(async () => {
    model = await loadModel(DEFAULT_MODEL, { kernels: slowKernels, parallel: 6 });
    server = await startServer(model, { port: 0, handleSignals: false });
    model.onStep = (s) => steps.push(s);
  });
  after(() => server.stop());

  it("six clients arriving together on new connections are admitted within two steps", async () => {
    const clients = 6;
    const texts = await Promise.all(Array.from({ length: clients }, (_, i) => streamOnNewConnection(server.url, `And God said (${i})`)));
    for (const t of texts) assert.match(t, /data: \[DONE\]/);
    // Steps that carry prompt tokens (a new sequence's prefill) until every client's prompt went in.
    let admitted = 0;
    let withPrompts = 0;
    for (const s of steps) {
      const prompts = s.sequences - s.decodeTokens;
      if (prompts === 0) continue;
      withPrompts++;
      admitted += prompts;
      if (admitted >= clients) break;
    }
    assert.equal(admitted, clients, `steps: ${JSON.stringify(steps)}`);
    assert.ok(withPrompts <= 2, `the prompts went in over ${withPrompts} steps: ${steps.map((s) => `${s.sequences} sequences, ${s.decodeTokens} decoding`).join("; ")}`);
  });

  it("clients still sending when a step ends join the next step, not the one after", async () => {
    // Five clients have sent their requests' headers before a first request starts a step, and send the
    // bodies 8 ms after that step ends. The turns between steps are idle then, so only the server's word
    // that requests are on their way in (src/server/arrivals.ts) keeps the next step from starting without
    // them. (A connection that has sent nothing is expected for 100 ms only; test/server/arrivals.test.ts
    // covers it without timing a step against that deadline.)
    const late = await Promise.all(Array.from({ length: 5 }, () => openConnection(server.port)));
    const requests = late.map((_, i) => completionRequest(`In the beginning (${i})`));
    for (const [i, c] of late.entries()) c.socket.write(requests[i].head);
    steps.length = 0;
    let firstStepEnded = false;
    model.onStep = (s) => {
      steps.push(s);
      if (firstStepEnded) return;
      firstStepEnded = true;
      setTimeout(() => late.forEach((c, i) => c.socket.write(requests[i].body)), 8);
    };
    const first = streamOnNewConnection(server.url, "Let there be light");
    const replies = await Promise.all([first, ...late.map((c) => c.reply)]);
    for (const r of replies) assert.match(r, /data: \[DONE\]/);
    const show = steps.map((s) => `${s.sequences} sequences, ${s.decodeTokens} decoding`).join("; ");
    assert.equal(steps[0].sequences, 1, show);
    assert.equal(steps[1].sequences, 6, `the five late clients should all be in the second step: ${show}`);
  });
});
