/**
 * The one sanitiser for text the host prints that the guest (or a file it could write) chose:
 * paths, link targets, file contents in a diff, request hosts and paths, session details, error
 * messages, log tails. A terminal acts on C0 controls (ESC starts every escape sequence), DEL and
 * C1 controls (U+009B is a one-character CSI), and the Unicode bidirectional controls reorder what
 * the reader sees relative to the bytes (the "Trojan Source" trick). Each is shown as an escape
 * (`\x1b`, `\u202e`) instead, so the output says what is really there.
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Options of {@linkcode escapeControls}. */
export interface EscapeOptions {
  /** Control characters to leave as they are: `"\t"`, `"\n"` or `"\t\n"` (nothing else). */
  keep?: "\t" | "\n" | "\t\n";
  /** Cut the result to this many characters, ending it with `…`. */
  maxLength?: number;
}

/**
 * `text` with every terminal control escaped: C0 (except what `keep` names), DEL, C1, and the
 * bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
 * U+202A–U+202E, U+2066–U+2069).
 *
 * @example
 * ```ts
 * import { escapeControls } from "./terminal_text.ts";
 * console.assert(escapeControls("a\x1b[2Jb") === "a\\x1b[2Jb");
 * console.assert(escapeControls("\u202eabc") === "\\u202eabc");
 * console.assert(escapeControls("a\tb", { keep: "\t" }) === "a\tb");
 * ```
 */
export function escapeControls(text: string, options: EscapeOptions = {}): string {
  const keep = options.keep ?? "";
  const escaped = String(text).replace(CONTROLS, (c) => {
    if (keep.includes(c)) return c;
    const code = c.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, "0")}`
      : `\\x${code.toString(16).padStart(2, "0")}`;
  });
  const max = options.maxLength;
  return max !== undefined && escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/**
 * A name (path, session name, host) made safe to print on one line: {@linkcode escapeControls},
 * newlines included, capped at 512 characters.
 *
 * @example
 * ```ts
 * import { printable } from "./terminal_text.ts";
 * console.assert(printable("a\nb") === "a\\x0ab");
 * ```
 */
export function printable(text: string): string {
  return escapeControls(text, { maxLength: 512 });
}

/**
 * JSON text with the characters JSON leaves raw but a terminal acts on (DEL, C1, bidirectional
 * controls) written as `\u` escapes; the document means the same. C0 controls are already escaped
 * by `JSON.stringify`.
 *
 * @example
 * ```ts
 * import { jsonSafe } from "./terminal_text.ts";
 * console.assert(jsonSafe(JSON.stringify("a\u009bb")) === '"a\\u009bb"');
 * ```
 */
export function jsonSafe(json: string): string {
  return json.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
