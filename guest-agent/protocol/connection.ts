/**
 * One multiplexed protocol connection over any byte duplex (virtio-serial port, vsock, unix
 * socket). It frames, validates and dispatches messages, runs flow control for stream data, and
 * closes itself on the first protocol violation: a peer that sends garbage loses the connection,
 * never crashes or stalls this side.
 *
 * @module
 */

import { decodeMessage, encodeMessage } from "./codec.ts";
import { ProtocolError, type ProtocolErrorCode } from "./errors.ts";
import { FrameDecoder, MAX_FRAME_BYTES } from "./frame.ts";
import { InboundPipe, MAX_DATA_CHUNK_BYTES, OutboundCredit, STREAM_WINDOW_BYTES } from "./flow.ts";
import type { Fd, Hello, Message } from "./messages.ts";
import { PROTOCOL_VERSION } from "./messages.ts";

/** A bidirectional byte stream, such as a `Deno.Conn`. */
export interface Duplex {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/**
 * How long a frame may take to arrive once its first byte did (30 s): a peer that sends part of
 * a frame and then nothing, or trickles one, loses the connection instead of stalling this side.
 * A well-behaved peer writes whole frames of at most 1 MiB, which take milliseconds.
 */
export const FRAME_TIMEOUT_MS = 30_000;

/** Options for {@linkcode Connection}. */
export interface ConnectionOptions {
  /** Largest frame accepted or sent. */
  maxFrameBytes?: number;
  /**
   * Most milliseconds between a frame's first byte and its last (default
   * {@linkcode FRAME_TIMEOUT_MS}); `Infinity` waits forever.
   */
  frameTimeoutMs?: number;
  /** Receive window per stream fd. */
  windowBytes?: number;
  /**
   * Data or end frames for streams this side does not know are a fatal violation when true (the
   * host), and are dropped when false (the agent, which may see stdin after a process exited).
   */
  strictStreams?: boolean;
}

type Handler = (message: Message) => void;

/**
 * A framed, validated, flow-controlled connection. Messages other than stream data, end and credit
 * go to the handler given to {@linkcode Connection.start}.
 *
 * @example
 * ```ts
 * import { Connection } from "@agentbox/protocol";
 * const conn = await Deno.connect({ transport: "unix", path: "/run/agentbox.sock" });
 * const connection = new Connection(conn);
 * connection.start((msg) => console.log(msg.type));
 * ```
 */
export class Connection {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #readable: ReadableStream<Uint8Array>;
  readonly #maxFrameBytes: number;
  readonly #windowBytes: number;
  readonly #strict: boolean;
  readonly #frameTimeoutMs: number;
  #frameTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #inbound = new Map<string, InboundPipe>();
  readonly #outbound = new Map<string, OutboundCredit>();
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #error: Error | undefined;
  #closedResolve!: (error: Error | undefined) => void;
  /** Settles when the connection ends: with the reason, or undefined on a clean EOF. */
  readonly closed: Promise<Error | undefined>;

  constructor(duplex: Duplex, options: ConnectionOptions = {}) {
    this.#writer = duplex.writable.getWriter();
    this.#readable = duplex.readable;
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#windowBytes = options.windowBytes ?? STREAM_WINDOW_BYTES;
    this.#strict = options.strictStreams ?? true;
    this.#frameTimeoutMs = options.frameTimeoutMs ?? FRAME_TIMEOUT_MS;
    this.closed = new Promise((resolve) => this.#closedResolve = resolve);
    this.#writer.closed.catch((e) => this.close(e));
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.#error !== undefined;
  }

  /** Start reading; every message that is not stream plumbing is passed to `handler`. */
  start(handler: Handler): void {
    this.#readLoop(handler).then(
      () => this.close(),
      (e) => this.close(e),
    );
  }

  /** Send one message. Rejects once the connection is closed. */
  async send(message: Message): Promise<void> {
    if (this.#error) throw this.#error;
    const frame = encodeMessage(message, this.#maxFrameBytes);
    await this.#writer.write(frame).catch((cause) => {
      throw this.#error ?? new ProtocolError("closed", "Cannot send: connection closed", { cause });
    });
  }

