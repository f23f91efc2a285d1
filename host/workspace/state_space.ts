/**
 * The free space of the file system that holds agentbox's state, and the reserve agentbox never
 * uses (`workspace.state_reserve`, host/config/workspace_settings.ts): a guest's changes are
 * refused before a byte of them would eat into it.
 *
 * @module
 */

import { statfsSync } from "node:fs";
import { ChangesetError } from "./changeset.ts";

/**
 * Bytes an unprivileged writer can still use on the file system holding `path`.
 *
 * @example
 * ```ts
 * import { freeBytes } from "./state_space.ts";
 * console.assert(freeBytes("/") >= 0);
 * ```
 */
export function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return Number(stats.bavail) * Number(stats.bsize);
}

/** Bytes written between two looks at the file system's free space. */
const RECHECK_BYTES = 8 * 1024 * 1024;

/**
 * Hands out space on the file system of `dir` down to `reserveBytes`, and throws
 * {@linkcode ChangesetError} (`low_space`) for the first claim that would go below. The free
 * space is read again every few MiB, so other writers on the same file system are noticed.
 *
 * @example
 * ```ts
 * import { SpaceGuard } from "./state_space.ts";
 * const guard = new SpaceGuard(await Deno.makeTempDir(), 0);
 * guard.claim(4096);
 * ```
 */
export class SpaceGuard {
  #free: number;
  #sinceCheck = 0;

  constructor(readonly dir: string, readonly reserveBytes: number) {
    this.#free = freeBytes(dir);
  }

  /** Claim `bytes` about to be written; throws when they would eat into the reserve. */
  claim(bytes: number): void {
    if (this.#sinceCheck + bytes >= RECHECK_BYTES || this.#free - bytes < this.reserveBytes) {
      this.#free = freeBytes(this.dir);
      this.#sinceCheck = 0;
    }
    if (this.#free - bytes < this.reserveBytes) {
      throw new ChangesetError(
        `Cannot store the guest's changes: ${this.dir} would have less free space than the ` +
          `${formatBytes(this.reserveBytes)} reserve (workspace.state_reserve); nothing was kept`,
        { code: "low_space" },
      );
    }
    this.#free -= bytes;
    this.#sinceCheck += bytes;
  }
}

/**
 * `bytes` for a message: `512 MiB`, `8 GiB`, `1000 bytes`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./state_space.ts";
 * console.assert(formatBytes(8 * 1024 ** 3) === "8 GiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= size && bytes % (size / 16) === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
