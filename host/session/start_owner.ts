/**
 * Start a detached session's owner (`agentbox session-daemon ID`) and wait until its session is
 * running. The owner runs in a session of its own (`setsid`), with no stdin and its output
 * appended to the session's `owner.log`, so it outlives the command that started it and no
 * terminal's hang-up reaches it. The spec goes through a private file, never the command line.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import type { DatabaseSync } from "node:sqlite";
import { findLifecycle, type LifecycleRecord } from "../store/session_lifecycle.ts";
import { writePlanFile } from "./plan_file.ts";
import { selfCommand, SESSION_DAEMON, STANDBY_FLAG } from "./self_command.ts";
import { sessionPaths } from "./session_paths.ts";
import { escapeControls } from "../terminal_text.ts";

/** Lines of the owner's log shown when it fails. */
const LOG_TAIL_LINES = 15;

/** A detached session could not start; the message carries the end of the owner's log. */
export class SessionStartError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "vm", code: "session_start_failed" });
    this.name = "SessionStartError";
  }
}

/** Options of {@linkcode startOwner}. */
export interface StartOwnerOptions {
  /** JSON the owner reads from its `plan.json`. */
  spec: unknown;
  /** Give up after this long (the owner is then left to time out its own boot). */
  timeoutMs: number;
  /** The owner's working directory (the project). */
  cwd?: string;
  /** Variables added to the owner's environment (secrets a spec names, never in plan.json). */
  env?: Record<string, string>;
}

/** Options of {@linkcode spawnOwner}. */
export interface SpawnOwnerOptions {
  /** The owner's working directory. */
  cwd?: string;
  /** Variables added to the owner's environment. */
  env?: Record<string, string>;
  /** Start it as a standby owner (`session-daemon ID --standby`): it waits for its plan. */
  standby?: boolean;
}

/** A spawned owner process. */
export interface SpawnedOwner {
  /** Settles when the process has exited. */
  status: Promise<Deno.CommandStatus>;
  /** Send it a signal (ignored once it has exited). */
  kill(signal: Deno.Signal): void;
}

/**
 * Spawn the owner of session `id` and wait until it records `running`; returns its record.
 * Throws {@linkcode SessionStartError} when the owner fails or exits first.
 *
 * @example
 * ```ts
 * import { startOwner } from "./start_owner.ts";
 * import type { DatabaseSync } from "node:sqlite";
 * declare const db: DatabaseSync;
 * declare const id: string;
 * declare const spec: unknown;
 * const session = await startOwner(db, id, { spec, timeoutMs: 120_000 });
 * console.log(session.controlSocket);
 * ```
 */
export async function startOwner(
  db: DatabaseSync,
  id: string,
  options: StartOwnerOptions,
): Promise<LifecycleRecord> {
  const paths = sessionPaths(id);
  await Deno.mkdir(paths.runtime, { recursive: true, mode: 0o700 });
  await Deno.mkdir(paths.state, { recursive: true, mode: 0o700 });
  await writePlanFile(paths.plan, options.spec);
  const owner = await spawnOwner(id, { cwd: options.cwd, env: options.env });
  return await awaitRunning(db, id, owner.status, options.timeoutMs);
}

/**
 * Hand `spec` to the standby owner of session `id` (spawned with `standby`), which waits for it,
 * and wait until it records `running`, as {@linkcode startOwner} does. The plan appears whole
 * (written aside, then renamed).
 *
 * @example
 * ```ts ignore
 * import { handPlan } from "./start_owner.ts";
 * const session = await handPlan(db, id, spec, owner.status, 120_000);
 * ```
 */
export async function handPlan(
  db: DatabaseSync,
  id: string,
  spec: unknown,
  status: Promise<Deno.CommandStatus>,
  timeoutMs: number,
): Promise<LifecycleRecord> {
  const paths = sessionPaths(id);
  const aside = `${paths.plan}.new`;
  await Deno.remove(aside).catch(() => {});
  await writePlanFile(aside, spec);
  await Deno.rename(aside, paths.plan);
  return await awaitRunning(db, id, status, timeoutMs);
}

/**
 * Spawn the owner of session `id` (its directories made): in a session of its own, its output
 * appended to the session's log.
 *
 * @example
 * ```ts ignore
 * import { spawnOwner } from "./start_owner.ts";
 * const owner = await spawnOwner(id, { standby: true });
 * ```
 */
export async function spawnOwner(
  id: string,
  options: SpawnOwnerOptions = {},
): Promise<SpawnedOwner> {
  const paths = sessionPaths(id);
  await Deno.mkdir(paths.runtime, { recursive: true, mode: 0o700 });
  await Deno.mkdir(paths.state, { recursive: true, mode: 0o700 });
  const [program, ...args] = selfCommand();
  // sh redirects the owner's output; setsid puts it in a session of its own. Paths and
  // arguments reach sh as positional parameters, never inside the script.
  const child = new Deno.Command("setsid", {
    args: [
      "sh",
      "-c",
      'log="$1"; shift; exec "$@" </dev/null >>"$log" 2>&1',
      "sh",
      paths.log,
      program,
      ...args,
      SESSION_DAEMON,
      id,
      ...(options.standby ? [STANDBY_FLAG] : []),
    ],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return {
    status: child.status,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // It has exited.
      }
    },
  };
}

/** Wait until session `id` records `running`; throws {@linkcode SessionStartError} first. */
async function awaitRunning(
  db: DatabaseSync,
  id: string,
  status: Promise<Deno.CommandStatus>,
  timeoutMs: number,
): Promise<LifecycleRecord> {
  const paths = sessionPaths(id);
  let exited = false;
  status.then(() => exited = true);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const session = findLifecycle(db, id);
    if (session?.status === "running") return session;
    if (session?.status === "failed" || session?.status === "stopped" || exited) {
      throw new SessionStartError(
        `The session did not start${session?.detail ? `: ${session.detail}` : ""}` +
          `\n${await logTail(paths.log)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new SessionStartError(
    `The session was not running after ${Math.round(timeoutMs / 1000)} s ` +
      `(its log: ${paths.log})\n${await logTail(paths.log)}`,
  );
}

async function logTail(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  // The log is the owner's own output, but it quotes the guest console: strip control bytes.
  return text.trimEnd().split("\n").slice(-LOG_TAIL_LINES)
    .map((line) => `  | ${escapeControls(line, { keep: "\t" })}`).join("\n");
}
