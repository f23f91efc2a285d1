/**
 * `exec.start`: run a process in its own session and process group, stream its stdin, stdout and
 * stderr over the connection, and report how it ended. A timeout or `exec.signal` reaches the
 * whole process group, so a command's children die with it.
 *
 * @module
 */

import type { ExecExit, ExecStart, StreamPort } from "@agentbox/protocol";
import { ProtocolError } from "@agentbox/protocol";
import type { WindowSize } from "../pty/pseudo_terminal.ts";
import { spawnOnTerminal } from "./exec_terminal.ts";
import { lookupUser, userEnv } from "./exec_user.ts";
import { resolveCommand } from "./resolve_command.ts";
import { BASE_ENV, type SpawnedExec, type SpawnOptions } from "./spawned_exec.ts";

export { BASE_ENV };

/** How long to wait for stdout/stderr to drain after the process group was killed. */
const DRAIN_GRACE_MS = 2000;

/**
 * The OOM score adjustment of every command (and, by inheritance, of what it starts). The agent
 * runs at -1000 (image/stage2.ts), which its children would inherit: a command that fills the
 * guest's memory must be what the kernel kills, never the agent that answers the host.
 */
export const COMMAND_OOM_SCORE_ADJ = 500;

/** A running exec, as the agent tracks it. */
export interface RunningExec {
  /** Deliver a signal to the process group. */
  signal(signal: Deno.Signal): void;
  /** Resize the command's terminal; ignored when it has none. */
  resize(size: WindowSize): void;
  /** Settles when `exec.exit` has been sent (or the connection died). */
  done: Promise<void>;
}

/**
 * Spawn the process described by `start` and wire it to `conn`: through pipes, or on a new
 * pseudo-terminal when `start.pty` asks for one. Throws `spawn_failed` when the command cannot be
 * started; the caller reports that as an `error` for the stream.
 *
 * @example
 * ```ts
 * import { startExec } from "./exec.ts";
 * declare const conn: Parameters<typeof startExec>[0];
 * const exec = startExec(conn, { type: "exec.start", stream: 1, argv: ["true"], env: {}, stdin: false });
 * await exec.done;
 * ```
 */
export function startExec(conn: StreamPort, start: ExecStart): RunningExec {
  const user = start.user === undefined ? undefined : lookupUser(start.user);
  const env: Record<string, string> = {
    ...BASE_ENV,
    ...(user ? userEnv(user) : {}),
    ...start.env,
  };
  // A terminal's type, unless the host set TERM itself.
  if (start.pty && start.env.TERM === undefined) env.TERM = start.pty.term;
  const cwd = start.cwd ?? "/";
  if (!isDirectory(cwd)) {
    throw new ProtocolError(
      "spawn_failed",
      `Cannot start ${start.argv[0]}: working directory ${cwd} does not exist`,
    );
  }
  // A plain name is looked up on the command's PATH by the piped spawn itself, in Rust (a file
  // missing from a directory costs no JavaScript exception there); a terminal's wrapper needs the
  // file up front, and a path, an empty name or a NUL get resolveCommand's checks and messages.
  const program = start.pty || !/^[^/\0]+$/.test(start.argv[0])
    ? resolveCommand(start.argv[0], env.PATH, cwd)
    : start.argv[0];
  const options = { program, env, cwd, uid: user?.uid, gid: user?.gid };
  const spawned = withCommandOomScore(() =>
    start.pty ? spawnOnTerminal(conn, start, start.pty, options) : spawnPiped(conn, start, options)
  );
  const child = spawned.child;
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
  conn.send({ type: "exec.started", stream: start.stream, pid }).catch(() => {});

  const done = (async () => {
    const status = await child.status;
    reaped = true;
    clearTimeout(timer);
    // Whatever the command left running in its group dies with it.
    killGroup("SIGKILL");
    spawned.exited();
    const drained = spawned.output.then(() => false, () => false);
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const abandoned = await Promise.race([
      drained,
      new Promise<boolean>((resolve) => graceTimer = setTimeout(resolve, DRAIN_GRACE_MS, true)),
    ]);
    clearTimeout(graceTimer);
    // A process that escaped the group still holds the output open: stop waiting for it.
    if (abandoned) await spawned.abandon();
    await spawned.finish();
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
  return {
    signal: killGroup,
    resize: (size) => {
      try {
        spawned.resize?.(size);
      } catch {
        // The terminal is being torn down: the size no longer matters.
      }
    },
    done,
  };
}

/**
 * Spawn with pipes: stdout and stderr apart, stdin only when the host sends one. `detached` has
 * the child call setsid() before it runs the program: a session and process-group leader with
 * pid == pgid, so one kill(-pid) reaches everything it started. (A `setsid` wrapper did the same
 * at the cost of a second program to start per command, the lookup of both in JavaScript, and,
 * for a command as another user, a fork anyway: docs/benchmarks.md, "The cost of one exec".)
 */
function spawnPiped(
  conn: StreamPort,
  start: ExecStart,
  options: SpawnOptions,
): SpawnedExec {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(options.program, {
      args: start.argv.slice(1),
      detached: true,
      env: options.env,
      clearEnv: true,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      stdin: start.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    throw spawnFailure(start.argv[0], cause);
  }
  if (start.stdin) {
    conn.receive(start.stream, 0).pipeTo(child.stdin).catch(() => {});
  }
  const output = Promise.allSettled([
    child.stdout.pipeTo(conn.transmit(start.stream, 1)),
    child.stderr.pipeTo(conn.transmit(start.stream, 2)),
  ]);
  return {
    child,
    output,
    exited: () => {},
    abandon: async () => {
      await Promise.allSettled([child.stdout.cancel(), child.stderr.cancel()]);
    },
    finish: async () => {},
  };
}

const SELF_OOM_SCORE = "/proc/self/oom_score_adj";

/** Whether this agent runs protected from the OOM killer (in a VM; not an in-process test agent). */
let protectedAgent: boolean | undefined;

/**
 * Run `spawn` with the agent's own OOM score at {@linkcode COMMAND_OOM_SCORE_ADJ}, so the child
 * is born with it, then go back to -1000. Writing the child's score after the spawn came too
 * late: under emulation a shell had forked its pipeline, at -1000, before the agent's next line
 * ran. Spawning is synchronous, so the agent is exposed for the spawn's duration only.
 */
function withCommandOomScore<T>(spawn: () => T): T {
  protectedAgent ??= readScore() === "-1000";
  if (!protectedAgent) return spawn();
  writeScore(String(COMMAND_OOM_SCORE_ADJ));
  try {
    return spawn();
  } finally {
    writeScore("-1000");
  }
}

function readScore(): string | undefined {
  try {
    return Deno.readTextFileSync(SELF_OOM_SCORE).trim();
  } catch {
    return undefined; // no /proc: nothing to protect
  }
}

function writeScore(value: string): void {
  try {
    Deno.writeTextFileSync(SELF_OOM_SCORE, `${value}\n`);
  } catch {
    // Without CAP_SYS_RESOURCE the score cannot go back down; the agent was never protected.
  }
}

/** The `spawn_failed` refusal for a command that could not be started. */
function spawnFailure(name: string, cause: unknown): ProtocolError {
  const reason = cause instanceof Deno.errors.NotFound
    ? name.includes("/") ? "no such executable file" : "command not found in PATH"
    : message(cause);
  return new ProtocolError("spawn_failed", `Cannot start ${name}: ${reason}`);
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
