/**
 * What every way of spawning a command for `exec.start` (pipes, or a terminal) gives the exec
 * lifecycle in exec.ts, and the environment every command starts from.
 *
 * @module
 */

import type { WindowSize } from "../pty/pseudo_terminal.ts";

/** Environment every command starts from; the host's `env` entries override it. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8",
};

/**
 * What to spawn: the program (a path, or for a piped command a plain name the spawn looks up on
 * `env.PATH`), its whole environment and working directory, and the user
 * (`uid`, `gid`) it runs as — absent, the agent's own.
 *
 * @example
 * ```ts
 * import type { SpawnOptions } from "./spawned_exec.ts";
 * const options: SpawnOptions = { program: "/usr/bin/id", env: {}, cwd: "/", uid: 1000, gid: 1000 };
 * ```
 */
export interface SpawnOptions {
  program: string;
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
}

/**
 * A spawned command with its stdio wired to the connection.
 *
 * @example
 * ```ts
 * import type { SpawnedExec } from "./spawned_exec.ts";
 * declare const spawned: SpawnedExec;
 * await spawned.child.status;
 * spawned.exited();
 * await spawned.output;
 * await spawned.finish();
 * ```
 */
export interface SpawnedExec {
  /** The process; its pid leads the command's session and process group. */
  child: Deno.ChildProcess;
  /** Settles when all the command's output has been sent (or could not be). */
  output: Promise<unknown>;
  /** The process exited and its group was killed: let the output run dry. */
  exited(): void;
  /** Stop waiting for output that a process which escaped the group keeps open. */
  abandon(): Promise<void>;
  /** Release what is left once the exit is known. */
  finish(): Promise<void>;
  /** Resize the command's terminal; absent without one. */
  resize?(size: WindowSize): void;
}
