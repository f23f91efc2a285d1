/**
 * The changeset: what a session's guest changed in its workspace, as read from the overlay's
 * upper layer and stored on the host. This module is the contract between the guest-side scan
 * (which produces {@linkcode UpperRecord}s), the transfer over the agent channel (which stores
 * them), `agentbox diff` (which classifies them against the baseline) and `agentbox apply`.
 *
 * On disk, under a session's workspace state directory (see {@linkcode changesetPaths}):
 *
 * ```
 * <session>/workspace/
 *   baseline.json        the host tree as it was when the session started (conflict detection)
 *   changes/records.json UpperRecord[] in path order, written atomically after a full transfer
 *   changes/blobs/<sha256>  the content of every regular file in records.json
 * ```
 *
 * Every record came from the guest and is hostile until {@linkcode validateRecords} accepted it.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { escapeControls, printable } from "../terminal_text.ts";

/** One entry of the overlay upper layer, as the guest reports it. Paths are relative to the
 * workspace root, `/`-separated, without `.`/`..`/empty components. */
export type UpperRecord =
  /** A regular file whose full content is in `blobs/<sha256>`. `mode` holds permission bits only. */
  | { path: string; type: "file"; mode: number; size: number; sha256: string } & Ownership
  /** A directory present in the upper layer (new, or copied up because something inside changed). */
  | { path: string; type: "dir"; mode: number } & Ownership
  /** A symbolic link; the target is data, never followed. */
  | { path: string; type: "symlink"; target: string } & Ownership
  /** An entry of the lower layer that the guest deleted (a whiteout, or hidden by an opaque dir). */
  | { path: string; type: "deleted" }
  /** Something that cannot be applied (device, fifo, socket, unrepresentable name): reported only. */
  | { path: string; type: "unsupported"; detail: string };

/**
 * Owner and group ids of an entry, present when the scan reported them (the system scan of
 * `agentbox diff --system`; the workspace scan does not).
 */
export type Ownership = { uid?: number; gid?: number };

/** Limits on what a guest may report; anything beyond is refused, not truncated silently. */
export const CHANGESET_LIMITS = {
  /** Records in one changeset. */
  maxRecords: 1_000_000,
  /** Bytes of one path (workspace-relative; applying also needs the host's whole path to fit). */
  maxPathBytes: 4096,
  /** Bytes of one path component: a name (Linux's `NAME_MAX`). */
  maxNameBytes: 255,
  /** Bytes of one symlink target. */
  maxLinkTargetBytes: 4096,
} as const;

/** Where a session's workspace state lives, given the session's state directory. */
export interface ChangesetPaths {
  root: string;
  /** The writable ext4 disk the guest's workspace upper layer lives on. */
  upperDisk: string;
  baseline: string;
  changes: string;
  records: string;
  blobs: string;
}

/**
 * Paths of the changeset files under `sessionDir` (e.g. `$XDG_STATE_HOME/agentbox/sessions/ID`).
 *
 * @example
 * ```ts
 * import { changesetPaths } from "./changeset.ts";
 * console.log(changesetPaths("/state/sessions/abc").records);
 * // /state/sessions/abc/workspace/changes/records.json
 * ```
 */
export function changesetPaths(sessionDir: string): ChangesetPaths {
  const root = `${sessionDir}/workspace`;
  const changes = `${root}/changes`;
  return {
    root,
    upperDisk: `${root}/upper.ext4`,
    baseline: `${root}/baseline.json`,
    changes,
    records: `${changes}/records.json`,
    blobs: `${changes}/blobs`,
  };
}

/**
 * Why a changeset was refused: `invalid`, the guest's report is malformed or hostile;
 * `over_quota`, its content is over `workspace.max_changes`; `low_space`, storing it would eat
 * into `workspace.state_reserve`.
 */
export type ChangesetErrorCode = "invalid" | "over_quota" | "low_space";

/** A changeset path or record that fails validation. The message says which and why. */
export class ChangesetError extends AgentboxError {
  declare readonly code: ChangesetErrorCode;

  constructor(message: string, options?: ErrorOptions & { code?: ChangesetErrorCode }) {
    const code = options?.code ?? "invalid";
    super(message, { ...options, kind: CHANGESET_ERROR_KINDS[code], code });
    this.name = "ChangesetError";
  }
}

const CHANGESET_ERROR_KINDS = {
  invalid: "guest",
  over_quota: "failed",
  low_space: "unavailable",
} as const;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

/**
 * Why `path` is not an acceptable workspace-relative path, or `undefined` when it is.
 * Refused: empty, absolute, `.`/`..`/empty components, NUL, any control character (newlines
 * included: they forge lines in diffs and logs), U+FFFD (a name that was not valid UTF-8 in the
 * guest arrives mangled), and over-long paths.
 *
 * @example
 * ```ts
 * import { pathProblem } from "./changeset.ts";
 * console.assert(pathProblem("src/a.ts") === undefined);
 * console.assert(pathProblem("../etc/passwd") !== undefined);
 * ```
 */
