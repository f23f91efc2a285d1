/**
 * Which workspace paths the host later executes or trusts (DESIGN security rule 10). Git's own
 * directory is never written; files that tools run on their own (the list and the dotfile rule in
 * high_risk_paths.ts) are high-risk and applied only after explicit confirmation; symlinks
 * pointing outside the project are high-risk too.
 *
 * @module
 */

import { posix } from "node:path";
import {
  DOTFILE_RULE,
  HIGH_RISK_PATHS,
  type HighRiskPath,
  INERT_DOTFILES,
} from "./high_risk_paths.ts";
import { compileGlob } from "./path_glob.ts";

/**
 * Why `path` must never be written by an apply, or `undefined`. Any component named `.git` (in any
 * letter case, so case-insensitive file systems are covered too) makes the path git's: its config
 * and hooks run code, its objects and refs are what the user trusts, and a `.git` *file* can point
 * git at another directory.
 *
 * @example
 * ```ts
 * import { gitPathProblem } from "./risk.ts";
 * console.assert(gitPathProblem(".git/hooks/pre-commit") !== undefined);
 * console.assert(gitPathProblem("src/.gitignore") === undefined);
 * ```
 */
export function gitPathProblem(path: string): string | undefined {
  return path.split("/").some((part) => part.toLowerCase() === ".git")
    ? "inside .git: git's config, hooks and objects are never written by apply"
    : undefined;
}

const highRiskPatterns = HIGH_RISK_PATHS.map((entry) => ({
  ...entry,
  pattern: compileGlob(entry.glob.toLowerCase()),
}));

/**
 * Why a change to `path` is high-risk (the host may execute or trust it), or `undefined`: the
 * first entry of {@linkcode HIGH_RISK_PATHS} matching the path or one of its directories (letter
 * case ignored), else the dotfile rule for any dot-directory on the way or a dotfile not in
 * {@linkcode INERT_DOTFILES}.
 *
 * @example
 * ```ts
 * import { highRiskReason } from "./risk.ts";
 * console.assert(highRiskReason(".github/workflows/ci.yml") !== undefined);
 * console.assert(highRiskReason("pkg/.claude/settings.json") !== undefined);
 * console.assert(highRiskReason("src/main.ts") === undefined);
 * ```
 */
export function highRiskReason(path: string): string | undefined {
  return highRiskEntry(path)?.reason;
}

/**
 * The entry that makes `path` high-risk (see {@linkcode highRiskReason}), with its source.
 *
 * @example
 * ```ts
 * import { highRiskEntry } from "./risk.ts";
 * console.log(highRiskEntry("CLAUDE.md")?.source);
 * ```
 */
export function highRiskEntry(path: string): Omit<HighRiskPath, "glob"> | undefined {
  const parts = path.toLowerCase().split("/");
  for (let n = parts.length; n > 0; n--) {
    const prefix = parts.slice(0, n).join("/");
    const entry = highRiskPatterns.find(({ pattern }) => pattern.test(prefix));
    if (entry) return { reason: entry.reason, source: entry.source };
  }
  const name = parts.at(-1)!;
  const dotDir = parts.slice(0, -1).some((part) => part.startsWith("."));
  if (dotDir || (name.startsWith(".") && !INERT_DOTFILES.includes(name))) return DOTFILE_RULE;
  return undefined;
}

/**
 * Why a symlink at `path` pointing to `target` is high-risk, or `undefined`: an absolute target,
 * or a relative one that climbs out of the project.
 *
 * @example
 * ```ts
 * import { symlinkRisk } from "./risk.ts";
 * console.assert(symlinkRisk("x", "/etc") !== undefined);
 * console.assert(symlinkRisk("a/b", "../../..") !== undefined);
 * console.assert(symlinkRisk("a/b", "../c") === undefined);
 * ```
 */
export function symlinkRisk(path: string, target: string): string | undefined {
  if (target.startsWith("/")) return "symlink to an absolute path";
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === ".." || resolved.startsWith("../")) {
    return "symlink pointing outside the project";
  }
  return undefined;
}
