/**
 * The conversation on screen: one list item per message (role, text, and for replies a line with
 * tokens, time to first token and tok/s). Model output is shown as text (textContent), never parsed as
 * HTML. While a reply streams, its item is aria-busy, so screen readers announce it once, when done.
 * Not here: what the messages are (state.ts) or where they come from (main.ts).
 */
import type { ReplyStats, StoredMessage } from "./state.ts";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const ms = (t: number): string => (t < 1000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(2)} s`);

/** "24 tokens in 0.31 s · first token 85 ms · 51.2 tok/s" (no total while the reply runs). */
export function formatStats(s: ReplyStats): string {
  const parts = [`${s.tokens} token${s.tokens === 1 ? "" : "s"}${s.totalMs !== null ? ` in ${ms(s.totalMs)}` : ""}`];
  if (s.firstTokenMs !== null) parts.push(`first token ${ms(s.firstTokenMs)}`);
  if (s.tokensPerSecond !== null) parts.push(`${s.tokensPerSecond.toFixed(1)} tok/s`);
  return parts.join(" · ");
}

export interface MessageItem {
  readonly element: HTMLLIElement;
  setText(text: string): void;
  setBusy(busy: boolean): void;
  setMeta(message: StoredMessage): void;
}

export class ChatView {
  private readonly list: HTMLOListElement;
  private readonly empty: HTMLElement;
  private readonly scroller: HTMLElement;

  constructor(list: HTMLOListElement, empty: HTMLElement, scroller: HTMLElement) {
    this.list = list;
    this.empty = empty;
    this.scroller = scroller;
  }

  render(messages: readonly StoredMessage[]): void {
    this.list.replaceChildren();
    for (const m of messages) this.append(m);
    this.empty.hidden = messages.length > 0;
    this.scrollToEnd(true);
  }

  append(message: StoredMessage): MessageItem {
    this.empty.hidden = true;
    const li = document.createElement("li");
    li.className = `msg ${message.role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = message.role === "user" ? "You" : "Model";
    const text = document.createElement("div");
    text.className = "text";
    const show = (t: string): string => (message.role === "assistant" ? t.trimStart() : t);
    text.textContent = show(message.content);
    const meta = document.createElement("p");
    meta.className = "meta";
    li.append(who, text, meta);
    this.list.append(li);
    const item: MessageItem = {
      element: li,
      setText: (t) => {
        const stick = this.nearEnd();
        text.textContent = show(t);
        if (stick) this.scrollToEnd(false);
      },
      setBusy: (busy) => li.setAttribute("aria-busy", String(busy)),
      setMeta: (m) => {
        const parts: string[] = [];
        if (m.stats) parts.push(formatStats(m.stats));
        if (m.stopped) parts.push("stopped");
        if (m.error) parts.push(`error: ${m.error}`);
        meta.textContent = parts.join(" · ");
        meta.classList.toggle("stopped", Boolean(m.stopped || m.error));
        meta.hidden = parts.length === 0;
        if (m.stats) {
          li.dataset.tokens = String(m.stats.tokens);
          if (m.stats.firstTokenMs !== null) li.dataset.firstTokenMs = String(Math.round(m.stats.firstTokenMs));
          if (m.stats.totalMs !== null) li.dataset.totalMs = String(Math.round(m.stats.totalMs));
        }
      },
    };
    item.setMeta(message);
    this.scrollToEnd(true);
    return item;
  }

  private nearEnd(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  private scrollToEnd(force: boolean): void {
    if (force || this.nearEnd()) this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
