/**
 * An interactive command on a terminal: `GET /v1/sandboxes/{id}/pty` as a WebSocket
 * (subprotocol `agentbox.pty.v1`). Binary messages carry the terminal's bytes both ways; text
 * messages carry the start, resizes and signals from the client and `started`/`exit`/`error`
 * from the server.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { AgentboxError, errorFromBody, protocolError } from "./errors.ts";
import type { Transport } from "./transport.ts";
import type { Duplex } from "node:stream";
import type { ExitStatus } from "./types.ts";
import { WebSocketConnection } from "./websocket.ts";

/** The terminal WebSocket's subprotocol. */
export const PTY_SUBPROTOCOL = "agentbox.pty.v1";

/** Options of `pty`. */
export interface PtyOptions {
  rows?: number;
  cols?: number;
  /** TERM (default xterm-256color). */
  term?: string;
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
}

/** A signal `pty.signal` can send. */
export type PtySignal =
  | "SIGINT"
  | "SIGTERM"
  | "SIGKILL"
  | "SIGHUP"
  | "SIGQUIT"
  | "SIGUSR1"
  | "SIGUSR2";

/**
 * A command running on a terminal in a sandbox.
 *
 * @example
 * ```ts ignore
 * const pty = await sandbox.pty(["/bin/sh"], { rows: 24, cols: 80 });
 * pty.onData((bytes) => process.stdout.write(bytes));
 * pty.write("exit 3\n");
 * console.log((await pty.wait()).exitCode); // 3
 * ```
 */
export class Pty {
  /** The command's guest pid, once it started. */
  readonly pid: Promise<number>;
  readonly #ws: WebSocketConnection;
  readonly #exit: Promise<ExitStatus>;
  #listeners: ((data: Uint8Array) => void)[] = [];
  #early: Uint8Array[] = [];
  /** What the client sent before the command started, sent once it has (the server drops it). */
  #held: (() => void)[] | undefined = [];

  private constructor(socket: Duplex, head: Uint8Array) {
    const pid = deferred<number>();
    const exit = deferred<ExitStatus>();
    this.pid = pid.promise;
    this.#exit = exit.promise;
    const fail = (error: AgentboxError) => {
      pid.reject(error);
      exit.reject(error);
    };
    let done = false;
    this.#ws = new WebSocketConnection(socket, head, {
      message: (data) => {
        if (typeof data !== "string") return this.#data(data);
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(data);
        } catch {
          return fail(protocolError("The terminal sent a text message that is not JSON"));
        }
        if (message.type === "started" && typeof message.pid === "number") {
          pid.resolve(message.pid);
          const held = this.#held ?? [];
          this.#held = undefined;
          for (const send of held) send();
        } else if (message.type === "exit") {
          done = true;
          exit.resolve({
            exitCode: typeof message.code === "number" ? message.code : null,
            signal: typeof message.signal === "string" ? message.signal : null,
            timedOut: message.timedOut === true,
          });
        } else if (message.type === "error") {
          done = true;
          fail(errorFromBody(0, message, "The terminal's command failed"));
        }
      },
      close: (code, reason) => {
        if (done) return;
        fail(
          new AgentboxError(`The terminal connection closed (${code} ${reason}) before an exit`, {
            kind: "unavailable",
            code: "connection_lost",
            status: 0,
          }),
        );
      },
    });
  }

  /** Open the terminal and start `argv` on it. */
  static async open(
    transport: Transport,
    id: string,
    argv: string[],
    options: PtyOptions = {},
  ): Promise<Pty> {
    const upgraded = await transport.upgrade(
      `/v1/sandboxes/${encodeURIComponent(id)}/pty`,
      [PTY_SUBPROTOCOL],
    );
    if (upgraded.protocol !== PTY_SUBPROTOCOL) {
      upgraded.socket.destroy();
      throw protocolError(`The server did not accept the ${PTY_SUBPROTOCOL} subprotocol`);
    }
    const pty = new Pty(upgraded.socket, upgraded.head);
    pty.#ws.sendText(JSON.stringify({
      type: "start",
      argv,
      rows: options.rows ?? 24,
      cols: options.cols ?? 80,
      term: options.term,
      env: options.env,
      cwd: options.cwd,
      user: options.user,
    }));
    return pty;
  }

  /** Call `listener` with the terminal's output; what came before the first listener is kept. */
  onData(listener: (data: Uint8Array) => void): void {
    this.#listeners.push(listener);
    const early = this.#early;
    this.#early = [];
    for (const data of early) listener(data);
  }

  /** Type into the terminal. */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data.slice();
    this.#send(() => this.#ws.sendBinary(bytes));
  }

  /** Change the terminal's size. */
  resize(rows: number, cols: number): void {
    this.#send(() => this.#ws.sendText(JSON.stringify({ type: "resize", rows, cols })));
  }

  /** Send the command a signal. */
  signal(signal: PtySignal): void {
    this.#send(() => this.#ws.sendText(JSON.stringify({ type: "signal", signal })));
  }

  /** How the command ended; rejects when the connection broke first or the server failed it. */
  wait(): Promise<ExitStatus> {
    return this.#exit;
  }

  /** Close the terminal (the command gets SIGHUP). */
  close(): void {
    this.#ws.close(1000, "closed by the client");
  }

  #send(send: () => void): void {
    if (this.#held) this.#held.push(send);
    else send();
  }

  #data(data: Uint8Array): void {
    if (this.#listeners.length === 0) this.#early.push(data);
    for (const listener of this.#listeners) listener(data);
  }
}

/** A promise with its resolve and reject, its rejection handled (the caller sees it by awaiting). */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
