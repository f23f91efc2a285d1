/**
 * Reading a session's stored changeset (records and baseline) back from disk, validated.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { readBaseline } from "./baseline.ts";
import {
  type Baseline,
  ChangesetError,
  type ChangesetPaths,
  changesetPaths,
  type UpperRecord,
  validateRecords,
} from "./changeset.ts";

/** A session's changeset, ready to classify. */
export interface StoredChangeset {
  paths: ChangesetPaths;
  baseline: Baseline;
  /** Validated, sorted by path. */
  records: UpperRecord[];
}

/**
 * The session has no changeset on disk (it never shared a workspace, or the transfer did not
 * finish).
 *
 * @example
 * ```ts
 * import { NoChangesetError } from "./load_changeset.ts";
 * throw new NoChangesetError("/state/sessions/abc");
 * ```
 */
export class NoChangesetError extends AgentboxError {
  constructor(sessionDir: string) {
    super(`No workspace changes are recorded in ${sessionDir}`, {
      kind: "not_found",
      code: "no_changeset",
    });
    this.name = "NoChangesetError";
  }
}

/**
 * Whether a session directory holds a complete changeset (its records file exists).
 *
 * @example
 * ```ts
 * import { hasChangeset } from "./load_changeset.ts";
 * console.log(await hasChangeset("/state/sessions/abc"));
 * ```
 */
export async function hasChangeset(sessionDir: string): Promise<boolean> {
  const info = await Deno.lstat(changesetPaths(sessionDir).records).catch(() => undefined);
  return info?.isFile ?? false;
}

/**
 * Load and validate the changeset of `sessionDir`. Throws {@linkcode NoChangesetError} when there
 * is none and `ChangesetError` when it is corrupt.
 *
 * @example
 * ```ts
 * import { loadChangeset } from "./load_changeset.ts";
 * const { records, baseline } = await loadChangeset("/state/sessions/abc");
 * ```
 */
export async function loadChangeset(sessionDir: string): Promise<StoredChangeset> {
  const paths = changesetPaths(sessionDir);
  if (!(await hasChangeset(sessionDir))) throw new NoChangesetError(sessionDir);
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(paths.records));
  } catch (cause) {
    throw new ChangesetError(`Cannot read the changeset records ${paths.records}`, { cause });
  }
  const records = validateRecords(raw);
  const baseline = await readBaseline(paths.baseline);
  return { paths, baseline, records };
}
