/**
 * Non-empty, trimmed lines of a byte stream, decoded as UTF-8.
 *
 * @module
 */

/**
 * Yield each non-empty line of `readable`, trimmed, as it arrives. A last line without a newline
 * is dropped: it may be cut.
 *
 * @example
 * ```ts
 * import { readLines } from "./read_lines.ts";
 * const bytes = new Blob(["a\n\n b \nc"]).stream();
 * for await (const line of readLines(bytes)) console.log(line); // "a", then "b" ("c" has no newline)
 * ```
 */
export async function* readLines(readable: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield line;
    }
  }
}
