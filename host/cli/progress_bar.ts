/**
 * One line of progress on stderr: a bar redrawn in place on a terminal, occasional plain lines
 * otherwise (logs stay readable).
 *
 * @module
 */

import type { StepProgress } from "../../image/progress.ts";

/** Width of the bar, in characters between the brackets. */
const BAR_WIDTH = 24;

/** Without a terminal, a line at most this often unless the phase changes. */
const PLAIN_INTERVAL_MS = 15_000;

/**
 * `[#########---------------]  37%`, or an empty string when `fraction` is unknown.
 *
 * @example
 * ```ts
 * import { renderBar } from "./progress_bar.ts";
 * renderBar(0.5); // "[############------------]  50%"
 * ```
 */
export function renderBar(fraction: number | undefined, width = BAR_WIDTH): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return "";
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * width);
  const percent = `${Math.floor(clamped * 100)}%`.padStart(4);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent}`;
}

/**
 * Progress of a long step on stderr.
 *
 * @example
 * ```ts
 * import { ProgressLine } from "./progress_bar.ts";
 * const line = new ProgressLine();
 * line.update({ label: "apt: installing: Unpacking git", fraction: 0.4 });
 * line.clear();
 * ```
 */
export class ProgressLine {
  readonly #terminal: boolean;
  readonly #write: (text: string) => void;
  #shown = false;
  #lastPhase = "";
  #lastPlain = 0;

  constructor(
    options: { terminal?: boolean; write?: (text: string) => void } = {},
  ) {
    this.#terminal = options.terminal ?? Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    this.#write = options.write ?? ((text) => Deno.stderr.writeSync(encoder.encode(text)));
  }

  /** Show `progress`. */
  update(progress: StepProgress): void {
    const bar = renderBar(progress.fraction);
    const text = bar ? `  ${bar} ${progress.label}` : `  ${progress.label}`;
    if (this.#terminal) {
      const columns = terminalColumns();
      this.#write(`\r\x1b[K${text.slice(0, columns - 1)}`);
      this.#shown = true;
      return;
    }
    // "apt: installing: Unpacking git" and "debootstrap: extracting 12" → their phase.
    const phase = progress.label.split(":").slice(0, 2).join(":").replace(/[\d/]+/g, "");
    const now = Date.now();
    if (phase !== this.#lastPhase || now - this.#lastPlain >= PLAIN_INTERVAL_MS) {
      this.#lastPhase = phase;
      this.#lastPlain = now;
      this.#write(`${text}\n`);
    }
  }

  /** Remove the line from a terminal (before other output). */
  clear(): void {
    if (this.#terminal && this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
  }
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}
