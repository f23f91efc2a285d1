/**
 * `exec.start`: run a process in its own session and process group, stream its stdin, stdout and
 * stderr over the connection, and report how it ended. A timeout or `exec.signal` reaches the
 * whole process group, so a command's children die with it.
 *
 * @module
 */

import type { Connection, ExecExit, ExecStart } from "@agentbox/protocol";
import { ProtocolError } from "@agentbox/protocol";
import { resolveCommand } from "./resolve_command.ts";

/** Environment every command starts from; the host's `env` entries override it. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8",
};

/** How long to wait for stdout/stderr to drain after the process group was killed. */
const DRAIN_GRACE_MS = 2000;

/** A running exec, as the agent tracks it. */
export interface RunningExec {
  /** Deliver a signal to the process group. */
  signal(signal: Deno.Signal): void;
  /** Settles when `exec.exit` has been sent (or the connection died). */
  done: Promise<void>;
}

/**
 * Spawn the process described by `start` and wire it to `conn`. Throws `spawn_failed` when the
 * command cannot be started; the caller reports that as an `error` for the stream.
 */
export function startExec(conn: Connection, start: ExecStart): RunningExec {
  const env = { ...BASE_ENV, ...start.env };
  const cwd = start.cwd ?? "/";
  if (!isDirectory(cwd)) {
    throw new ProtocolError(
      "spawn_failed",
      `Cannot start ${start.argv[0]}: working directory ${cwd} does not exist`,
    );
  }
  const program = resolveCommand(start.argv[0], env.PATH, cwd);
  // The agent's own tool: found on the base PATH, whatever PATH the command was given.
  const setsid = resolveCommand("setsid", BASE_ENV.PATH);
  let child: Deno.ChildProcess;
  try {
    // `setsid` makes the child a session and process-group leader with pid == pgid, so one
    // kill(-pid) reaches everything it started.
    child = new Deno.Command(setsid, {
      args: [program, ...start.argv.slice(1)],
      env,
      clearEnv: true,
      cwd,
      stdin: start.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    throw new ProtocolError("spawn_failed", `Cannot start ${start.argv[0]}: ${message(cause)}`);
  }
  const pid = child.pid;
  let reaped = false;
  const killGroup = (signal: Deno.Signal) => {
    try {
      Deno.kill(-pid, signal);
    } catch {
      // No such group: it is gone, or `setsid` has not made the child a group leader yet (a
      // signal or timeout right after the start). Then the child is all there is: signal it.
      // Until it is reaped its pid cannot belong to anyone else.
      if (reaped) return;
      try {
        Deno.kill(pid, signal);
      } catch {
        // Gone as well.
      }
    }
  };
  let timedOut = false;
  const timer = start.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    killGroup("SIGKILL");
  }, start.timeoutMs);

  if (start.stdin) {
    conn.receive(start.stream, 0).pipeTo(child.stdin).catch(() => {});
  }
  const stdout = child.stdout.pipeTo(conn.transmit(start.stream, 1));
  const stderr = child.stderr.pipeTo(conn.transmit(start.stream, 2));
  conn.send({ type: "exec.started", stream: start.stream, pid }).catch(() => {});

  const done = (async () => {
    const status = await child.status;
    reaped = true;
    clearTimeout(timer);
    // Whatever the command left running in its group dies with it.
    killGroup("SIGKILL");
    const drained = Promise.allSettled([stdout, stderr]);
    const grace = new Promise((resolve) => setTimeout(resolve, DRAIN_GRACE_MS));
    const graceTimer = await Promise.race([drained.then(() => false), grace.then(() => true)]);
    if (graceTimer) {
      // A process that escaped the group still holds the pipes: stop waiting for it.
      await Promise.allSettled([child.stdout.cancel(), child.stderr.cancel()]);
    }
    const exit: ExecExit = {
      type: "exec.exit",
      stream: start.stream,
      code: status.signal ? null : status.code,
      signal: status.signal,
      timedOut,
    };
    conn.forget(start.stream);
    await conn.send(exit).catch(() => {});
  })();
  return { signal: killGroup, done };
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
