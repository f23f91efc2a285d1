/**
 * The command on the user's terminal (`agentbox run` when stdin is a terminal): the guest runs it
 * on a pseudo-terminal of the same size and type, this terminal goes raw so every key — Ctrl-C,
 * Ctrl-Z, Ctrl-D included — reaches the guest's terminal as a byte and acts there as it would
 * locally, window size changes follow (SIGWINCH), and the terminal is put back afterwards (see
 * raw_terminal.ts for the ways out that covers).
 *
 * The guest's output goes to this terminal unfiltered, escape sequences included: as with ssh,
 * the guest owns the screen while it runs.
 *
 * @module
 */

import { MAX_TERMINAL_SIZE, type PtySpec } from "@agentbox/protocol";
import { readWhenReady } from "../../guest-agent/pty/poll_read.ts";
import type { ExecHandle } from "../channel/agent_client.ts";
import { RawTerminal } from "./raw_terminal.ts";
import type { CommandIo } from "./attached_command.ts";

/** agentbox keeps using its own stdout after the command's output ends. */
const KEEP_OPEN = { preventClose: true, preventAbort: true } as const;

/** `TERM` the guest gets when ours is unset or unusable. */
const DEFAULT_TERM = "xterm-256color";

/**
 * The user's terminal as the command's. `open` puts it in raw mode: call it only when stdin is a
 * terminal.
 *
 * @example
 * ```ts ignore
 * import { terminalIo } from "./terminal_io.ts";
 * import { runOneShot } from "./one_shot.ts";
 * await runOneShot(plan, terminalIo());
 * ```
 */
export function terminalIo(): CommandIo {
  let raw: RawTerminal | undefined;
  let input: TerminalStdin | undefined;
  const listeners: [Deno.Signal, () => void][] = [];
  const listen = (signal: Deno.Signal, listener: () => void) => {
    Deno.addSignalListener(signal, listener);
    listeners.push([signal, listener]);
  };
  return {
    open() {
      const pty: PtySpec = { ...windowSize(), term: terminalType() };
      raw = RawTerminal.enter();
      input = terminalStdin();
      return { stdin: input.stdin, pty };
    },
    attach(run: ExecHandle, stopVm: (signal: Deno.Signal) => Promise<void>) {
      listen("SIGWINCH", () => run.resize(windowSize()).catch(() => {}));
      // Ctrl-C is a byte in raw mode: a SIGINT here was sent with kill. Pass it on, as exec does.
      listen("SIGINT", () => run.signal("SIGINT").catch(() => {}));
      for (const signal of ["SIGTERM", "SIGHUP"] as const) {
        listen(signal, () => {
          raw?.restore();
          stopVm(signal);
        });
      }
      return Promise.all([
        run.stdout.pipeTo(Deno.stdout.writable, KEEP_OPEN),
        run.stderr.pipeTo(Deno.stderr.writable, KEEP_OPEN),
      ]).then(() => {});
    },
    async close() {
      for (const [signal, listener] of listeners.splice(0)) {
        Deno.removeSignalListener(signal, listener);
      }
      await input?.stop();
      raw?.restore();
    },
  };
}

/** Keys typed on the terminal that is stdin, as a stream; see {@linkcode terminalStdin}. */
export interface TerminalStdin {
  stdin: ReadableStream<Uint8Array>;
  /** Stop reading; resolves once no read is pending. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Read stdin (a terminal) as a stream. Stdin is read only once poll says a key is waiting, so
 * after `stop` nothing stays pending to eat the next key (the answer to the apply question).
 */
export function terminalStdin(): TerminalStdin {
  let stopped = false;
  let reading: Promise<unknown> = Promise.resolve();
  const stdin = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(4096);
      const read = readWhenReady(0, buffer, { stop: () => stopped });
      reading = read;
      const n = await read;
      // null: stopped, or the terminal hung up.
      if (n === null) controller.close();
      else controller.enqueue(buffer.slice(0, n));
    },
    cancel() {
      stopped = true;
    },
  }, { highWaterMark: 0 });
  return {
    stdin,
    async stop() {
      stopped = true;
      // Wait for the current poll slice to end.
      await reading;
    },
  };
}

/** This terminal's size, within what the protocol accepts; 24x80 when it cannot be read. */
export function windowSize(): { rows: number; cols: number } {
  const clamp = (n: number) => Math.min(MAX_TERMINAL_SIZE, Math.max(1, n));
  try {
    const { rows, columns } = Deno.consoleSize();
    return { rows: clamp(rows), cols: clamp(columns) };
  } catch {
    return { rows: 24, cols: 80 };
  }
}

/** Our `TERM`, when the protocol can carry it. */
function terminalType(): string {
  const term = Deno.env.get("TERM") ?? "";
  return /^[A-Za-z0-9._+-]{1,64}$/.test(term) ? term : DEFAULT_TERM;
}
