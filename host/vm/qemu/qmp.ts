/**
 * A minimal QMP client: one JSON object per line over a unix socket, the greeting, capability
 * negotiation, then commands answered in order. Events are ignored.
 *
 * @module
 */

import { VmError } from "../errors.ts";
import { readLines } from "../../read_lines.ts";
import { delay } from "../../delay.ts";

/** A QMP command failed or the monitor went away. */
export class QmpError extends VmError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QmpError";
  }
}

type Reply = { return?: unknown; error?: { class: string; desc: string } };

/**
 * Connected QEMU monitor.
 *
 * @example
 * ```ts
 * import { QmpClient } from "./qmp.ts";
 * const qmp = await QmpClient.connect("/run/agentbox/vm-1/qmp.sock");
 * console.log(await qmp.execute("query-status"));
 * qmp.close();
 * ```
 */
export class QmpClient {
  readonly #conn: Deno.UnixConn;
  readonly #lines: AsyncIterator<string>;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.#lines = readLines(conn.readable)[Symbol.asyncIterator]();
  }

  /**
   * Connect, read the greeting and leave negotiation mode. A QEMU that is starting creates its
   * monitor socket after its character devices' (the agent's may already answer), so a missing
   * or refusing socket is retried for `waitMs` (default 5 s).
   */
  static async connect(path: string, options: { waitMs?: number } = {}): Promise<QmpClient> {
    const deadline = Date.now() + (options.waitMs ?? 5000);
    let conn: Deno.UnixConn;
    for (;;) {
      try {
        conn = await Deno.connect({ transport: "unix", path });
        break;
      } catch (cause) {
        const starting = cause instanceof Deno.errors.NotFound ||
          cause instanceof Deno.errors.ConnectionRefused;
        if (!starting || Date.now() >= deadline) {
          throw new QmpError(`Cannot connect to the QEMU monitor at ${path}`, { cause });
        }
        await delay(20);
      }
    }
    const client = new QmpClient(conn);
    const greeting = await client.#next();
    if (!("QMP" in greeting)) throw new QmpError("QEMU monitor sent no QMP greeting");
    await client.execute("qmp_capabilities");
    return client;
  }

  /** Run a command and return its `return` value; throws {@linkcode QmpError} on `error`. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const run = this.#queue.catch(() => {}).then(async () => {
      const line = JSON.stringify(
        args ? { execute: command, arguments: args } : { execute: command },
      );
      await this.#conn.write(new TextEncoder().encode(line + "\n"));
      for (;;) {
        const reply = await this.#next() as Reply;
        if ("event" in reply) continue;
        if (reply.error) throw new QmpError(`QMP ${command} failed: ${reply.error.desc}`);
        return reply.return;
      }
    });
    this.#queue = run;
    return run;
  }

  /** Close the monitor connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.#lines.next();
    if (done) throw new QmpError("QEMU monitor closed the connection");
    try {
      return JSON.parse(value);
    } catch (cause) {
      throw new QmpError("QEMU monitor sent invalid JSON", { cause });
    }
  }
}
