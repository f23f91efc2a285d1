/**
 * The last bytes a guest wrote to its console, kept in a fixed-size ring. The console is guest
 * output, so it is bounded in memory and never written to the host's disk: a guest that floods it
 * costs the host nothing but this buffer.
 *
 * @module
 */

import { escapeControls } from "../terminal_text.ts";

/** Bytes of console output kept. */
export const CONSOLE_TAIL_BYTES = 64 * 1024;

/**
 * A ring of the most recent console bytes.
 *
 * @example
 * ```ts
 * import { ConsoleTail } from "./console_tail.ts";
 * const tail = new ConsoleTail(16);
 * tail.push(new TextEncoder().encode("boot\nagentbox-init: no root disk\n"));
 * console.log(tail.lines(1)); // "agentbox-init: no root disk"
 * ```
 */
export class ConsoleTail {
  readonly #ring: Uint8Array;
  #end = 0;
  #filled = false;

  constructor(size = CONSOLE_TAIL_BYTES) {
    this.#ring = new Uint8Array(size);
  }

  /** Append output; older bytes fall off the front. */
  push(bytes: Uint8Array): void {
    const size = this.#ring.length;
    const chunk = bytes.length > size ? bytes.subarray(bytes.length - size) : bytes;
    const first = Math.min(chunk.length, size - this.#end);
    this.#ring.set(chunk.subarray(0, first), this.#end);
    this.#ring.set(chunk.subarray(first), 0);
    if (this.#end + chunk.length >= size) this.#filled = true;
    this.#end = (this.#end + chunk.length) % size;
  }

  /**
   * The last `count` lines as printable text: every control character except newline and tab is
   * escaped (terminal_text.ts), so the guest cannot drive the terminal the lines are shown on.
   */
  lines(count: number): string {
    const bytes = this.#filled
      ? new Uint8Array([...this.#ring.subarray(this.#end), ...this.#ring.subarray(0, this.#end)])
      : this.#ring.subarray(0, this.#end);
    const text = escapeControls(new TextDecoder().decode(bytes).replace(/\r\n/g, "\n"), {
      keep: "\t\n",
    });
    return text.trimEnd().split("\n").slice(-count).join("\n");
  }

  /** Read `stream` into the ring until it ends or fails. */
  async follow(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stream) this.push(chunk);
    } catch {
      // The console went away with the VM.
    }
  }
}
