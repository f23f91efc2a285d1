/**
 * What keeps a slow or dead audit sink from ever blocking a sandbox: each sink has a bounded
 * queue of its own and one worker delivering from it in order. `push` never waits. A full queue
 * drops the new event; a delivery that fails is retried with backoff while the queue holds it;
 * a sink that refuses a batch for good (an HTTP 4xx) drops it; at close, what is still queued gets
 * until a deadline, and the rest is dropped. Every drop is counted, and the first one of a sink is
 * reported once (`onDrop`) with the reason.
 *
 * @module
 */

import type { AuditEvent } from "./audit_event.ts";

/** Where events go; delivery in order, a batch at a time. */
export interface AuditSink {
  /** How warnings name it, e.g. `syslog unix:/dev/log`. */
  readonly name: string;
  /**
   * Deliver `batch`, in order. Throw to have it retried; throw {@linkcode SinkRejected} when
   * retrying cannot help (the batch is dropped).
   */
  deliver(batch: readonly AuditEvent[]): Promise<void>;
  /** Release what the sink holds (sockets, files). */
  close(): Promise<void>;
}

/** A sink refused a batch for good (retrying it cannot succeed). */
export class SinkRejected extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SinkRejected";
  }
}

/** Options of {@linkcode SinkQueue}. */
export interface SinkQueueOptions {
  /** Most events waiting (default 1024). */
  capacity?: number;
  /** Most events per delivery (default 256). */
  maxBatch?: number;
  /** Called once, at the sink's first drop: its name and why events are dropped. */
  onDrop?: (sink: string, reason: string) => void;
  /** First retry delay (default 200 ms), doubled per failure up to `maxRetryMs` (default 5 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

/** What a sink did. */
export interface SinkStats {
  sink: string;
  delivered: number;
  dropped: number;
  /** Events still waiting. */
  queued: number;
  /** The last delivery error, if the last delivery failed. */
  failing?: string;
}

/**
 * A sink behind its bounded queue and worker.
 *
 * @example
 * ```ts
 * import { SinkQueue } from "./sink_queue.ts";
 * import { sealEvent } from "./seal_event.ts";
 * const seen: string[] = [];
 * const queue = new SinkQueue({
 *   name: "memory",
 *   deliver: async (batch) => void seen.push(...batch.map((e) => e.type)),
 *   close: async () => {},
 * });
 * queue.push(sealEvent({ type: "sandbox.removed", session: { id: "s" } }, "cli:me"));
 * await queue.close(1000);
 * console.assert(seen.length === 1);
 * ```
 */
export class SinkQueue {
  readonly #sink: AuditSink;
  readonly #capacity: number;
  readonly #maxBatch: number;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #onDrop: (sink: string, reason: string) => void;
  #queue: AuditEvent[] = [];
  #delivered = 0;
  #dropped = 0;
  #warned = false;
  #failing?: string;
  #closing = false;
  #abandoned = false;
  /** Resolved by a push or a close: the worker waits on it when the queue is empty. */
  #wake = Promise.withResolvers<void>();
  /** Resolved by a close: the worker waits on it between retries. */
  #closed = Promise.withResolvers<void>();
  readonly #worker: Promise<void>;

  constructor(sink: AuditSink, options: SinkQueueOptions = {}) {
    this.#sink = sink;
    this.#capacity = options.capacity ?? 1024;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#retryMs = options.retryMs ?? 200;
    this.#maxRetryMs = options.maxRetryMs ?? 5000;
    this.#onDrop = options.onDrop ?? (() => {});
    this.#worker = this.#run();
  }

  /** Queue `event`; never waits. A full or closing queue drops it (counted). */
  push(event: AuditEvent): void {
    if (this.#closing) return this.#drop(1, "the audit log is closing");
    if (this.#queue.length >= this.#capacity) {
      const why = this.#failing ? `cannot deliver: ${this.#failing}` : "the sink is too slow";
      return this.#drop(1, `its queue of ${this.#capacity} events is full (${why})`);
    }
    this.#queue.push(event);
    this.#wake.resolve();
  }

  /** Counts so far. */
  stats(): SinkStats {
    return {
      sink: this.#sink.name,
      delivered: this.#delivered,
      dropped: this.#dropped,
      queued: this.#queue.length,
      ...(this.#failing ? { failing: this.#failing } : {}),
    };
  }

  /**
   * Deliver what is queued within `deadlineMs` (one attempt per batch: no retries), drop the rest
   * (counted), close the sink. Returns the final counts.
   */
  async close(deadlineMs: number): Promise<SinkStats> {
    this.#closing = true;
    this.#wake.resolve();
    this.#closed.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), deadlineMs);
    });
    const ended = await Promise.race([this.#worker.then(() => "done" as const), late]);
    clearTimeout(timer);
    if (ended === "late") {
      this.#abandoned = true;
      const left = this.#queue.length;
      this.#queue = [];
      if (left > 0) this.#drop(left, `not delivered within ${deadlineMs} ms of closing`);
    }
    await this.#sink.close().catch(() => {});
    return this.stats();
  }

  #drop(count: number, reason: string): void {
    this.#dropped += count;
    if (this.#warned) return;
    this.#warned = true;
    this.#onDrop(this.#sink.name, reason);
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#abandoned) {
      if (this.#queue.length === 0) {
        if (this.#closing) return;
        this.#wake = Promise.withResolvers<void>();
        await this.#wake.promise;
        continue;
      }
      const batch = this.#queue.slice(0, this.#maxBatch);
      try {
        await this.#sink.deliver(batch);
        if (this.#abandoned) return;
        this.#queue.splice(0, batch.length);
        this.#delivered += batch.length;
        this.#failing = undefined;
        failures = 0;
      } catch (error) {
        if (this.#abandoned) return;
        const reason = error instanceof Error ? error.message : String(error);
        this.#failing = reason;
        if (error instanceof SinkRejected) {
          this.#queue.splice(0, batch.length);
          this.#drop(batch.length, `the sink refused them: ${reason}`);
          continue;
        }
        if (this.#closing) {
          // Closing: no retries; what cannot go now is dropped.
          const left = this.#queue.length;
          this.#queue = [];
          this.#drop(left, `cannot deliver: ${reason}`);
          return;
        }
        failures++;
        await this.#pause(Math.min(this.#retryMs * 2 ** (failures - 1), this.#maxRetryMs));
      }
    }
  }

  /** Wait `ms`, or until close is asked; never keeps the process alive on its own. */
  async #pause(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#closed.promise,
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        Deno.unrefTimer(Number(t));
        timer = t;
      }),
    ]);
    clearTimeout(timer);
  }
}
