/**
 * The lstat facts apply compares against the baseline: type, permission bits, size, mtime and
 * inode, in the {@linkcode BaselineEntry} shape `baseline.json` uses.
 *
 * @module
 */

import type { BaselineEntry } from "./changeset.ts";

/**
 * Whether the host still holds what `expected` describes (`null` = nothing there). Directories
 * compare by type only: their size and mtime change whenever an entry inside does, the apply's
 * own included.
 *
 * @example
 * ```ts
 * import { sameFacts } from "./host_facts.ts";
 * console.assert(sameFacts(null, null));
 * ```
 */
export function sameFacts(current: BaselineEntry | null, expected: BaselineEntry | null): boolean {
  if (current === null || expected === null) return current === expected;
  if (current.type !== expected.type) return false;
  if (current.type === "dir") return true;
  return current.mode === expected.mode && current.size === expected.size &&
    current.mtimeMs === expected.mtimeMs && current.ino === expected.ino;
}

/**
 * What differs between the host now and what was expected, in words, for reports.
 *
 * @example
 * ```ts
 * import { describeChange } from "./host_facts.ts";
 * console.log(describeChange(null, { type: "file", mode: 0o644, size: 1, mtimeMs: 0, ino: 1 }));
 * // deleted on the host
 * ```
 */
export function describeChange(current: BaselineEntry | null, expected: BaselineEntry | null) {
  if (current === null) return "deleted on the host";
  if (expected === null) return "created on the host";
  if (current.type !== expected.type) return `now a ${current.type} on the host`;
  return "modified on the host";
}
