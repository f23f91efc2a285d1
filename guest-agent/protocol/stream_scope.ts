/**
 * The part of a {@linkcode Connection} one request handler uses, and a revocable view of it.
 *
 * A VM restored from a snapshot gets a new host on the same byte stream: the new host repeats its
 * hello and numbers its streams from 1 again. What the previous host started must then fall
 * silent — its late `exec.exit` for stream 1 would otherwise answer the new host's stream 1. Each
 * handler works through a {@linkcode StreamScope}; revoking it fails the handler's pipes and drops
 * everything it still sends, without touching streams opened after the revocation.
 *
 * @module
 */

import type { Connection } from "./connection.ts";
import { ProtocolError } from "./errors.ts";
import type { Fd, Message } from "./messages.ts";

/** What a request handler may do with its connection. */
export type StreamPort = Pick<Connection, "send" | "receive" | "transmit" | "forget">;

/**
 * A {@linkcode StreamPort} that can be cut off from its connection.
 *
 * @example
 * ```ts
 * import { Connection, StreamScope } from "@agentbox/protocol";
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const scope = new StreamScope(new Connection({ readable, writable }));
 * scope.revoke();
 * await scope.send({ type: "stream.end", stream: 1, fd: 1 }); // dropped
 * ```
 */
export class StreamScope implements StreamPort {
  readonly #conn: StreamPort;
  readonly #streams = new Set<number>();
  #revoked = false;

  constructor(conn: StreamPort) {
    this.#conn = conn;
  }

  /** Whether {@linkcode StreamScope.revoke} was called. */
  get revoked(): boolean {
    return this.#revoked;
  }

  /** Send, unless revoked (then the message is dropped). */
  send(message: Message): Promise<void> {
    return this.#revoked ? Promise.resolve() : this.#conn.send(message);
  }

  /** As {@linkcode Connection.receive}; after revocation the stream fails at once. */
  receive(stream: number, fd: Fd): ReadableStream<Uint8Array> {
    if (this.#revoked) return failedReadable();
    this.#streams.add(stream);
    return this.#conn.receive(stream, fd);
  }

  /** As {@linkcode Connection.transmit}; after revocation every write fails. */
  transmit(stream: number, fd: Fd): WritableStream<Uint8Array> {
    if (this.#revoked) return failedWritable();
    this.#streams.add(stream);
    return this.#conn.transmit(stream, fd);
  }

  /** As {@linkcode Connection.forget}; a no-op after revocation (the ids may be reused). */
  forget(stream: number): void {
    if (this.#revoked) return;
    this.#streams.delete(stream);
    this.#conn.forget(stream);
  }

  /** Fail every pipe this scope opened and drop whatever it sends from now on. Idempotent. */
  revoke(): void {
    if (this.#revoked) return;
    for (const stream of this.#streams) this.#conn.forget(stream);
    this.#streams.clear();
    this.#revoked = true;
  }
}

function revokedError(): ProtocolError {
  return new ProtocolError("closed", "The host that opened this stream is gone");
}

function failedReadable(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.error(revokedError()) });
}

function failedWritable(): WritableStream<Uint8Array> {
  return new WritableStream({ write: () => Promise.reject(revokedError()) });
}
