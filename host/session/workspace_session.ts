/**
 * The workspace side of one sandbox session: share a host directory with the VM before it boots,
 * and collect what the guest changed before the VM stops — stored as the session's changeset and
 * classified against the baseline, ready for `agentbox diff` and `agentbox apply`.
 *
 * @module
 */

import type { AgentClient } from "../channel/agent_client.ts";
import { loadWorkspaceLimits, type WorkspaceLimits } from "../config/workspace_settings.ts";
import { readBaseline, walkBaseline } from "../workspace/baseline.ts";
import { ChangesetError, changesetPaths } from "../workspace/changeset.ts";
import { classifyChanges, type DiffEntry } from "../workspace/classify.ts";
import { changesetId } from "../workspace/apply.ts";
import { carryCompletion } from "../workspace/completion.ts";
import { hasChangeset, loadChangeset } from "../workspace/load_changeset.ts";
import { receiveChangeset } from "../workspace/receive_changeset.ts";
import { type PreparedShare, prepareShare, type ShareOptions } from "../workspace/share.ts";

/** Options of {@linkcode startWorkspaceSession} and {@linkcode resumeWorkspaceSession}. */
export interface WorkspaceSessionOptions extends ShareOptions {
  /** The bounds on the host's disk; default the user's `[workspace]` settings. */
  limits?: WorkspaceLimits;
  /**
   * Keep the upper disk after a collection (a long-lived session that can be started again over
   * it, `agentbox start`); default: removed once the changes are safe on the host.
   */
  keepUpperDisk?: boolean;
}

/** A shared directory attached to a session. */
export interface WorkspaceSession {
  share: PreparedShare;
  sessionDir: string;
  /**
   * Fetch the guest's changes over `agent`, store them and classify them. The VM must still be
   * running. Throws `ChangesetError` when the guest's report is unacceptable, over the quota,
   * would eat into the state's reserve, or does not arrive within the deadlines (the agent
   * client's, see `AGENT_DEADLINES`, and `options.deadline`); the session's upper disk is kept
   * then, for inspection and a later collection, and nothing of the transfer is.
   */
  collect(agent: AgentClient, options?: CollectOptions): Promise<CollectedChanges>;
}

/** Options of {@linkcode WorkspaceSession.collect}. */
export interface CollectOptions {
  /**
   * Wall-clock time (ms since the epoch) by which the transfer must be complete, such as the
   * end of a run's `--timeout` plus {@linkcode COLLECT_AFTER_TIMEOUT_MS}; it only ever shortens
   * the agent's own deadline for the transfer.
   */
  deadline?: number;
}

/**
 * How long collecting the changes may go on after a command's `--timeout` ran out (30 s): the
 * timeout bounds the whole run, and a command killed at its timeout still has its changes taken.
 */
export const COLLECT_AFTER_TIMEOUT_MS = 30_000;

/** What {@linkcode WorkspaceSession.collect} found. */
export interface CollectedChanges {
  entries: DiffEntry[];
  /** Content bytes received. */
  bytes: number;
  /** Changes a guest reported, before classification dropped copy-ups. */
  records: number;
}

/**
 * Share `dir` with a session whose state lives in `sessionDir`.
 *
 * @example
 * ```ts
 * import { startWorkspaceSession } from "./workspace_session.ts";
 * import { bootVm } from "../vm/boot.ts";
 * const ws = await startWorkspaceSession(Deno.cwd(), "/state/sessions/abc");
 * const vm = await bootVm({ workspace: ws.share });
 * // run commands, then, before stopping the VM:
 * const { entries } = await ws.collect(vm.agent);
 * ```
 */
export async function startWorkspaceSession(
  dir: string,
  sessionDir: string,
  options: WorkspaceSessionOptions = {},
): Promise<WorkspaceSession> {
  const limits = options.limits ?? await loadWorkspaceLimits({ projectDir: dir });
  const share = await prepareShare(dir, sessionDir, {
    ...options,
    stateReserveBytes: limits.stateReserveBytes,
  });
  return workspaceSession(share, sessionDir, limits, options.keepUpperDisk);
}

