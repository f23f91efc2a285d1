/**
 * `share.exclude`: gitignore-syntax patterns for what of a shared directory stays out of the
 * guest's copy (`node_modules/`, `target/`, `*.log`, `!keep.log`), matched by the `ignore`
 * package against paths relative to the shared directory. An excluded directory is not walked:
 * nothing under it can be re-included (git's rule too).
 *
 * @module
 */

import ignore from "ignore";

/** A compiled exclude list. */
export interface ShareExclude {
  /** Whether `path` (relative, `/`-separated) is left out; `isDir` for dir-only patterns. */
  excludes(path: string, isDir: boolean): boolean;
  /**
   * Directory names every directory of which is excluded, wherever it is (patterns such as
   * `node_modules/` or `target`): the walk need not enter them. Empty when a pattern re-includes
   * something (`!keep`), as that could name such a directory.
   */
  pruneNames: string[];
}

/**
 * Compile `patterns`; `undefined` when there are none (nothing to match).
 *
 * @example
 * ```ts
 * import { shareExclude } from "./share_exclude.ts";
 * const ex = shareExclude(["node_modules/", "*.log"])!;
 * console.assert(ex.excludes("web/node_modules", true) && !ex.excludes("src/a.ts", false));
 * ```
 */
export function shareExclude(patterns: readonly string[]): ShareExclude | undefined {
  if (patterns.length === 0) return undefined;
  const matcher = ignore({ allowRelativePaths: false }).add([...patterns]);
  const plain = patterns.map((p) => /^([^/*?[\]\\!#\s]+)\/?$/.exec(p)?.[1]);
  const negated = patterns.some((p) => p.startsWith("!"));
  return {
    excludes: (path, isDir) => matcher.ignores(isDir ? `${path}/` : path),
    pruneNames: negated ? [] : plain.filter((name): name is string => name !== undefined),
  };
}
