/**
 * A session's workspace changes as data: which session a front end means (named, or the latest
 * one of a project), its stored changeset (recovered from the session's disk first when it ended
 * before collecting them), and the diff of it — entries, how many a filter hid, which ones an
 * apply already brought to the host. Rendering is the edge's (host/cli/diff.ts); applying is
 * apply_changes.ts.
 *
 * Codes thrown here: `session_unknown` (no single session matches the name), `no_session_changes`
 * (the project has no session with a changeset), `no_changeset` (the session recorded none), and
 * `changeset_invalid` (the stored changeset cannot be read).
 *
 * @module
 */

import { collectIfRunning } from "./live_changes.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import { findSession, type SessionRecord } from "../store/sessions.ts";
import { printable } from "../terminal_text.ts";
import { changesetId } from "../workspace/apply.ts";
import { baselineRoot } from "../workspace/baseline.ts";
import { ChangesetError, changesetPaths } from "../workspace/changeset.ts";
import { classifyChanges, type DiffEntry } from "../workspace/classify.ts";
import { readCompletion } from "../workspace/completion.ts";
import { hostIgnoreMatcher } from "../workspace/gitignore.ts";
import { latestSessionWithChanges, sessionStateDir } from "../workspace/latest_session.ts";
import {
  hasChangeset,
  loadChangeset,
  NoChangesetError,
  type StoredChangeset,
} from "../workspace/load_changeset.ts";
import { pathSelector } from "../workspace/path_glob.ts";
import type { ApiContext } from "./context.ts";
import { AgentboxError } from "./errors.ts";

export type { StoredChangeset } from "../workspace/load_changeset.ts";

/** A session as the changes operations need it: its id. */
export type SessionRef = Pick<SessionRecord, "id">;

/** Which session's changes, and how it was found. */
export interface ChangesTarget {
  session: SessionRecord;
  /** The project directory the changes belong to (the baseline's root, else the session's). */
  project: string;
  /** True when no session was named and the project's latest one was taken. */
  latest: boolean;
}

/** What {@linkcode findChangesSession} looks for. */
export interface ChangesQuery {
  /** A session's name, id or unique id prefix; absent: the latest session of `project`. */
  ref?: string;
  /** The project directory (absolute, real) whose latest session is meant without `ref`. */
  project: string;
  /** What the caller wants the changes for: words the not-found message uses. */
  purpose: "diff" | "apply";
}

/**
 * The session `query` names, or the latest session of its project with a changeset.
 *
 * @example
 * ```ts ignore
 * import { findChangesSession } from "./changes.ts";
 * const { session } = await findChangesSession(ctx, { project: "/src/app", purpose: "diff" });
 * ```
 */
export async function findChangesSession(
  ctx: ApiContext,
  query: ChangesQuery,
): Promise<ChangesTarget> {
  let session: SessionRecord | undefined;
  if (query.ref === undefined) {
    session = await latestSessionWithChanges(ctx.db, { project: query.project });
    if (!session) {
      const what = query.purpose === "apply" ? "changes to apply" : "recorded workspace changes";
      throw new AgentboxError(
        `No session of project ${printable(query.project)} has ${what}: name a SESSION, or ` +
          "give the project with --share DIR",
        { kind: "not_found", code: "no_session_changes" },
      );
    }
  } else {
    // A long-lived session's name first, then an id or a prefix of one.
    const named = findLifecycle(ctx.db, query.ref);
    session = findSession(ctx.db, named?.id ?? query.ref);
    if (!session) {
      throw new AgentboxError(`No single session matches "${printable(query.ref)}"`, {
        kind: "not_found",
        code: "session_unknown",
      });
    }
  }
  const paths = changesetPaths(sessionStateDir(session.id));
  const project = await baselineRoot(paths.baseline) ?? session.project ?? query.project;
  return { session, project, latest: query.ref === undefined };
}

/**
 * The stored changeset of `session`. A running long-lived session is asked to collect its
 * changes now first (live_changes.ts); one that ended without collecting them gets them
 * recovered from its disk (this boots a VM; said as a `progress` event).
 *
 * @example
 * ```ts ignore
 * import { loadChanges } from "./changes.ts";
 * const changeset = await loadChanges(ctx, session);
 * ```
 */
