/**
 * One command run through an agent with the user's stdio attached (a {@linkcode CommandIo}), and
 * what to do when that goes wrong: the piece `exec`/`run` (on a fresh VM) and `exec --session`/
 * `shell` (in a running session) share. Where the agent lives — a VM this process owns, or a
 * session's control socket — is the caller's {@linkcode CommandHost}.
 *
 * @module
 */

import { AgentError, type ExecHandle, type ExecRequest, type ExecResult } from "../api/commands.ts";

/**
 * How the command's stdin, stdout and stderr meet agentbox's, and what agentbox does with the
 * signals it gets meanwhile: pipes for `exec`, the user's terminal for `run`.
 */
export interface CommandIo {
  /** Called right before the command starts: its stdin and terminal, if any. */
  open(): Pick<ExecRequest, "stdin" | "pty">;
  /**
   * Copy the running command's output and handle signals; `stopVm` stops the VM because of
   * `signal`. Resolves when the output has been copied.
   */
  attach(run: ExecHandle, stopVm: (signal: Deno.Signal) => Promise<void>): Promise<void>;
  /** Undo everything `open` and `attach` did (signal handlers, terminal mode). Idempotent. */
  close(): void | Promise<void>;
}

/** Extra time the host gives the guest to enforce `--timeout` before it gives up itself. */
const TIMEOUT_GRACE_MS = 5000;

/** Where the command runs, and how agentbox gives up on it. */
export interface CommandHost {
  /** Start the command (with the host's defaults, if it has any). */
  exec(request: ExecRequest): ExecHandle;
  /** Give up on the command: stop the VM, or leave the session. */
  stop(): Promise<void>;
  /** Rejects with the reason when the agent's side is seen to end (the VM died); else pends. */
  lost?: Promise<never>;
  /** What the user is told when agentbox gives up because of `signal`. */
  stopMessage(signal: Deno.Signal): string;
  /** The error to report when the connection to the agent failed under the command. */
  explain(error: AgentError): Promise<Error>;
}

/** The command, without its stdio (that is the {@linkcode CommandIo}'s). */
export type CommandRequest = Omit<ExecRequest, "stdin" | "pty">;

/**
 * Run `request` on `host` with `io` attached; resolves with how it ended. When agentbox gives up
 * (a signal, or the host-side timeout), the result says why, whatever the channel said last.
 *
 * @example
 * ```ts ignore
 * import { runAttached } from "./attached_command.ts";
 * import { pipedIo } from "./piped_io.ts";
 * const result = await runAttached(host, pipedIo(), { argv: ["make", "test"] });
 * ```
 */
export async function runAttached(
  host: CommandHost,
  io: CommandIo,
  request: CommandRequest,
): Promise<ExecResult> {
  // Why agentbox itself gave up, if it did: that, not the lost connection, is the outcome.
  let stoppedFor: ExecResult | undefined;
  const stop = (outcome: ExecResult) => {
    stoppedFor ??= outcome;
    return host.stop();
  };
  const watchdog = request.timeoutMs === undefined ? undefined : setTimeout(
    () => stop({ code: null, signal: "SIGKILL", timedOut: true }),
    request.timeoutMs + TIMEOUT_GRACE_MS,
  );
  try {
    const run = host.exec({ ...request, ...io.open() });
    const output = io.attach(run, (signal) => {
      console.error(`agentbox: ${host.stopMessage(signal)}`);
      return stop({ code: null, signal, timedOut: false });
    });
    // When the command fails to start or its host goes away, the result says why, not the output.
    output.catch(() => {});
    const lost = host.lost ?? new Promise<never>(() => {});
    lost.catch(() => {});
    const result = await Promise.race([run.result, lost]);
    await output;
    return result;
  } catch (error) {
    if (stoppedFor) return stoppedFor;
    if (error instanceof AgentError && error.code !== "spawn_failed") {
      throw await host.explain(error);
    }
    throw error;
  } finally {
    clearTimeout(watchdog);
    await io.close();
  }
}
