/**
 * The system changeset: what a session's guest changed in its root filesystem outside the
 * workspace, collected from the root overlay's upper layer over the agent channel with the same
 * changes stream, receiver and limits as the workspace's, and stored beside it:
 *
 * ```
 * <session>/system/
 *   changes/records.json, blobs/   the upper layer (less the excluded directories), with owners
 *   base/records.json, blobs/      the same paths as the image has them (the "before")
 * ```
 *
 * The base holds only what the summary needs: dpkg's status, the user and group databases, every
 * changed entry under `/etc`, then the other changed files (to tell a copy-up from a change) and
 * directories, up to {@linkcode MAX_BASE_PATHS}.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import type { AgentClient } from "../channel/agent_client.ts";
import {
  ChangesetError,
  type ChangesetPaths,
  type UpperRecord,
  validateRecords,
} from "../workspace/changeset.ts";
import { receiveChangeset } from "../workspace/receive_changeset.ts";
import { DEFAULT_WORKSPACE_LIMITS, type WorkspaceLimits } from "../workspace/workspace_limits.ts";
import { GUEST_SKIPPED_DIRS } from "./system_excludes.ts";

/** Files the summary always reads, before and after. */
export const SEMANTIC_FILES = {
  dpkgStatus: "var/lib/dpkg/status",
  passwd: "etc/passwd",
  group: "etc/group",
} as const;

/** Most paths asked of the base (the protocol's list limit). */
export const MAX_BASE_PATHS = 4096;

/** Files bigger than this are not asked of the base (they are reported as changed). */
const BASE_FILE_BYTES = 1024 * 1024;

/** Where a session's system changeset lives. */
export interface SystemChangesetPaths {
  root: string;
  changes: ChangesetPaths;
  base: ChangesetPaths;
}

/**
 * Paths of the system changeset under `sessionDir`.
 *
 * @example
 * ```ts
 * import { systemChangesetPaths } from "./system_changeset.ts";
 * console.log(systemChangesetPaths("/state/sessions/abc").changes.records);
 * // /state/sessions/abc/system/changes/records.json
 * ```
 */
export function systemChangesetPaths(sessionDir: string): SystemChangesetPaths {
  const root = `${sessionDir}/system`;
  const part = (name: string): ChangesetPaths => ({
    root,
    upperDisk: `${root}/upper.ext4`, // never made: the root's upper layer is the guest's memory
    baseline: `${root}/${name}/baseline.json`,
    changes: `${root}/${name}`,
    records: `${root}/${name}/records.json`,
    blobs: `${root}/${name}/blobs`,
  });
  return { root, changes: part("changes"), base: part("base") };
}

/** The image's agent cannot report the root filesystem's changes (an image built before). */
export class NoRootOverlayError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unavailable", code: "no_root_overlay" });
    this.name = "NoRootOverlayError";
  }
}

/** Options of {@linkcode collectSystemChanges}. */
export interface CollectSystemOptions {
  /** Quota and reserve (default the workspace's defaults). */
  limits?: WorkspaceLimits;
  /** Wall-clock deadline of the whole collection (ms since the epoch). */
  deadline?: number;
}

/** What was collected. */
export interface CollectedSystemChanges {
  records: number;
  bytes: number;
}

/**
 * Fetch the root filesystem's changes over `agent` and store them under `sessionDir` (replacing
 * an earlier collection), then the base of the paths that matter. Throws
 * {@linkcode NoRootOverlayError} when the agent cannot, `ChangesetError` as the workspace's
 * collection does.
 *
 * @example
 * ```ts ignore
 * import { collectSystemChanges } from "./system_changeset.ts";
 * await collectSystemChanges(vm.agent, "/state/sessions/abc");
 * ```
 */
