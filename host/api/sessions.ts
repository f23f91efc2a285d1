/**
 * Long-lived sessions as a user manages them: list them with the state observed now, stop them,
 * remove them, prune the ones that ended. Light on purpose (no VM layer, no proxy): `ps` and
 * `stop` load only this. Starting and owning a session is session_owner.ts.
 *
 * @module
 */

import { tapGuestAddress } from "../net/tap_device.ts";
import { label, resolveSession } from "../session/session_client.ts";
import { observedState, type SessionState } from "../session/session_liveness.ts";
import { sessionPaths } from "../session/session_paths.ts";
import { removeSession, stopOwner } from "../session/stop_owner.ts";
import { findLifecycle, type LifecycleRecord, listLifecycles } from "../store/session_lifecycle.ts";
import type { ApiContext } from "./context.ts";

/** How a session is named to people: its name, else its id's first 12 characters. */
export { label };

/** One session as listed. Times are milliseconds since the epoch. */
export interface SessionEntry {
  id: string;
  name: string | null;
  /** Observed now: an owner that holds its lock is alive; one that recorded running but holds nothing is `dead`. */
  state: SessionState;
  /** What the database says. */
  status: string;
  ownerPid: number | null;
  controlSocket: string | null;
  /** The guest's address on a tap network, while it runs. */
  guestAddress: string | null;
  startedAt: number;
  endedAt: number | null;
  project: string | null;
  detail: string | null;
}

/** Whether a session in `state` has a live owner. */
export function isAlive(state: SessionState): boolean {
  return state === "running" || state === "booting" || state === "stopping";
}

/**
 * Every long-lived session, with its state observed now.
 *
 * @example
 * ```ts
 * import { listSessions } from "./sessions.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * for (const s of await listSessions(ctx)) console.log(s.id, s.state);
 * ```
 */
export async function listSessions(ctx: ApiContext): Promise<SessionEntry[]> {
  return await Promise.all(listLifecycles(ctx.db).map(entry));
}

async function entry(session: LifecycleRecord): Promise<SessionEntry> {
  const state = await observedState(session);
  const alive = isAlive(state);
  return {
    id: session.id,
    name: session.name,
    state,
    status: session.status,
    ownerPid: session.ownerPid,
    controlSocket: alive ? sessionPaths(session.id).controlSocket : null,
    guestAddress: alive ? (await tapGuestAddress(session.id).catch(() => undefined)) ?? null : null,
    startedAt: session.startedAt,
    endedAt: session.endedAt,
    project: session.project,
    detail: session.detail,
  };
}

/** How stopping one session went. */
export interface StopOutcome {
  /** The session's label (its name, else the start of its id). */
  session: string;
  /**
   * `already` (it had ended before), `timeout` (its owner did not let go in time), else the
   * state observed afterwards (`stopped`; `dead` after `kill`).
   */
  outcome: "already" | "timeout" | SessionState;
  /** The state it had ended in, with `already`. */
  before?: SessionState;
  detail: string | null;
}

/**
 * Stop each session `refs` names (all resolved first: an unknown one throws `SessionError`
 * before any is stopped). `kill` ends owners at once instead of letting them collect changes.
 *
 * @example
 * ```ts
 * import { stopSessions } from "./sessions.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * const outcomes = await stopSessions(ctx, ["web"], { kill: false, timeoutMs: 300_000 });
 * ```
 */
export async function stopSessions(
  ctx: ApiContext,
  refs: string[],
  options: { kill: boolean; timeoutMs: number },
): Promise<StopOutcome[]> {
  const sessions = refs.map((ref) => resolveSession(ctx.db, ref));
  const outcomes: StopOutcome[] = [];
  for (const session of sessions) {
    const name = label(session);
    const before = await observedState(session);
    if (!isAlive(before)) {
      outcomes.push({ session: name, outcome: "already", before, detail: null });
      continue;
    }
    const signal = options.kill ? "SIGKILL" : "SIGTERM";
    if (!await stopOwner(session, { signal, timeoutMs: options.timeoutMs })) {
      outcomes.push({ session: name, outcome: "timeout", detail: null });
      continue;
    }
    const after = findLifecycle(ctx.db, session.id);
    const state = after ? await observedState(after) : "stopped";
    outcomes.push({ session: name, outcome: state, detail: after?.detail ?? null });
  }
  return outcomes;
}

/**
 * Remove each session `refs` names and its files; with `force`, kill a live owner first. Returns
 * the labels removed and the ones left because they are alive.
 *
 * @example
 * ```ts
 * import { removeSessions } from "./sessions.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * const { removed, alive } = await removeSessions(ctx, ["web"], { force: false });
 * ```
 */
export async function removeSessions(
  ctx: ApiContext,
  refs: string[],
  options: { force: boolean },
): Promise<{ removed: string[]; alive: string[] }> {
  const sessions = refs.map((ref) => resolveSession(ctx.db, ref));
  const removed: string[] = [];
  const alive: string[] = [];
  for (const session of sessions) {
    if (options.force) await stopOwner(session, { signal: "SIGKILL", timeoutMs: 10_000 });
    (await removeSession(ctx.db, session) ? removed : alive).push(label(session));
  }
  return { removed, alive };
}

/** A session prune removed (or would remove). */
export interface PrunedSession {
  id: string;
  label: string;
  state: SessionState;
}

/**
 * Remove every session that is not alive; with `dryRun`, only list them.
 *
 * @example
 * ```ts
 * import { pruneSessions } from "./sessions.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * console.log((await pruneSessions(ctx, { dryRun: true })).length);
 * ```
 */
export async function pruneSessions(
  ctx: ApiContext,
  options: { dryRun: boolean },
): Promise<PrunedSession[]> {
  const pruned: PrunedSession[] = [];
  for (const session of listLifecycles(ctx.db)) {
    const state = await observedState(session);
    if (isAlive(state)) continue;
    const item = { id: session.id, label: label(session), state };
    // removeSession takes the owner lock: a session that came alive meanwhile is left alone.
    if (options.dryRun || await removeSession(ctx.db, session)) pruned.push(item);
  }
  return pruned;
}