/**
 * The workspace of a session whose share was prepared earlier — by an owner that died before it
 * collected the changes (a crash, SIGKILL) — from the parts it left in `sessionDir`: the
 * baseline, and the disks given here. Collecting then works as it would have.
 *
 * @example
 * ```ts
 * import { resumeWorkspaceSession } from "./workspace_session.ts";
 * const ws = await resumeWorkspaceSession("/state/sessions/abc", {
 *   lowerImage: "/state/sessions/abc/workspace/lower.erofs",
 *   upperDisk: "/state/sessions/abc/workspace/upper.ext4",
 * });
 * ```
 */
export async function resumeWorkspaceSession(
  sessionDir: string,
  disks: { lowerImage: string; lowerLayers?: number[]; upperDisk: string },
  options: WorkspaceSessionOptions = {},
): Promise<WorkspaceSession> {
  const baseline = await readBaseline(changesetPaths(sessionDir).baseline);
  const share: PreparedShare = {
    root: baseline.root,
    baselineFile: changesetPaths(sessionDir).baseline,
    lowerImage: disks.lowerImage,
    lowerLayers: disks.lowerLayers ?? [],
    upperDisk: disks.upperDisk,
    cached: true,
  };
  const limits = options.limits ?? await loadWorkspaceLimits();
  return workspaceSession(share, sessionDir, limits, options.keepUpperDisk);
}

function workspaceSession(
  share: PreparedShare,
  sessionDir: string,
  limits: WorkspaceLimits,
  keepUpperDisk = false,
): WorkspaceSession {
  const paths = changesetPaths(sessionDir);
  return {
    share,
    sessionDir,
    async collect(agent, { deadline } = {}) {
      // The previous collection (a live diff's, a stop's before a restart), to carry over what
      // of it was applied.
      const previous = await hasChangeset(sessionDir)
        ? await loadChangeset(sessionDir).then((c) => c.records, () => undefined)
        : undefined;
      const { data, entries: announced } = agent.changes({ deadline });
      const received = await receiveChangeset(data, paths, {
        maxBytes: limits.maxChangesBytes,
        reserveBytes: limits.stateReserveBytes,
        announced,
      }).catch((error) => {
        if (!(error instanceof ChangesetError)) throw error;
        throw new ChangesetError(
          `${error.message}; the session's workspace disk is kept: ${share.upperDisk}`,
          { code: error.code, cause: error.cause },
        );
      });
      // A new changeset: what was applied of the previous one stays applied where the guest
      // has not touched it since.
      if (previous) {
        await carryCompletion(
          `${paths.root}/applied.json`,
          { id: changesetId(previous), records: previous },
          { id: changesetId(received.records), records: received.records },
        );
      }
      // The changes are safe on the host now; the sparse disk they came from is not needed,
      // unless the session may be started again over it: then the guest flushes it first (the
      // VM is stopped next, and what is only in the guest's page cache would be lost).
      if (keepUpperDisk) await flushGuestDisks(agent);
      else await Deno.remove(share.upperDisk).catch(() => {});
      const baseline = share.walk
        ? walkBaseline(share.walk)
        : await readBaseline(share.baselineFile);
      const entries = await classifyChanges(received.records, baseline, {
        root: share.root,
        blobs: paths.blobs,
      });
      return { entries, bytes: received.bytes, records: received.records.length };
    },
  };
}

/** Have the guest write every dirty page to its disks (`sync`), so the host's copy is whole. */
async function flushGuestDisks(agent: AgentClient): Promise<void> {
  const run = agent.exec({ argv: ["sync"], user: "root" });
  await Promise.all([run.stdout.cancel(), run.stderr.cancel()]);
  const result = await run.result;
  if (result.code !== 0) {
    throw new ChangesetError(
      `The guest could not flush its workspace disk (sync exited ${result.code})`,
      {
        code: "invalid",
      },
    );
  }
}
