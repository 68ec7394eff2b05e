/**
 * The chat page (`npm run web`, `bitnet web`): the engine in a Web Worker (bitnet-ts/web), the built-in
 * model preloaded, streaming replies with a stop button, time to first token and tok/s, settings, and the
 * conversation kept across reloads. The page's state machine, in body[data-state]:
 *   starting → loading → ready ⇄ generating;  loading → error (no model) → loading …
 * The built-in model's URL comes from model.json beside the page (`bitnet web -m FILE` serves another
 * one there), or from ?model=URL. Not here: the markup (index.html), the pieces of the page
 * (chat-view.ts, model-panel.ts, settings-form.ts), what is stored (state.ts).
 */
import { createBitNetWorker, deleteCachedModel, listCachedModels, type BitNetModelInfo, type BitNetWorker, type ChatMessage } from "../index.ts";
import { ChatView, formatStats } from "./chat-view.ts";
import { ModelPanel, modelLabel, type ModelRequest } from "./model-panel.ts";
import { SettingsForm } from "./settings-form.ts";
import { loadState, saveState, type ReplyStats, type Settings, type StoredMessage } from "./state.ts";

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

const input = $<HTMLTextAreaElement>("input");
const sendButton = $<HTMLButtonElement>("send");
const stopButton = $<HTMLButtonElement>("stop");
const liveStats = $<HTMLParagraphElement>("live-stats");
const badge = $<HTMLParagraphElement>("engine-badge");
const panelElement = $<HTMLElement>("panel");
const panelToggle = $<HTMLButtonElement>("panel-toggle");

const { state, warning } = loadState();
const view = new ChatView($<HTMLOListElement>("messages"), $("empty"), $("scroller"));
const panel = new ModelPanel({ load: (r) => void loadModel(r), deleteCached: (u) => void removeCached(u) });
const settingsForm = new SettingsForm($<HTMLFormElement>("settings"), state.settings, navigator.hardwareConcurrency || 1, onSettings);

let engine: BitNetWorker | null = null;
let loaded: { request: ModelRequest; url: string | null; label: string; info: BitNetModelInfo } | null = null;
let builtIn: { url: string; label: string } | null = null;
let generation: AbortController | null = null;
let loading = false;
let restartPending = false;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0];

function setState(s: "loading" | "ready" | "generating" | "error"): void {
  document.body.dataset.state = s;
  const busy = generation !== null;
  sendButton.disabled = !loaded || loading || busy;
  sendButton.hidden = busy;
  stopButton.hidden = !busy;
  input.placeholder = loaded ? "Message the model" : loading ? "Loading the model…" : "Load a model to start";
}

function persist(): void {
  const problem = saveState(state);
  if (problem) liveStats.textContent = problem;
}

// ---- models ----

async function builtInModel(): Promise<{ url: string; label: string }> {
  const param = new URLSearchParams(location.search).get("model");
  if (param) {
    const url = new URL(param, location.href).href;
    return { url, label: modelLabel(url) };
  }
  try {
    const res = await fetch("model.json", { cache: "no-store" });
    const spec: unknown = res.ok ? await res.json() : null;
    if (spec && typeof spec === "object" && typeof (spec as { url?: unknown }).url === "string") {
      const { url, name } = spec as { url: string; name?: unknown };
      const abs = new URL(url, location.href).href;
      return { url: abs, label: typeof name === "string" ? name : modelLabel(abs) };
    }
  } catch {
    // no model.json beside the page: the file name the build uses
  }
  const url = new URL("models/bitnet-default.gguf", location.href).href;
  return { url, label: "bitnet-default.gguf" };
}

async function getEngine(): Promise<BitNetWorker> {
  engine ??= await createBitNetWorker({ threads: state.settings.threads ?? undefined });
  return engine;
}

