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
import { DEFAULT_STOP_GRACE_MS, removeSession, stopOwner } from "../session/stop_owner.ts";
import { ownerLockHeld } from "../session/owner_lock.ts";
import { findLifecycle, type LifecycleRecord, listLifecycles } from "../store/session_lifecycle.ts";
import { listOneShots, type SessionRecord } from "../store/sessions.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { sessionAuditor } from "./audit.ts";
import type { ApiContext } from "./context.ts";

/** How a session is named to people: its name, else its id's first 12 characters. */
export { label };

/**
 * A session's state as listed: a detached session's observed state, or for a one-shot run
 * (`exec`, `run` without `--detach`) `running` (its agentbox process holds the session's lock),
 * `exited` (it ended) or `dead` (its process went away without ending it: killed, or the host went
 * down; its changes, if collected, are still there).
 */
export type ListedState = SessionState | "exited";

/**
 * What became of a session's workspace changes: `pending` (collected, not applied), `applied`
 * (the last apply of them finished), `none` (nothing collected: no share, no change, or still
 * running).
 */
export type ChangesState = "pending" | "applied" | "none";

/** One session as listed. Times are milliseconds since the epoch. */
export interface SessionEntry {
  id: string;
  /** `detached` (`run --detach`, a snapshot restore) or `one-shot` (`exec`, `run`). */
  kind: "detached" | "one-shot";
  name: string | null;
  /** Observed now: an owner that holds its lock is alive; one that recorded running but holds nothing is `dead`. */
  state: ListedState;
  changes: ChangesState;
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
export function isAlive(state: ListedState): boolean {
  return state === "running" || state === "booting" || state === "stopping";
}

/**
 * Every long-lived session, with its state observed now; with `all`, one-shot runs too (newest
 * first, after the long-lived ones).
 *
 * @example
 * ```ts
 * import { listSessions } from "./sessions.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * for (const s of await listSessions(ctx, { all: true })) console.log(s.id, s.kind, s.state);
 * ```
 */
export async function listSessions(
  ctx: Pick<ApiContext, "db">,
  options: { all?: boolean } = {},
): Promise<SessionEntry[]> {
  const detached = await Promise.all(listLifecycles(ctx.db).map(entry));
  if (!options.all) return detached;
  return [...detached, ...await Promise.all(listOneShots(ctx.db).map(oneShotEntry))];
}

/** The state of one-shot run `session`, observed now. */
async function oneShotState(session: SessionRecord): Promise<ListedState> {
  if (await ownerLockHeld(sessionPaths(session.id).lock)) return "running";
  return session.endedAt === null ? "dead" : "exited";
}

/** Whether session `id`'s collected changes are pending, applied, or there are none. */
async function changesState(id: string, state: ListedState): Promise<ChangesState> {
  if (isAlive(state)) return "none";
  const paths = changesetPaths(sessionPaths(id).state);
  const exists = (path: string) => Deno.lstat(path).then((i) => i.isFile, () => false);
  if (!await exists(paths.records)) return "none";
  return await exists(`${paths.root}/applied.json`) ? "applied" : "pending";
}

async function oneShotEntry(session: SessionRecord): Promise<SessionEntry> {
  const state = await oneShotState(session);
  return {
    id: session.id,
    kind: "one-shot",
    name: null,
    state,
    changes: await changesState(session.id, state),
    status: state,
    ownerPid: null,
    controlSocket: null,
    guestAddress: null,
    startedAt: session.startedAt,
    endedAt: session.endedAt,
    project: session.project,
    detail: null,
  };
}

async function entry(session: LifecycleRecord): Promise<SessionEntry> {
  const state = await observedState(session);
  const alive = isAlive(state);
  return {
    id: session.id,
    kind: "detached",
    name: session.name,
    state,
    changes: await changesState(session.id, state),
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
  options: {
    kill: boolean;
    timeoutMs: number;
    /** Without `kill`: how long the commands get between SIGTERM and SIGKILL (default 10 s). */
    graceMs?: number;
  },
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
    const graceMs = options.kill ? undefined : options.graceMs ?? DEFAULT_STOP_GRACE_MS;
    const timeoutMs = options.timeoutMs + (graceMs ?? 0);
    if (!await stopOwner(session, { signal, timeoutMs, graceMs })) {
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
  const sessions = refs.map((ref) => resolveAnySession(ctx, ref));
  const removed: string[] = [];
  const alive: string[] = [];
  for (const session of sessions) {
    if (options.force && "ownerPid" in session) {
      await stopOwner(session, { signal: "SIGKILL", timeoutMs: 10_000 });
    }
    const gone = await removeSession(ctx.db, session);
    (gone ? removed : alive).push("ownerPid" in session ? label(session) : session.id.slice(0, 8));
    if (gone) {
      sessionAuditor(ctx, { id: session.id, name: "name" in session ? session.name : undefined })(
        { type: "sandbox.removed" },
      );
    }
  }
  return { removed, alive };
}

/**
 * The session `ref` names: a long-lived one (name, id or unique prefix), else a one-shot run (id
 * or unique prefix). Throws `SessionError` (`session_unknown`) when none matches.
 */
function resolveAnySession(
  ctx: Pick<ApiContext, "db">,
  ref: string,
): LifecycleRecord | SessionRecord {
  const detached = findLifecycle(ctx.db, ref);
  if (detached) return detached;
  const [oneShot] = listOneShots(ctx.db, ref);
  if (oneShot) return oneShot;
  return resolveSession(ctx.db, ref); // throws, with the message every command uses
}

/** A session prune removed (or would remove). */
export interface PrunedSession {
  id: string;
  label: string;
  kind: SessionEntry["kind"];
  state: ListedState;
}

/**
 * Remove every session that is not alive — long-lived sessions and one-shot runs — with
 * `olderThanMs`, only those that ended (or, dead, started) at least that long ago; with `dryRun`,
 * only list them.
 *
 * @example
 * ```ts
 * import { pruneSessions } from "./sessions.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * console.log((await pruneSessions(ctx, { dryRun: true, olderThanMs: 86_400_000 })).length);
 * ```
 */
export async function pruneSessions(
  ctx: ApiContext,
  options: { dryRun: boolean; olderThanMs?: number },
): Promise<PrunedSession[]> {
  const pruned: PrunedSession[] = [];
  const cutoff = Date.now() - (options.olderThanMs ?? 0);
  for (const session of await listSessions(ctx, { all: true })) {
    if (isAlive(session.state)) continue;
    if ((session.endedAt ?? session.startedAt) > cutoff) continue;
    const item = {
      id: session.id,
      label: session.name ?? session.id.slice(0, 8),
      kind: session.kind,
      state: session.state,
    };
    // removeSession takes the owner lock: a session that came alive meanwhile is left alone.
    if (options.dryRun) pruned.push(item);
    else if (await removeSession(ctx.db, session)) {
      pruned.push(item);
      sessionAuditor(ctx, { id: session.id, name: session.name })({ type: "sandbox.removed" });
    }
  }
  return pruned;
}
