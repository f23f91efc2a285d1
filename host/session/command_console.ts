/**
 * The console of a session's command (`run --detach -- CMD`): the command runs on a terminal in
 * the guest that no client owns; its output goes to the session's `command.log` and to a bounded
 * scrollback, and to every attached client; the input of the clients that may type goes to its
 * terminal. Clients come and go (`agentbox attach`); the command runs on.
 *
 * @module
 */

import type { PtySpec } from "@agentbox/protocol";
import type { ExecHandle, ExecRequest, ExecResult } from "../channel/agent_client.ts";
import type { CappedLog } from "./capped_log.ts";

/** Output kept for replay to a client that attaches: the last 1 MiB. */
export const SCROLLBACK_BYTES = 1024 * 1024;

/** Output a client may fall behind by before it is dropped (it can attach again). */
export const MAX_LAG_BYTES = 4 * 1024 * 1024;

/** Input queued for the command before more typing is dropped (a command that reads nothing). */
const MAX_INPUT_BYTES = 256 * 1024;

/** The terminal the command starts on, until a client attaches with its own size. */
export const CONSOLE_PTY: PtySpec = { rows: 24, cols: 80, term: "xterm-256color" };

/** Where one attached client's output goes. */
export interface ConsoleViewer {
  /** Output for the client (the scrollback first); false: the client is too far behind. */
  write(chunk: Uint8Array): boolean;
  /** The command ended with `result` (or could not run: `error`); no more output follows. */
  end(outcome: { result?: ExecResult; error?: unknown }): void;
}

/** A running command's console. */
export interface CommandConsole {
  /** The command's pid in the guest, once it runs. */
  started: Promise<number>;
  /** Resolves when the command has ended, with its result; rejects if it could not run. */
  result: Promise<ExecResult>;
  /**
   * Add a viewer: it is given the scrollback at once, then the output as it comes, then the end.
   * Returns the function that removes it.
   */
  watch(viewer: ConsoleViewer): () => void;
  /** Type `bytes` into the command's terminal (dropped past a bound, or once it ended). */
  type(bytes: Uint8Array): void;
  /** Resize the command's terminal. */
  resize(size: { rows: number; cols: number }): void;
  /** Send `signal` to the command's process group (nothing once it ended). */
  signal(signal: Deno.Signal): void;
  /** Whether the command has ended. */
  readonly ended: boolean;
}

/**
 * The last `max` bytes written, as a list of chunks (no copy per write).
 *
 * @example
 * ```ts
 * import { Scrollback } from "./command_console.ts";
 * const s = new Scrollback(4);
 * s.push(new TextEncoder().encode("abc"));
 * s.push(new TextEncoder().encode("def"));
 * console.assert(new TextDecoder().decode(s.bytes()) === "cdef");
 * ```
 */
export class Scrollback {
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(max: number) {
    this.#max = max;
  }

  push(chunk: Uint8Array): void {
    const part = chunk.length > this.#max ? chunk.subarray(chunk.length - this.#max) : chunk;
    this.#chunks.push(part);
    this.#size += part.length;
    while (this.#size > this.#max) {
      const first = this.#chunks[0];
      const over = this.#size - this.#max;
      if (first.length <= over) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(over);
        this.#size -= over;
      }
    }
  }

  /** Everything kept, oldest first. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/**
 * Start `command` on a terminal through `exec` and keep its console. The output is appended to
 * `log` (closed when the command ends) and kept in a {@linkcode SCROLLBACK_BYTES} scrollback.
 *
 * @example
 * ```ts ignore
 * import { startConsole } from "./command_console.ts";
 * const console_ = startConsole((r) => agent.exec(r), { argv: ["sh"] }, log);
 * const unwatch = console_.watch({ write: (b) => true, end: () => {} });
 * ```
 */
export function startConsole(
  exec: (request: ExecRequest) => ExecHandle,
  command: Omit<ExecRequest, "stdin" | "pty">,
  log: CappedLog,
): CommandConsole {
  const viewers = new Set<ConsoleViewer>();
  const scrollback = new Scrollback(SCROLLBACK_BYTES);
  let input!: ReadableStreamDefaultController<Uint8Array>;
  const stdin = new ReadableStream<Uint8Array>(
    { start: (controller) => void (input = controller) },
    new ByteLengthQueuingStrategy({ highWaterMark: MAX_INPUT_BYTES }),
  );
  let ended = false;
  let outcome: { result?: ExecResult; error?: unknown } | undefined;
  const run = exec({ ...command, stdin, pty: CONSOLE_PTY });
  const logWriter = log.writer().getWriter();
  const output = run.stdout.pipeTo(
    new WritableStream({
      write(chunk) {
        scrollback.push(chunk);
        logWriter.write(chunk).catch(() => {});
        for (const viewer of viewers) {
          if (!viewer.write(chunk)) viewers.delete(viewer);
        }
      },
    }),
  ).catch(() => {});
  run.stderr.cancel().catch(() => {}); // On a terminal, everything comes on stdout.
  const result = (async () => {
    try {
      const [r] = await Promise.all([run.result, output]);
      outcome = { result: r };
      return r;
    } catch (error) {
      outcome = { error };
      throw error;
    } finally {
      ended = true;
      try {
        input.close();
      } catch {
        // Already closed.
      }
      for (const viewer of viewers) viewer.end(outcome!);
      viewers.clear();
      await logWriter.close().catch(() => {});
      log.close();
    }
  })();
  result.catch(() => {});
  return {
    started: run.started,
    result,
    watch(viewer) {
      const replay = scrollback.bytes();
      if (replay.length > 0 && !viewer.write(replay)) return () => {};
      if (outcome) {
        viewer.end(outcome);
        return () => {};
      }
      viewers.add(viewer);
      return () => viewers.delete(viewer);
    },
    type(bytes) {
      if (ended || (input.desiredSize ?? 0) < bytes.length) return;
      input.enqueue(bytes);
    },
    resize(size) {
      if (!ended) run.resize(size).catch(() => {});
    },
    signal(signal) {
      if (!ended) run.signal(signal).catch(() => {});
    },
    get ended() {
      return ended;
    },
  };
}
