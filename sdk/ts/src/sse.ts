/**
 * Server-sent events (`text/event-stream`) read from a byte stream: the server's event stream
 * (`GET /v1/events`) and image builds' progress (`POST /v1/images/build`).
 *
 * @module
 */

import { protocolError } from "./errors.ts";

/** One event: its name (`event:`) and its `data:` parsed as JSON. */
export interface ServerEvent {
  type: string;
  data: unknown;
}

/**
 * The events in `chunks`, as they complete (a blank line ends one; `data:` lines join with a
 * newline; comments and other fields are skipped).
 *
 * @example
 * ```ts
 * import { serverEvents } from "./sse.ts";
 * const bytes = new TextEncoder().encode('event: sandbox\ndata: {"id":"a"}\n\n');
 * for await (const event of serverEvents([bytes])) console.assert(event.type === "sandbox");
 * ```
 */
export async function* serverEvents(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<ServerEvent, void, undefined> {
  const decoder = new TextDecoder();
  let pending = "";
  let type = "message";
  let data: string[] = [];
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.search(/\r?\n/)) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + (pending[newline] === "\r" ? 2 : 1));
      if (line === "") {
        if (data.length > 0) {
          const text = data.join("\n");
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch {
            throw protocolError(`An event's data is not JSON: ${text.slice(0, 80)}`);
          }
          yield { type, data: value };
        }
        type = "message";
        data = [];
      } else if (line.startsWith("event:")) {
        type = line.slice(6).trim();
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line[5] === " " ? 6 : 5));
      }
    }
  }
}