  /**
   * Register the receiving end of `fd` on `stream`, before the peer may send on it. The returned
   * stream yields the peer's bytes; reading returns credit to the peer.
   */
  receive(stream: number, fd: Fd): ReadableStream<Uint8Array> {
    const pipe = new InboundPipe((bytes) => {
      if (!this.#error) {
        this.send({ type: "stream.credit", stream, fd, bytes }).catch(() => {});
      }
    }, this.#windowBytes);
    if (this.#error) pipe.fail(this.#error);
    this.#inbound.set(key(stream, fd), pipe);
    return pipe.readable;
  }

  /**
   * Register the sending end of `fd` on `stream`. Writes wait for credit; closing the writable
   * sends `stream.end`.
   */
  transmit(stream: number, fd: Fd): WritableStream<Uint8Array> {
    const credit = new OutboundCredit(this.#windowBytes);
    if (this.#error) credit.fail(this.#error);
    this.#outbound.set(key(stream, fd), credit);
    const end = async () => {
      if (this.#outbound.get(key(stream, fd)) !== credit) return;
      this.#outbound.delete(key(stream, fd));
      if (!this.#error) await this.send({ type: "stream.end", stream, fd });
    };
    return new WritableStream<Uint8Array>({
      write: async (chunk) => {
        let offset = 0;
        while (offset < chunk.length) {
          const n = await credit.take(Math.min(MAX_DATA_CHUNK_BYTES, chunk.length - offset));
          const data = chunk.subarray(offset, offset + n);
          offset += n;
          await this.send({ type: "stream.data", stream, fd, data });
        }
      },
      close: end,
      abort: end,
    });
  }

  /** Forget every pipe of `stream`; late frames for it are then handled as unknown. */
  forget(stream: number): void {
    for (const fd of [0, 1, 2] as const) {
      const k = key(stream, fd);
      this.#inbound.get(k)?.fail(new ProtocolError("closed", `Stream ${stream} was closed`));
      this.#inbound.delete(k);
      this.#outbound.get(k)?.fail(new ProtocolError("closed", `Stream ${stream} was closed`));
      this.#outbound.delete(k);
    }
  }

  /** Close the connection; pending readers and writers fail with `reason`. Idempotent. */
  close(reason?: unknown): void {
    if (this.#error) return;
    const error = reason === undefined
      ? new ProtocolError("closed", "Connection closed")
      : reason instanceof Error
      ? reason
      : new ProtocolError("internal", String(reason));
    this.#error = error;
    clearTimeout(this.#frameTimer);
    for (const pipe of this.#inbound.values()) pipe.fail(error);
    for (const credit of this.#outbound.values()) credit.fail(error);
    // Flush what is queued (such as an error frame) and end the output, then stop reading: a peer
    // that never sends or never hangs up must not keep the connection open. (Cancelling a
    // `Deno.Conn`'s readable closes the socket, so it must come after the flush.)
    this.#writer.close().catch(() => {}).finally(() => this.#reader?.cancel(error).catch(() => {}));
    this.#closedResolve(reason === undefined ? undefined : error);
  }

  async #readLoop(handler: Handler): Promise<void> {
    const decoder = new FrameDecoder(this.#maxFrameBytes);
    const reader = this.#reader = this.#readable.getReader();
    try {
      while (!this.#error) {
        const { value, done } = await reader.read();
        if (done) break;
        const payloads = decoder.push(value);
        for (const payload of payloads) {
          const message = decodeMessage(payload);
          if (!this.#plumb(message)) handler(message);
          if (this.#error) return;
        }
        this.#watchPartialFrame(decoder, payloads.length > 0);
      }
      if (this.#error) return;
      decoder.finish();
    } catch (error) {
      // Tell the peer why, best effort, before hanging up. Not awaited: the frame is queued before
      // close() flushes the output, and a peer that does not read cannot stall the close.
      if (error instanceof ProtocolError && !this.#error) {
        this.send({ type: "error", code: error.code, message: error.message }).catch(() => {});
      }
      throw error;
    }
  }

  /**
   * Start the clock when a frame is left incomplete, restart it when one completed: the rest of a
   * frame must follow its first byte within the frame timeout, however slowly it trickles in.
   */
  #watchPartialFrame(decoder: FrameDecoder, completed: boolean): void {
    if (!Number.isFinite(this.#frameTimeoutMs)) return;
    if (completed || decoder.buffered === 0) {
      clearTimeout(this.#frameTimer);
      this.#frameTimer = undefined;
    }
    if (decoder.buffered > 0 && this.#frameTimer === undefined) {
      this.#frameTimer = setTimeout(() => {
        const seconds = this.#frameTimeoutMs / 1000;
        this.close(
          new ProtocolError(
            "timed_out",
            `The peer sent ${decoder.buffered} bytes of a frame and not the rest within ${seconds} s`,
          ),
        );
      }, this.#frameTimeoutMs);
    }
  }

  /** Handle stream data, end and credit; returns false for other messages. */
  #plumb(message: Message): boolean {
    switch (message.type) {
      case "stream.data":
      case "stream.end": {
        const pipe = this.#inbound.get(key(message.stream, message.fd));
        if (!pipe) {
          if (!this.#strict) return true;
          throw new ProtocolError(
            "unknown_stream",
            `Peer sent ${message.type} for unknown stream ${message.stream} fd ${message.fd}`,
          );
        }
        if (message.type === "stream.data") pipe.push(message.data);
        else pipe.end();
        return true;
      }
      case "stream.credit":
        // Credit may legitimately arrive after this side finished the stream: ignore it then.
        this.#outbound.get(key(message.stream, message.fd))?.grant(message.bytes);
        return true;
      default:
        return false;
    }
  }
}

function key(stream: number, fd: Fd): string {
  return `${stream}:${fd}`;
}

/** Build this side's hello. */
export function helloMessage(role: Hello["role"], capabilities: string[], software: string): Hello {
  return { type: "hello", version: PROTOCOL_VERSION, role, capabilities, software };
}

/**
 * Send an `error` refusing `stream` (or, without one, the connection), ignoring a connection that
 * is already gone: a refusal is best effort.
 *
 * @example
 * ```ts
 * import { sendRefusal } from "@agentbox/protocol";
 * import type { Connection } from "@agentbox/protocol";
 * declare const conn: Connection;
 * sendRefusal(conn, "stream_exists", "Stream 3 is already in use", 3);
 * ```
 */
export function sendRefusal(
  conn: Pick<Connection, "send">,
  code: ProtocolErrorCode,
  message: string,
  stream?: number,
): void {
  conn.send({ type: "error", stream, code, message }).catch(() => {});
}