export async function loadChanges(
  ctx: ApiContext,
  session: SessionRef,
): Promise<StoredChangeset> {
  const dir = sessionStateDir(session.id);
  await collectIfRunning(ctx, session.id, "workspace");
  // Recovery boots a VM: its code is loaded only when a changeset is missing.
  const recovery = await hasChangeset(dir)
    ? undefined
    : await import("../session/recover_changes.ts");
  if (recovery && await recovery.recoverable(session.id)) {
    await recovery.recoverChanges(session.id, {
      onStart: () =>
        ctx.onEvent({
          type: "progress",
          message: `session ${session.id.slice(0, 8)} ended before its changes were collected: ` +
            "recovering them from its disk (this boots a VM)",
        }),
      onWarning: (message) => ctx.onEvent({ type: "warning", message }),
    });
  }
  const short = printable(session.id.slice(0, 12));
  try {
    return await loadChangeset(dir);
  } catch (error) {
    if (error instanceof NoChangesetError) {
      throw new AgentboxError(
        `Session ${short} has no workspace changes recorded (it shared no directory, or ` +
          "its changes were not transferred): run `agentbox diff` without SESSION for the " +
          "latest one that has",
        { kind: "not_found", code: "no_changeset", cause: error },
      );
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new ChangesetError(`Cannot show the changes of session ${short}: ${detail}`, {
      cause: error,
    });
  }
}

/** Where a session's apply keeps its state, next to its changeset. */
export interface ApplyPaths {
  /** The journal of an apply under way (or interrupted). */
  journal: string;
  /** The journal of the last completed apply, with its backups, kept for `apply --undo`. */
  undo: string;
  /** Which paths of which changeset were applied. */
  completion: string;
}

/**
 * The apply state files of a changeset (`<session>/workspace/…`).
 *
 * @example
 * ```ts
 * import { applyPaths } from "./changes.ts";
 * import { changesetPaths } from "../workspace/changeset.ts";
 * console.log(applyPaths({ paths: changesetPaths("/state/sessions/abc") }).undo);
 * // /state/sessions/abc/workspace/last-apply
 * ```
 */
export function applyPaths(changeset: Pick<StoredChangeset, "paths">): ApplyPaths {
  const root = changeset.paths.root;
  return {
    journal: `${root}/apply-journal`,
    undo: `${root}/last-apply`,
    completion: `${root}/applied.json`,
  };
}

/** One change, and whether an apply already brought it to the host. */
export interface ChangeEntry extends DiffEntry {
  /** The host already has this change (a previous `apply` wrote it). */
  applied: boolean;
}

/** Which entries {@linkcode diffChanges} shows. */
export interface DiffFilter {
  /** Leave out paths the project's own `.gitignore` files ignored (as they were on the host). */
  hideIgnored?: boolean;
  /**
   * Project-relative paths or globs (path_glob.ts syntax; a directory selects everything below
   * it); empty or absent: every path.
   */
  paths?: readonly string[];
}

/** The diff of a changeset, as data. */
export interface ChangesView {
  /** The changes shown, sorted by path. */
  entries: ChangeEntry[];
  /** Changeset entries the gitignore filter left out. */
  hiddenIgnored: number;
  /** Changeset entries the path filter left out. */
  hiddenByPath: number;
  /** How many of `entries` are already applied to the host. */
  applied: number;
}

/**
 * The diff of `changeset` against its baseline, filtered as `filter` says, with each entry marked
 * applied when the session's completion record says an apply wrote it.
 *
 * @example
 * ```ts ignore
 * import { diffChanges, loadChanges } from "./changes.ts";
 * const view = await diffChanges(await loadChanges(ctx, session), { hideIgnored: true });
 * console.log(view.entries.length, "shown,", view.hiddenIgnored, "hidden");
 * ```
 */
export async function diffChanges(
  changeset: StoredChangeset,
  filter: DiffFilter = {},
): Promise<ChangesView> {
  const { baseline, records, paths } = changeset;
  const root = baseline.root;
  const selected = pathSelector(filter.paths ?? []);
  const matcher = filter.hideIgnored ? hostIgnoreMatcher(baseline, root) : undefined;
  let hiddenIgnored = 0;
  const done = await readCompletion(applyPaths(changeset).completion, changesetId(records));
  const all = await classifyChanges(records, baseline, {
    root,
    blobs: paths.blobs,
    applied: done,
    // Counted only among the selected paths: "N hidden" is about what the user asked to see.
    ignore: async (path, isDir) => {
      if (!matcher || !selected(path) || !await matcher.ignored(path, isDir)) return false;
      hiddenIgnored++;
      return true;
    },
  });
  // After classifying: a selected path below a deleted directory is implied by its record.
  const kept = all.filter((entry) => selected(entry.path));
  const hiddenByPath = all.length - kept.length;
  const entries = kept.map((entry) => ({ ...entry, applied: entry.applied ?? false }));
  return {
    entries,
    hiddenIgnored,
    hiddenByPath,
    applied: entries.filter((entry) => entry.applied).length,
  };
}

/**
 * Throw away the stored changes of `session` (the changeset; the baseline stays, so the session
 * still names its project).
 *
 * @example
 * ```ts ignore
 * import { discardChanges } from "./changes.ts";
 * await discardChanges(session);
 * ```
 */
export async function discardChanges(session: SessionRef): Promise<void> {
  await Deno.remove(changesetPaths(sessionStateDir(session.id)).changes, { recursive: true })
    .catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
}

/**
 * `paths` as project-relative path filters: `./` and trailing slashes dropped, an absolute path
 * inside `root` made relative. Throws a `usage` error for a path outside the project.
 *
 * @example
 * ```ts
 * import { projectPaths } from "./changes.ts";
 * console.assert(projectPaths(["./src/", "/p/docs"], "/p").join() === "src,docs");
 * ```
 */
export function projectPaths(paths: readonly string[], root: string): string[] {
  return paths.map((path) => {
    let rel = path;
    if (rel.startsWith("/")) {
      if (rel === root) return "**";
      if (!rel.startsWith(`${root}/`)) {
        throw new AgentboxError(
          `${printable(path)} is outside the project ${printable(root)}: give a path inside it`,
          { kind: "usage", code: "path_outside_project" },
        );
      }
      rel = rel.slice(root.length + 1);
    }
    while (rel.startsWith("./")) rel = rel.slice(2);
    rel = rel.replace(/\/+$/, "");
    return rel === "" || rel === "." ? "**" : rel;
  });
}