export async function collectSystemChanges(
  agent: AgentClient,
  sessionDir: string,
  options: CollectSystemOptions = {},
): Promise<CollectedSystemChanges> {
  if (!agent.hello.capabilities.includes("changes.system")) {
    throw new NoRootOverlayError(
      "The image's agent cannot report system changes: rebuild the image (agentbox images build)",
    );
  }
  const paths = systemChangesetPaths(sessionDir);
  await Deno.mkdir(paths.root, { recursive: true, mode: 0o700 });
  const limits = options.limits ?? DEFAULT_WORKSPACE_LIMITS;
  const receive = async (
    request: Parameters<AgentClient["changes"]>[0],
    target: ChangesetPaths,
  ) => {
    const { data, entries } = agent.changes({ ...request, deadline: options.deadline });
    return await receiveChangeset(data, target, {
      maxBytes: limits.maxChangesBytes,
      reserveBytes: limits.stateReserveBytes,
      announced: entries,
    }).catch(async (error) => {
      // The agent's refusal closes the stream: its reason comes with the entry count.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const refusal = await Promise.race([
        entries.then(() => undefined, (e) => e),
        new Promise((resolve) => timer = setTimeout(resolve, 1000)),
      ]).finally(() => clearTimeout(timer));
      if (hasCode(error, "no_root_overlay") || hasCode(refusal, "no_root_overlay")) {
        throw new NoRootOverlayError("The image does not expose its root overlay", {
          cause: error,
        });
      }
      throw error;
    });
  };
  const changes = await receive(
    { scope: "system", exclude: [...GUEST_SKIPPED_DIRS] },
    paths.changes,
  );
  const base = await receive(
    { scope: "system-base", paths: basePaths(changes.records) },
    paths.base,
  );
  return { records: changes.records.length, bytes: changes.bytes + base.bytes };
}

/** Whether `error` or one of its causes carries `code`. */
function hasCode(error: unknown, code: string): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}

/**
 * The paths to ask the base for: the semantic files, changed entries under `etc/`, then other
 * changed files up to 1 MiB, then directories — at most {@linkcode MAX_BASE_PATHS}.
 */
export function basePaths(records: UpperRecord[]): string[] {
  const chosen = new Set<string>(Object.values(SEMANTIC_FILES));
  const add = (path: string) => {
    if (chosen.size < MAX_BASE_PATHS) chosen.add(path);
  };
  const valid = records.filter((r) => r.type !== "unsupported");
  for (const r of valid) if (r.path.startsWith("etc/") && r.type !== "dir") add(r.path);
  for (const r of valid) {
    if (r.type === "file" ? r.size <= BASE_FILE_BYTES : r.type !== "dir") add(r.path);
  }
  for (const r of valid) if (r.type === "dir") add(r.path);
  return [...chosen];
}

/** A stored part of the system changeset, validated. */
export interface StoredSystemPart {
  records: UpperRecord[];
  blobs: string;
}

/** A session's stored system changeset. */
export interface StoredSystemChangeset {
  changes: StoredSystemPart;
  base: StoredSystemPart;
}

/** No system changes were recorded for the session. */
export class NoSystemChangesetError extends AgentboxError {
  constructor(sessionDir: string) {
    super(`No system changes are recorded in ${sessionDir}`, {
      kind: "not_found",
      code: "no_system_changeset",
    });
    this.name = "NoSystemChangesetError";
  }
}

/**
 * Load and re-validate the system changeset stored under `sessionDir` (the records on disk are
 * the guest's, checked when they arrived and again now). Throws
 * {@linkcode NoSystemChangesetError} when there is none.
 *
 * @example
 * ```ts ignore
 * import { loadSystemChangeset } from "./system_changeset.ts";
 * const { changes } = await loadSystemChangeset("/state/sessions/abc");
 * ```
 */
export async function loadSystemChangeset(sessionDir: string): Promise<StoredSystemChangeset> {
  const paths = systemChangesetPaths(sessionDir);
  const load = async (part: ChangesetPaths): Promise<StoredSystemPart> => {
    let text: string;
    try {
      text = await Deno.readTextFile(part.records);
    } catch (cause) {
      if (cause instanceof Deno.errors.NotFound) throw new NoSystemChangesetError(sessionDir);
      throw new ChangesetError(`Cannot read the system changes ${part.records}`, { cause });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (cause) {
      throw new ChangesetError(`Cannot read the system changes ${part.records}`, { cause });
    }
    return { records: validateRecords(raw), blobs: part.blobs };
  };
  return { changes: await load(paths.changes), base: await load(paths.base) };
}
