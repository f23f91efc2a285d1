/**
 * Per-stream, per-fd flow control. A receiver grants the sender a window of bytes; the sender may
 * have at most that many bytes in flight. Credits return as the consumer reads, so a fast producer
 * and a slow consumer never make either side buffer more than one window per fd.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** Receive window per stream and fd. */
export const STREAM_WINDOW_BYTES = 1024 * 1024;

/** Largest `stream.data` payload a sender produces. */
export const MAX_DATA_CHUNK_BYTES = 128 * 1024;

/**
 * The receiving end of one fd: a queue bounded by the window, read as a `ReadableStream`.
 * `grant` is called with the bytes to credit back to the sender as they are consumed (or, once
 * the reader cancelled, as they arrive and are dropped).
 */
export class InboundPipe {
  readonly readable: ReadableStream<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ungranted = 0;
  #ended = false;
  #peerEnded = false;
  #cancelled = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #window: number;
  #grant: (bytes: number) => void;

  constructor(grant: (bytes: number) => void, window = STREAM_WINDOW_BYTES) {
    this.#grant = grant;
    this.#window = window;
    this.readable = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
      cancel: () => this.#cancel(),
    }, { highWaterMark: 0 });
  }

  /** Bytes received and not yet read by the consumer. */
  get queued(): number {
    return this.#queued;
  }

  /** Whether `stream.end` has been received (or the pipe failed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queue bytes from the peer; throws `flow_violation` when the peer overruns its window. */
  push(data: Uint8Array): void {
    if (this.#peerEnded) {
      throw new ProtocolError("bad_message", "Peer sent data after the end of the stream");
    }
    // Bytes received and not yet credited back: the sender cannot have more in flight.
    const inFlight = this.#queued + this.#ungranted + data.length;
    if (inFlight > this.#window) {
      throw new ProtocolError(
        "flow_violation",
        `Peer sent ${inFlight} bytes into a window of ${this.#window}`,
      );
    }
    if (this.#cancelled) {
      // Nobody reads any more: drop the bytes but return their credit, so that the sender is
      // neither stalled (a command blocked on a full pipe) nor taken for a violator.
      if (data.length > 0) this.#grant(data.length);
      return;
    }
    if (this.#ended) {
      throw new ProtocolError("bad_message", "Peer sent data after the end of the stream");
    }
    if (data.length === 0) return;
    this.#queue.push(data);
    this.#queued += data.length;
    this.#notify();
  }

  /** The peer will send no more. */
  end(): void {
    this.#peerEnded = true;
    this.#ended = true;
    this.#notify();
  }

  /** Fail the reader (connection lost). */
  fail(error: Error): void {
    if (this.#ended) return;
    this.#failure = error;
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #cancel(): void {
    this.#cancelled = true;
    this.#ended = true;
    const discarded = this.#queued + this.#ungranted;
    this.#queue = [];
    this.#queued = 0;
    this.#ungranted = 0;
    if (discarded > 0) this.#grant(discarded);
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.#queue.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#queue.shift();
    if (chunk) {
      this.#queued -= chunk.length;
      controller.enqueue(chunk);
      this.#credit(chunk.length);
      return;
    }
    if (this.#failure) controller.error(this.#failure);
    else controller.close();
  }

  #credit(bytes: number): void {
    this.#ungranted += bytes;
    // Batch credits so that small chunks do not each cost a frame.
    if (this.#ungranted >= this.#window / 4 || this.#queue.length === 0) {
      const grant = this.#ungranted;
      this.#ungranted = 0;
      this.#grant(grant);
    }
  }
}

/** The sending side's credit for one fd. `take` waits until credit is available. */
export class OutboundCredit {
  #credit: number;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(initial = STREAM_WINDOW_BYTES) {
    this.#credit = initial;
  }

  /** Credit not yet used. */
  get available(): number {
    return this.#credit;
  }

  /** Add credit granted by the peer. */
  grant(bytes: number): void {
    this.#credit += bytes;
    if (this.#credit > Number.MAX_SAFE_INTEGER / 2) {
      throw new ProtocolError("flow_violation", "Peer granted an absurd amount of credit");
    }
    this.#notify();
  }

  /** Wait for credit, then take up to `max` bytes of it. */
  async take(max: number): Promise<number> {
    while (this.#credit === 0 && !this.#failure) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#failure) throw this.#failure;
    const n = Math.min(max, this.#credit);
    this.#credit -= n;
    return n;
  }

  /** Wake waiters with an error (stream closed or connection lost). */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
