/**
 * The settings form: fills its fields from Settings, and reads them back (a field left invalid keeps
 * the previous value, and is marked aria-invalid until fixed). Calls `onChange` after each edit.
 * Not here: storing the settings (state.ts) or applying them (main.ts).
 */
import type { Settings } from "./state.ts";

export class SettingsForm {
  private readonly form: HTMLFormElement;
  private readonly fields: {
    temperature: HTMLInputElement;
    topP: HTMLInputElement;
    maxTokens: HTMLInputElement;
    seed: HTMLInputElement;
    threads: HTMLSelectElement;
    systemPrompt: HTMLTextAreaElement;
  };
  private current: Settings;

  constructor(form: HTMLFormElement, settings: Settings, maxThreads: number, onChange: (s: Settings, changed: keyof Settings) => void) {
    this.form = form;
    const f = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
    this.fields = {
      temperature: f("temperature"),
      topP: f("topP"),
      maxTokens: f("maxTokens"),
      seed: f("seed"),
      threads: form.elements.namedItem("threads") as HTMLSelectElement,
      systemPrompt: form.elements.namedItem("systemPrompt") as HTMLTextAreaElement,
    };
    const threads = this.fields.threads;
    threads.replaceChildren(new Option(`Auto (${maxThreads})`, ""));
    for (let n = 1; n <= Math.max(maxThreads, settings.threads ?? 1); n++) threads.append(new Option(String(n), String(n)));
    this.current = settings;
    this.fill(settings);
    form.addEventListener("submit", (e) => e.preventDefault());
    for (const [key, el] of Object.entries(this.fields) as [keyof Settings, HTMLElement][]) {
      el.addEventListener("change", () => {
        const before = this.current;
        this.current = this.read();
        if (before[key] !== this.current[key]) onChange(this.current, key);
      });
    }
  }

  get settings(): Settings {
    return this.current;
  }

  /** Caps max tokens at the loaded model's context. */
  setContextLength(n: number): void {
    this.fields.maxTokens.max = String(n);
  }

  private fill(s: Settings): void {
    this.fields.temperature.value = String(s.temperature);
    this.fields.topP.value = String(s.topP);
    this.fields.maxTokens.value = String(s.maxTokens);
    this.fields.seed.value = s.seed === null ? "" : String(s.seed);
    this.fields.threads.value = s.threads === null ? "" : String(s.threads);
    this.fields.systemPrompt.value = s.systemPrompt;
  }

  private read(): Settings {
    const prev = this.current;
    const number = <T>(el: HTMLInputElement, fallback: T, integer: boolean): number | T => {
      const v = el.valueAsNumber;
      const ok = el.checkValidity() && Number.isFinite(v) && (!integer || Number.isInteger(v));
      el.setAttribute("aria-invalid", String(!ok));
      return ok ? v : fallback;
    };
    const seedText = this.fields.seed.value.trim();
    return {
      temperature: number(this.fields.temperature, prev.temperature, false),
      topP: number(this.fields.topP, prev.topP, false),
      maxTokens: number(this.fields.maxTokens, prev.maxTokens, true),
      seed: seedText === "" ? (this.fields.seed.setAttribute("aria-invalid", "false"), null) : number(this.fields.seed, prev.seed, true),
      threads: this.fields.threads.value === "" ? null : Number(this.fields.threads.value),
      systemPrompt: this.fields.systemPrompt.value,
    };
  }
}
