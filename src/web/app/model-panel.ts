/**
 * The page's model card: which model is loaded, the download and load progress bars, the one-line
 * error of a load that failed, and the ways to choose a model (the built-in one, a file from the
 * picker or dropped on the page, a URL, a model from the cache, which can also be deleted here).
 * It only reports what the user asked for; main.ts does the loading. Not here: the cache itself.
 */
import type { BitNetModelInfo, CachedModel, WebLoadProgressEvent } from "../index.ts";
import { formatBytes } from "./chat-view.ts";

export type ModelRequest = { kind: "default" } | { kind: "url"; url: string } | { kind: "file"; file: File };

export interface ModelPanelHandlers {
  load(request: ModelRequest): void;
  deleteCached(url: string): void;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

/** The last path segment of a URL, for display. */
export function modelLabel(url: string): string {
  try {
    const u = new URL(url);
    return decodeURIComponent(u.pathname.split("/").filter(Boolean).at(-1) ?? u.host);
  } catch {
    return url;
  }
}

export class ModelPanel {
  private readonly name = $<HTMLParagraphElement>("model-name");
  private readonly detail = $<HTMLParagraphElement>("model-detail");
  private readonly download = $<HTMLProgressElement>("download-progress");
  private readonly downloadText = $<HTMLSpanElement>("download-text");
  private readonly loadBar = $<HTMLProgressElement>("load-progress");
  private readonly loadText = $<HTMLSpanElement>("load-text");
  private readonly error = $<HTMLParagraphElement>("error");
  private readonly fileInput = $<HTMLInputElement>("file-input");
  private readonly urlForm = $<HTMLFormElement>("url-form");
  private readonly urlInput = $<HTMLInputElement>("url-input");
  private readonly defaultButton = $<HTMLButtonElement>("load-default");
  private readonly cached = $<HTMLUListElement>("cached");
  private readonly overlay = $<HTMLDivElement>("drop-overlay");
  private readonly handlers: ModelPanelHandlers;
  private busy = false;

  constructor(handlers: ModelPanelHandlers) {
    this.handlers = handlers;
    this.fileInput.addEventListener("change", () => {
      const file = this.fileInput.files?.[0];
      if (file) handlers.load({ kind: "file", file });
      this.fileInput.value = "";
    });
    this.urlForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const url = this.urlInput.value.trim();
      if (url) handlers.load({ kind: "url", url: new URL(url, location.href).href });
    });
    this.defaultButton.addEventListener("click", () => handlers.load({ kind: "default" }));
    this.listenForDrops();
  }

  /** Files dragged over the page show an overlay; the first dropped file is loaded. */
  private listenForDrops(): void {
    let depth = 0;
    const hasFiles = (e: DragEvent): boolean => Array.from(e.dataTransfer?.types ?? []).includes("Files");
    window.addEventListener("dragenter", (e) => {
      if (!hasFiles(e)) return;
      depth++;
      this.overlay.hidden = false;
    });
    window.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) this.overlay.hidden = true;
    });
    window.addEventListener("dragover", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
    });
    window.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      this.overlay.hidden = true;
      const file = e.dataTransfer?.files[0];
      if (file && !this.busy) this.handlers.load({ kind: "file", file });
    });
  }

  setBusy(busy: boolean): void {
    this.busy = busy;
    for (const el of [this.fileInput, this.urlInput, this.defaultButton, ...this.urlForm.querySelectorAll("button"), ...this.cached.querySelectorAll("button")]) {
      (el as HTMLInputElement | HTMLButtonElement).disabled = busy;
    }
  }

  starting(label: string): void {
    this.name.textContent = `Loading ${label}…`;
    this.detail.textContent = "";
    this.showError(null);
    this.setBar(this.download, this.downloadText, 0, 1, "—");
    this.setBar(this.loadBar, this.loadText, 0, 1, "—");
  }

  progress(e: WebLoadProgressEvent): void {
    switch (e.phase) {
      case "download":
        if (e.totalBytes) this.setBar(this.download, this.downloadText, e.loadedBytes, e.totalBytes, `${Math.floor((100 * e.loadedBytes) / e.totalBytes)}%`);
        else this.setBar(this.download, this.downloadText, null, 1, formatBytes(e.loadedBytes));
        break;
      case "cache":
        this.setBar(this.download, this.downloadText, 1, 1, "cached");
        break;
      case "header":
        if (this.downloadText.textContent === "—") this.setBar(this.download, this.downloadText, 1, 1, "local file");
        this.setBar(this.loadBar, this.loadText, 0, 1, "0%");
        break;
      case "weights":
        this.setBar(this.loadBar, this.loadText, e.loadedBytes, e.totalBytes, `${Math.floor((100 * e.loadedBytes) / Math.max(1, e.totalBytes))}%`);
        break;
      case "ready":
        this.setBar(this.loadBar, this.loadText, 1, 1, "100%");
        break;
    }
  }

  /** `value` null shows an indeterminate bar. */
  private setBar(bar: HTMLProgressElement, text: HTMLElement, value: number | null, max: number, label: string): void {
    bar.max = max;
    if (value === null) bar.removeAttribute("value");
    else bar.value = Math.min(value, max);
    bar.setAttribute("aria-valuetext", label);
    text.textContent = label;
  }

  loaded(label: string, info: BitNetModelInfo, seconds: number): void {
    const c = info.config;
    this.name.textContent = label;
    const from = info.source === "cache" ? "from the cache" : info.source === "network" ? "downloaded" : "opened";
    const params = `${c.nLayers} layers, dim ${c.dim}, vocab ${c.vocabSize}`;
    this.detail.textContent = `${formatBytes(info.fileBytes)}, ${from}, loaded in ${seconds.toFixed(2)} s · ${params}` + (info.cacheError ? ` · not cached: ${info.cacheError}` : "");
  }

  failed(message: string): void {
    this.name.textContent = "No model loaded";
    this.detail.textContent = "";
    this.showError(message);
  }

  showError(message: string | null): void {
    this.error.hidden = message === null;
    this.error.textContent = message ?? "";
  }

  renderCached(models: readonly CachedModel[], currentUrl: string | null): void {
    this.cached.replaceChildren();
    if (models.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "None yet: models loaded from a URL are kept here.";
      this.cached.append(li);
      return;
    }
    for (const m of models) {
      const label = modelLabel(m.url);
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.title = m.url;
      name.textContent = label;
      if (m.url === currentUrl) {
        name.classList.add("current");
        li.setAttribute("aria-current", "true");
        name.title = `${m.url} (loaded now)`;
      }
      const size = document.createElement("span");
      size.className = "size";
      size.textContent = formatBytes(m.size);
      const load = document.createElement("button");
      load.type = "button";
      load.className = "link";
      load.textContent = "Load";
      load.setAttribute("aria-label", `Load ${label} from the cache`);
      load.addEventListener("click", () => this.handlers.load({ kind: "url", url: m.url }));
      const del = document.createElement("button");
      del.type = "button";
      del.className = "link";
      del.textContent = "Delete";
      del.setAttribute("aria-label", `Delete ${label} (${formatBytes(m.size)}) from the cache`);
      del.addEventListener("click", () => this.handlers.deleteCached(m.url));
      li.append(name, size, load, del);
      this.cached.append(li);
    }
    this.setBusy(this.busy);
  }
}
