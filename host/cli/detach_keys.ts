/**
 * The key sequence that detaches `agentbox attach` from a session's command, leaving it running:
 * Ctrl-P Ctrl-Q by default, as docker's; `--detach-keys` names another in docker's format.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/** Docker's default detach keys. */
export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

const CTRL_KEYS = "@abcdefghijklmnopqrstuvwxyz[\\]^_";

/**
 * The bytes of a detach sequence written as docker writes it: comma-separated keys, each one
 * printable ASCII character or `ctrl-X` with X one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`. The
 * empty string means no detach keys. Throws {@linkcode UsageError} for anything else.
 *
 * @example
 * ```ts
 * import { parseDetachKeys } from "./detach_keys.ts";
 * console.assert(parseDetachKeys("ctrl-p,ctrl-q").join() === "16,17");
 * console.assert(parseDetachKeys("ctrl-a,d").join() === "1,100");
 * ```
 */
export function parseDetachKeys(spec: string): Uint8Array {
  if (spec === "") return new Uint8Array();
  const keys = spec.split(",").map((key) => {
    const ctrl = /^ctrl-(.)$/i.exec(key);
    if (ctrl) {
      const at = CTRL_KEYS.indexOf(ctrl[1].toLowerCase());
      if (at >= 0) return at;
    } else if (/^[\x21-\x7e]$/.test(key)) {
      return key.charCodeAt(0);
    }
    throw new UsageError(
      `--detach-keys: ${JSON.stringify(key.slice(0, 20))} is not a key: use a character or ` +
        "ctrl-X (X one of a-z @ [ \\ ] ^ _), comma-separated, e.g. ctrl-p,ctrl-q",
    );
  });
  if (keys.length > 16) throw new UsageError("--detach-keys: at most 16 keys");
  return Uint8Array.from(keys);
}

/**
 * Watches typed bytes for the detach sequence. Bytes that might begin it are held back until
 * the next key tells; the sequence itself is never forwarded.
 *
 * @example
 * ```ts
 * import { DetachKeys } from "./detach_keys.ts";
 * const keys = new DetachKeys(Uint8Array.of(16, 17));
 * console.assert(keys.push(Uint8Array.of(104, 16)).forward.join() === "104");
 * console.assert(keys.push(Uint8Array.of(17)).detached);
 * ```
 */
export class DetachKeys {
  readonly #sequence: Uint8Array;
  #matched = 0;

  constructor(sequence: Uint8Array) {
    this.#sequence = sequence;
  }

  /** What to forward of `chunk`, and whether the sequence is complete (the rest is dropped). */
  push(chunk: Uint8Array): { forward: Uint8Array; detached: boolean } {
    const seq = this.#sequence;
    if (seq.length === 0) return { forward: chunk, detached: false };
    const forward: number[] = [];
    for (const byte of chunk) {
      if (byte === seq[this.#matched]) {
        this.#matched++;
        if (this.#matched === seq.length) {
          this.#matched = 0;
          return { forward: Uint8Array.from(forward), detached: true };
        }
        continue;
      }
      // The held bytes were not the sequence after all: they go on, and this byte may start it.
      forward.push(...seq.subarray(0, this.#matched));
      this.#matched = 0;
      if (byte === seq[0]) this.#matched = 1;
      else forward.push(byte);
    }
    return { forward: Uint8Array.from(forward), detached: false };
  }
}