function showEngine(info: BitNetModelInfo): void {
  const threads = `${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  badge.textContent = `${loaded?.label ?? ""} · ${info.kernels} · ${threads}`;
  $("engine-kernels").textContent = info.kernels;
  $("engine-threads").textContent = threads;
  $("engine-context").textContent = `${info.contextLength} tokens`;
  const fallback = $("engine-fallback");
  fallback.hidden = info.fallbackReason === null;
  fallback.textContent = info.fallbackReason ?? "";
  document.body.dataset.kernels = info.kernels;
  document.body.dataset.threads = String(info.threads);
  document.body.dataset.modelSource = info.source;
}

async function loadModel(request: ModelRequest, retryPrevious = true): Promise<void> {
  if (loading) return;
  generation?.abort();
  loading = true;
  const previous = loaded;
  loaded = null;
  setState("loading");
  panel.setBusy(true);
  let failure: string | null = null;
  try {
    builtIn ??= await builtInModel();
    const target = request.kind === "default" ? { source: builtIn.url, url: builtIn.url, label: builtIn.label } : request.kind === "url" ? { source: request.url, url: request.url, label: modelLabel(request.url) } : { source: request.file, url: null, label: request.file.name };
    panel.starting(target.label);
    badge.textContent = `Loading ${target.label}…`;
    const t0 = performance.now();
    const e = await getEngine();
    const info = await e.load(target.source, { onProgress: (ev) => panel.progress(ev) });
    loaded = { request, url: target.url, label: target.label, info };
    panel.loaded(target.label, info, (performance.now() - t0) / 1000);
    showEngine(info);
    settingsForm.setContextLength(info.contextLength);
    if (request.kind !== "file") {
      state.model = request.kind === "url" ? { kind: "url", url: request.url } : { kind: "default" };
      persist();
    }
  } catch (e) {
    failure = message(e);
    panel.failed(failure);
    badge.textContent = "No model loaded";
  } finally {
    loading = false;
    panel.setBusy(false);
    setState(loaded ? "ready" : "error");
    void refreshCached();
  }
  if (restartPending) {
    restartPending = false;
    await restartEngine();
  } else if (failure !== null && retryPrevious && previous) {
    // Put back the model that was there (from the cache, usually at once), keeping the error in view.
    await loadModel(previous.request, false);
    if (loaded) panel.showError(`${failure} (${previous.label} is loaded again)`);
  }
}

async function refreshCached(): Promise<void> {
  try {
    panel.renderCached(await listCachedModels(), loaded?.url ?? null);
  } catch (e) {
    panel.showError(`the model cache cannot be read: ${message(e)}`);
  }
}

async function removeCached(url: string): Promise<void> {
  try {
    await deleteCachedModel(url);
  } catch (e) {
    panel.showError(`${modelLabel(url)} could not be deleted: ${message(e)}`);
  }
  await refreshCached();
}

/** A new engine (threads changed), with the same model loaded again. */
async function restartEngine(): Promise<void> {
  if (loading) {
    restartPending = true;
    return;
  }
  generation?.abort();
  const old = engine;
  engine = null;
  await old?.dispose().catch(() => undefined);
  await loadModel(loaded?.request ?? (state.model.kind === "url" ? state.model : { kind: "default" }), false);
}

function onSettings(settings: Settings, changed: keyof Settings): void {
  state.settings = settings;
  persist();
  if (changed === "threads") void restartEngine();
}

// ---- chat ----

function conversation(systemPrompt: string): ChatMessage[] {
  const turns: ChatMessage[] = state.messages.filter((m) => !m.error && (m.role === "user" || m.content !== "")).map(({ role, content }) => ({ role, content }));
  return systemPrompt.trim() ? [{ role: "system", content: systemPrompt }, ...turns] : turns;
}

async function send(text: string): Promise<void> {
  if (!loaded || !engine || generation || loading || text.trim() === "") return;
  const settings = settingsForm.settings;
  const user: StoredMessage = { role: "user", content: text };
  state.messages.push(user);
  view.append(user);
  const messages = conversation(settings.systemPrompt);
  const reply: StoredMessage = { role: "assistant", content: "" };
  state.messages.push(reply);
  const item = view.append(reply);
  item.setBusy(true);
  input.value = "";
  fitInput();
  persist();

  const controller = new AbortController();
  generation = controller;
  setState("generating");
  const t0 = performance.now();
  let first: number | null = null;
  let last = t0;
  let tokens = 0;
  let promptTokens: number | null = null;
  const stats = (done = false): ReplyStats => ({
    tokens,
    totalMs: done ? performance.now() - t0 : null,
    firstTokenMs: first === null ? null : first - t0,
    tokensPerSecond: first !== null && tokens >= 2 && last > first ? (tokens - 1) / ((last - first) / 1000) : null,
    promptTokens,
  });
  const seed = settings.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
  const options = { temperature: settings.temperature, topP: settings.topP, maxTokens: settings.maxTokens, seed, overflow: "truncate" as const, signal: controller.signal };
  try {
    for await (const t of engine.chat(messages, options, (_reason, p) => (promptTokens = p))) {
      const now = performance.now();
      if (t.token >= 0) {
        tokens++;
        first ??= now;
        last = now;
      }
      reply.content += t.text;
      item.setText(reply.content);
      liveStats.textContent = formatStats(stats());
    }
  } catch (e) {
    if (controller.signal.aborted) reply.stopped = true;
    else reply.error = message(e);
  } finally {
    reply.stats = stats(true);
    item.setBusy(false);
    item.setMeta(reply);
    liveStats.textContent = ""; // the reply's own line under it keeps the figures
    generation = null;
    setState(loaded ? "ready" : "error");
    persist();
    if (!panelElement.classList.contains("open")) input.focus();
  }
}

function stop(): void {
  generation?.abort();
}

function fitInput(): void {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight + 2, window.innerHeight * 0.4)}px`;
}

// ---- wiring ----

$<HTMLFormElement>("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  void send(input.value);
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    void send(input.value);
  }
});
input.addEventListener("input", fitInput);
stopButton.addEventListener("click", () => {
  stop();
  input.focus();
});
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  if (generation) {
    e.preventDefault();
    stop();
  } else if (panelElement.classList.contains("open")) {
    togglePanel(false);
    panelToggle.focus();
  }
});
function togglePanel(open: boolean): void {
  panelElement.classList.toggle("open", open);
  panelToggle.setAttribute("aria-expanded", String(open));
  panelToggle.textContent = open ? "Back to chat" : "Model & settings";
}
panelToggle.addEventListener("click", () => togglePanel(!panelElement.classList.contains("open")));
$<HTMLButtonElement>("new-chat").addEventListener("click", () => {
  stop();
  state.messages = [];
  view.render(state.messages);
  liveStats.textContent = "";
  persist();
  togglePanel(false);
  input.focus();
});

view.render(state.messages);
if (warning) liveStats.textContent = warning;
setState("loading");
void loadModel(state.model.kind === "url" ? { kind: "url", url: state.model.url } : { kind: "default" }).then(() => {
  // A saved URL that no longer loads: fall back to the built-in model.
  if (!loaded && state.model.kind === "url") void loadModel({ kind: "default" }, false);
});
input.focus();
