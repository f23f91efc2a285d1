/**
 * Which workspace paths the host later executes or trusts (DESIGN security rule 10). Git's own
 * directory is never written; files that tools run on their own (direnv, editors, CI, package
 * scripts, make, agentbox's policy) are high-risk and applied only after explicit confirmation;
 * symlinks pointing outside the project are high-risk too.
 *
 * @module
 */

import { posix } from "node:path";

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

const HIGH_RISK: readonly [RegExp, string][] = [
  [/(^|\/)\.envrc$/, "direnv runs .envrc when you enter the directory"],
  [/^\.vscode\//, "editors run tasks and settings from .vscode/"],
  [/^\.idea\//, "IDEs run configurations from .idea/"],
  [/^\.github\/workflows\//, "CI runs workflow files"],
  [/^\.gitlab-ci\.yml$/, "CI runs .gitlab-ci.yml"],
  [/(^|\/)package\.json$/, "package.json scripts run on npm/deno install and run"],
  [/(^|\/)\.agentbox\.toml$/, "agentbox's own policy for the next session"],
  [/(^|\/)(GNUmakefile|[Mm]akefile|[^/]*\.mk)$/, "make runs Makefiles"],
  [/(^|\/)([Jj]ustfile|Taskfile\.ya?ml|Rakefile)$/, "task runners execute this file"],
  [/(^|\/)\.pre-commit-config\.yaml$/, "pre-commit runs the hooks listed here"],
  [/(^|\/)\.husky\//, "husky installs these files as git hooks"],
  [/(^|\/)\.gitmodules$/, "git fetches submodules from the URLs listed here"],
  [/(^|\/)\.gitattributes$/, "git runs filter and diff drivers named here"],
];

/**
 * Why a change to `path` is high-risk (the host may execute or trust it), or `undefined`.
 *
 * @example
 * ```ts
 * import { highRiskReason } from "./risk.ts";
 * console.assert(highRiskReason(".github/workflows/ci.yml") !== undefined);
 * console.assert(highRiskReason("src/main.ts") === undefined);
 * ```
 */
export function highRiskReason(path: string): string | undefined {
  return HIGH_RISK.find(([pattern]) => pattern.test(path))?.[1];
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
