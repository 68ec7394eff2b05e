/**
 * What the chat page keeps across reloads, in localStorage under one key: the conversation, the
 * settings and which model was loaded. Whatever is stored is read as untrusted (another version of the
 * page, a hand edit, a full disk): a value that does not fit is replaced by its default, never thrown.
 * Not here: the DOM (chat-view.ts, main.ts), the model bytes (the model cache keeps those).
 */

export interface Settings {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  maxTokens: number;
  /** null = a new random seed per reply. */
  seed: number | null;
  /** null = the engine's default (navigator.hardwareConcurrency). */
  threads: number | null;
  systemPrompt: string;
}

export interface ReplyStats {
  tokens: number;
  /** Milliseconds from Send to the end of the reply. */
  totalMs: number | null;
  /** Milliseconds from Send to the first token. */
  firstTokenMs: number | null;
  /** Decode speed after the first token, or null for fewer than 2 tokens. */
  tokensPerSecond: number | null;
  promptTokens: number | null;
}

export interface StoredMessage {
  role: "user" | "assistant";
  content: string;
  /** The user stopped this reply before it finished. */
  stopped?: boolean;
  /** The reply failed with this error. */
  error?: string;
  stats?: ReplyStats;
}

/** The model to load on start: the page's built-in one, or a URL (a file from the picker cannot be reopened). */
export type ModelChoice = { kind: "default" } | { kind: "url"; url: string };

export interface PageState {
  messages: StoredMessage[];
  settings: Settings;
  model: ModelChoice;
}

export const DEFAULT_SETTINGS: Settings = { temperature: 0.8, topP: 0.95, maxTokens: 96, seed: null, threads: null, systemPrompt: "" };

const KEY = "bitnet-chat:v1";
/** A conversation longer than this keeps its last messages only (localStorage holds a few MB). */
const MAX_MESSAGES = 200;
const MAX_TEXT = 100_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function num(v: unknown, min: number, max: number, fallback: number, integer = false): number {
  return typeof v === "number" && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v)) ? v : fallback;
}

export function validSettings(v: unknown): Settings {
  const s = isRecord(v) ? v : {};
  const d = DEFAULT_SETTINGS;
  return {
    temperature: num(s.temperature, 0, 2, d.temperature),
    topP: num(s.topP, 0, 1, d.topP),
    maxTokens: num(s.maxTokens, 1, 4096, d.maxTokens, true),
    seed: s.seed === null ? null : num(s.seed, 0, 2 ** 32 - 1, -1, true) === -1 ? null : (s.seed as number),
    threads: s.threads === null ? null : num(s.threads, 1, 256, -1, true) === -1 ? null : (s.threads as number),
    systemPrompt: typeof s.systemPrompt === "string" ? s.systemPrompt.slice(0, MAX_TEXT) : d.systemPrompt,
  };
}

function validStats(v: unknown): ReplyStats | undefined {
  if (!isRecord(v)) return undefined;
  const orNull = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) && x >= 0 ? x : null);
  return { tokens: num(v.tokens, 0, 1e9, 0, true), totalMs: orNull(v.totalMs), firstTokenMs: orNull(v.firstTokenMs), tokensPerSecond: orNull(v.tokensPerSecond), promptTokens: orNull(v.promptTokens) };
}

function validMessages(v: unknown): StoredMessage[] {
  if (!Array.isArray(v)) return [];
  const out: StoredMessage[] = [];
  for (const m of v.slice(-MAX_MESSAGES)) {
    if (!isRecord(m) || (m.role !== "user" && m.role !== "assistant") || typeof m.content !== "string") continue;
    const msg: StoredMessage = { role: m.role, content: m.content.slice(0, MAX_TEXT) };
    if (m.stopped === true) msg.stopped = true;
    if (typeof m.error === "string") msg.error = m.error.slice(0, 1000);
    const stats = validStats(m.stats);
    if (stats) msg.stats = stats;
    out.push(msg);
  }
  return out;
}

function validModel(v: unknown): ModelChoice {
  if (isRecord(v) && v.kind === "url" && typeof v.url === "string" && /^https?:\/\//.test(v.url)) return { kind: "url", url: v.url };
  return { kind: "default" };
}

/** The stored state, or the defaults; `warning` says what was wrong with what was stored, if anything. */
export function loadState(storage: Storage | undefined = globalThis.localStorage): { state: PageState; warning: string | null } {
  const fresh: PageState = { messages: [], settings: { ...DEFAULT_SETTINGS }, model: { kind: "default" } };
  let raw: string | null = null;
  try {
    raw = storage?.getItem(KEY) ?? null;
  } catch {
    return { state: fresh, warning: "this browser does not let the page use localStorage: the conversation will not be kept" };
  }
  if (raw === null) return { state: fresh, warning: null };
  try {
    const v: unknown = JSON.parse(raw);
    if (!isRecord(v)) throw new Error("not an object");
    return { state: { messages: validMessages(v.messages), settings: validSettings(v.settings), model: validModel(v.model) }, warning: null };
  } catch {
    return { state: fresh, warning: "the saved conversation could not be read and was reset" };
  }
}

/** Saves the state; returns an error message when the browser refuses (quota, privacy settings), else null. */
export function saveState(state: PageState, storage: Storage | undefined = globalThis.localStorage): string | null {
  try {
    storage?.setItem(KEY, JSON.stringify({ ...state, messages: state.messages.slice(-MAX_MESSAGES) }));
    return null;
  } catch (e) {
    return `the conversation could not be saved (${e instanceof Error ? e.message : String(e)})`;
  }
}