export function pathProblem(path: string): string | undefined {
  if (typeof path !== "string" || path === "") return "empty path";
  const bytes = pathBytesProblem(path);
  if (bytes !== undefined) return bytes;
  if (path.startsWith("/")) return "absolute path";
  for (const part of path.split("/")) {
    const problem = nameProblem(part);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Why `path` is too long to be a workspace path, or `undefined` when it is not (its names are
 * checked by {@linkcode nameProblem}).
 *
 * @example
 * ```ts
 * import { pathBytesProblem } from "./changeset.ts";
 * console.assert(pathBytesProblem("src/a.ts") === undefined);
 * ```
 */
export function pathBytesProblem(path: string): string | undefined {
  if (path.length <= CHANGESET_LIMITS.maxPathBytes / 3) return undefined;
  const bytes = encoder.encode(path).length;
  if (bytes > CHANGESET_LIMITS.maxPathBytes) {
    return `path is ${bytes} bytes, over the ${CHANGESET_LIMITS.maxPathBytes}-byte limit`;
  }
  return undefined;
}

/**
 * Why `name` (one component) cannot be in a workspace path, or `undefined` when it can: what
 * {@linkcode pathProblem} checks of each component. A walk that checked a directory's path
 * needs only this (and {@linkcode pathBytesProblem}) for each entry in it.
 *
 * @example
 * ```ts
 * import { nameProblem } from "./changeset.ts";
 * console.assert(nameProblem("a.ts") === undefined && nameProblem("..") !== undefined);
 * ```
 */
export function nameProblem(name: string): string | undefined {
  if (name === "" || name === "." || name === "..") return `bad path component "${name}"`;
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "control character in name";
  if (name.includes("\ufffd")) return "name is not valid UTF-8";
  if (name.length > CHANGESET_LIMITS.maxNameBytes / 3) {
    const bytes = encoder.encode(name).length;
    if (bytes > CHANGESET_LIMITS.maxNameBytes) {
      return `a name is ${bytes} bytes, over the ${CHANGESET_LIMITS.maxNameBytes}-byte limit`;
    }
  }
  return undefined;
}

/**
 * Check records received from a guest: shape, types, paths, modes, hashes, limits, and that each
 * path appears once. A record whose path is unacceptable (too long, a name over 255 bytes,
 * control characters…) becomes an `unsupported` one under its escaped path, so the user sees it
 * and the rest of the changeset is unaffected; should that escaped form collide with another
 * record's path, the other record is kept. Returns the records sorted by path.
 *
 * @example
 * ```ts
 * import { validateRecords } from "./changeset.ts";
 * const records = validateRecords([{ path: "a.txt", type: "deleted" }]);
 * console.assert(records.length === 1);
 * ```
 */
export function validateRecords(input: unknown): UpperRecord[] {
  if (!Array.isArray(input)) throw new ChangesetError("Changeset is not a list of records");
  if (input.length > CHANGESET_LIMITS.maxRecords) {
    throw new ChangesetError(`Changeset has more than ${CHANGESET_LIMITS.maxRecords} entries`);
  }
  const collector = new RecordCollector();
  for (const [index, raw] of input.entries()) collector.add(raw, index);
  return collector.sorted();
}

/**
 * Records gathered one at a time (as a stream delivers them), with {@linkcode validateRecords}'
 * rules: each is checked and copied down to its known fields at once; a path appears once; a
 * record whose path is unacceptable becomes `unsupported` under its escaped path, and should that
 * collide with another record's path, the other record is kept.
 */
export class RecordCollector {
  readonly #byPath = new Map<string, UpperRecord>();
  readonly #escaped = new Set<UpperRecord>();

  /**
   * Check `raw` (entry `index`) and keep it; returns the record kept, or `undefined` when an
   * escaped name gave way to a real one. Throws {@linkcode ChangesetError} for a bad record or a
   * duplicate path.
   */
  add(raw: unknown, index: number, options: { unhashed?: boolean } = {}): UpperRecord | undefined {
    const { record, renamed } = checkRecord(raw, index, options);
    const other = this.#byPath.get(record.path);
    if (other === undefined) {
      this.#byPath.set(record.path, record);
      if (renamed) this.#escaped.add(record);
      return record;
    }
    if (renamed) return undefined; // an escaped name reading like another record's: keep that one
    if (!this.#escaped.has(other)) {
      throw new ChangesetError(`Duplicate path in changeset: ${printable(record.path)}`);
    }
    this.#escaped.delete(other);
    this.#byPath.set(record.path, record);
    return record;
  }

  /** The records kept, sorted by path. */
  sorted(): UpperRecord[] {
    return [...this.#byPath.values()].sort((
      a,
      b,
    ) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/**
 * Check one record received from a guest and return a fresh copy holding only its known fields
 * (so the decoded original, with whatever else the guest packed into it, can be dropped at
 * once). A record with a bad name becomes `unsupported`, as in {@linkcode validateRecords}.
 * With `unhashed`, a file's `sha256` is not required and comes back empty: the receiver fills
 * it in once it hashed the content.
 *
 * @example
 * ```ts
 * import { validateRecord } from "./changeset.ts";
 * const record = validateRecord({ path: "a", type: "dir", mode: 0o755, junk: [1, 2] }, 0);
 * console.assert(!("junk" in record));
 * ```
 */
export function validateRecord(
  raw: unknown,
  index: number,
  options: { unhashed?: boolean } = {},
): UpperRecord {
  return checkRecord(raw, index, options).record;
}

function checkRecord(
  raw: unknown,
  index: number,
  options: { unhashed?: boolean },
): { record: UpperRecord; renamed: boolean } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ChangesetError(`Changeset entry ${index} is not an object`);
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.path !== "string") throw new ChangesetError(`Changeset entry ${index} has no path`);
  const path = r.path;
  const problem = pathProblem(path);
  if (problem) {
    // Escaped but whole: cutting long paths short made distinct entries one, and the whole
    // changeset was refused as holding a duplicate.
    return {
      record: { path: escapeControls(path), type: "unsupported", detail: problem },
      renamed: true,
    };
  }
  const bad = (what: string) => new ChangesetError(`Changeset entry ${path}: ${what}`);
  const kept = (record: UpperRecord) => ({ record: withOwner(record, r, bad), renamed: false });
  switch (r.type) {
    case "file":
      if (!isMode(r.mode)) throw bad("bad mode");
      if (!Number.isSafeInteger(r.size) || (r.size as number) < 0) throw bad("bad size");
      if (options.unhashed) {
        return kept({ path, type: "file", mode: r.mode, size: r.size as number, sha256: "" });
      }
      if (typeof r.sha256 !== "string" || !SHA256_HEX.test(r.sha256)) throw bad("bad sha256");
      return kept({ path, type: "file", mode: r.mode, size: r.size as number, sha256: r.sha256 });
    case "dir":
      if (!isMode(r.mode)) throw bad("bad mode");
      return kept({ path, type: "dir", mode: r.mode });
    case "symlink":
      if (typeof r.target !== "string" || r.target === "" || r.target.includes("\0")) {
        throw bad("bad symlink target");
      }
      if (encoder.encode(r.target).length > CHANGESET_LIMITS.maxLinkTargetBytes) {
        throw bad("symlink target too long");
      }
      return kept({ path, type: "symlink", target: r.target });
    case "deleted":
      return kept({ path, type: "deleted" });
    case "unsupported":
      return kept({
        path,
        type: "unsupported",
        detail: typeof r.detail === "string" ? printable(r.detail) : "unsupported",
      });
    default:
      throw bad(`unknown type ${describeGuestValue(r.type)}`);
  }
}

/** `record` with the `uid` and `gid` of `raw` when it has them (ids up to 2^32 - 2). */
function withOwner(
  record: UpperRecord,
  raw: Record<string, unknown>,
  bad: (what: string) => Error,
): UpperRecord {
  if (record.type !== "file" && record.type !== "dir" && record.type !== "symlink") return record;
  for (const key of ["uid", "gid"] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= 0xffff_ffff) {
      throw bad(`bad ${key}`);
    }
    record[key] = value as number;
  }
  return record;
}

function isMode(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0o7777;
}

/**
 * A value a guest sent, described for an error message without ever converting it whole: a
 * string is quoted, escaped and cut to 40 characters, a number or boolean shown, anything else
 * named by its kind. (`String()` of a guest's nested lists can take minutes and gigabytes.)
 *
 * @example
 * ```ts
 * import { describeGuestValue } from "./changeset.ts";
 * console.assert(describeGuestValue("device") === '"device"');
 * console.assert(describeGuestValue([1, [2]]) === "a list");
 * ```
 */
export function describeGuestValue(value: unknown): string {
  switch (typeof value) {
    case "string": {
      const shown = printable(value.slice(0, 40));
      return `"${shown}${value.length > 40 ? "…" : ""}"`;
    }
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "bigint":
      return "a big integer";
    case "object":
      return value === null
        ? "null"
        : Array.isArray(value)
        ? "a list"
        : value instanceof Uint8Array
        ? "a byte string"
        : "a map";
    default:
      return `a ${typeof value}`;
  }
}

/** One host path as it was when the session started (lstat facts; no content hash). */
export interface BaselineEntry {
  type: "file" | "dir" | "symlink" | "other";
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The shared host directory as the session's lower layer saw it: `baseline.json`. */
export interface Baseline {
  /** Absolute, real path of the shared directory. */
  root: string;
  takenAt: number;
  /** Keyed by workspace-relative path (same rules as {@linkcode pathProblem}). */
  entries: Record<string, BaselineEntry>;
}
