/**
 * Spawn a command on a new pseudo-terminal (`exec.start` with `pty`): the terminal is its stdin,
 * stdout, stderr and controlling terminal, so line editing, Ctrl-C, job control and full-screen
 * programs behave as on a console. Its output, echo included, is fd 1 of the stream; fd 2 ends
 * at once.
 *
 * Deno cannot hand a raw descriptor to a child, so a shell opens the slave by its path and
 * `setsid -c` makes it the controlling terminal of the command's new session (busybox's and
 * util-linux's `setsid` both have `-c`).
 *
 * @module
 */

import type { ExecStart, PtySpec, StreamPort } from "@agentbox/protocol";
import { ProtocolError } from "@agentbox/protocol";
import { PseudoTerminal, type WindowSize } from "../pty/pseudo_terminal.ts";
import { resolveCommand } from "./resolve_command.ts";
import { BASE_ENV, type SpawnedExec, type SpawnOptions } from "./spawned_exec.ts";

/** The wrapper's script: `$0` is setsid, `$1` the slave's path, the rest the command. */
const OPEN_TERMINAL = 'tty=$1; shift; exec "$0" -c "$@" <"$tty" >"$tty" 2>&1';

/**
 * Start `program` with `start.argv`'s arguments on a terminal of `pty`'s size, wired to `conn`.
 * Throws `spawn_failed` when no terminal can be opened or the wrapper cannot start.
 *
 * @example
 * ```ts
 * import { spawnOnTerminal } from "./exec_terminal.ts";
 * import type { ExecStart } from "@agentbox/protocol";
 * declare const conn: Parameters<typeof spawnOnTerminal>[0];
 * declare const start: ExecStart;
 * declare const env: Record<string, string>;
 * const spawned = spawnOnTerminal(conn, start, start.pty!, { program: "/bin/sh", env, cwd: "/" });
 * spawned.resize?.({ rows: 50, cols: 132 });
 * ```
 */
export function spawnOnTerminal(
  conn: StreamPort,
  start: ExecStart,
  pty: PtySpec,
  options: SpawnOptions,
): SpawnedExec {
  let terminal: PseudoTerminal;
  try {
    terminal = PseudoTerminal.open(pty);
  } catch (cause) {
    throw new ProtocolError("spawn_failed", `Cannot open a terminal: ${String(cause)}`, { cause });
  }
  if (options.uid !== undefined) {
    // Another user's command must be able to open the slave, as login(1) would arrange.
    try {
      Deno.chownSync(terminal.path, options.uid, options.gid ?? null);
    } catch (cause) {
      terminal.close();
      throw new ProtocolError("spawn_failed", `Cannot give the terminal to the user: ${cause}`, {
        cause,
      });
    }
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(resolveCommand("sh", BASE_ENV.PATH), {
      args: [
        "-c",
        OPEN_TERMINAL,
        resolveCommand("setsid", BASE_ENV.PATH),
        terminal.path,
        options.program,
        ...start.argv.slice(1),
      ],
      env: options.env,
      clearEnv: true,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (cause) {
    terminal.close();
    throw new ProtocolError("spawn_failed", `Cannot start ${start.argv[0]}: ${String(cause)}`, {
      cause,
    });
  }
  if (start.stdin) {
    conn.receive(start.stream, 0).pipeTo(terminal.writable).catch(() => {});
  }
  const output = terminal.readable.pipeTo(conn.transmit(start.stream, 1));
  conn.transmit(start.stream, 2).close().catch(() => {});
  return {
    child,
    output,
    exited: () => terminal.releaseSlave(),
    abandon: () => terminal.close(),
    finish: () => terminal.close(),
    resize: (size: WindowSize) => terminal.resize(size),
  };
}
