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

/** What the tree will hold at a path once the apply is done (the changeset over the host). */
export type TreeNode = { type: "symlink"; target: string } | { type: "dir" | "file" | "other" };

/** Looks up a workspace-relative path in the planned tree; `undefined` when nothing is there. */
export type TreeLookup = (path: string) => Promise<TreeNode | undefined>;

/** Symlinks followed before a resolution is called a loop (Linux's own limit). */
const MAX_LINK_HOPS = 40;

/**
 * Why a symlink at `path` pointing to `target` is high-risk once resolved against the planned tree
 * (`lookup`: the changeset's entries over the host's), or `undefined`. {@linkcode symlinkRisk}
 * only reads the target's text; chained links escape it (`a/up -> ..`, then
 * `x -> a/up/../etc` reads as `a/etc` but is `../etc`). This walks the target component by
 * component as the kernel would, following every link on the way, and calls the link high-risk
 * when the walk leaves the project, meets an absolute link, loops, or when the link resolves to
 * its own directory or one above it (a path through such a link climbs more than it reads).
 *
 * @example
 * ```ts
 * import { resolvedSymlinkRisk, type TreeNode } from "./risk.ts";
 * const tree = new Map<string, TreeNode>([["a", { type: "dir" }], ["a/up", { type: "symlink", target: ".." }]]);
 * const lookup = (p: string) => Promise.resolve(tree.get(p));
 * console.assert(await resolvedSymlinkRisk("x", "a/up/../etc", lookup) !== undefined);
 * console.assert(await resolvedSymlinkRisk("y", "a", lookup) === undefined);
 * ```
 */
export async function resolvedSymlinkRisk(
  path: string,
  target: string,
  lookup: TreeLookup,
): Promise<string | undefined> {
  const lexical = symlinkRisk(path, target);
  if (lexical) return lexical;
  const home = path.split("/").slice(0, -1);
  const dir = [...home];
  const pending = target.split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (dir.length === 0) return "symlink resolving outside the project through another symlink";
      dir.pop();
      continue;
    }
    const here = [...dir, part].join("/");
    const node = await lookup(here);
    if (node?.type !== "symlink") {
      dir.push(part);
      continue;
    }
    if (++hops > MAX_LINK_HOPS) return "symlink loop";
    if (node.target.startsWith("/")) {
      return "symlink resolving to an absolute path through another symlink";
    }
    pending.unshift(...node.target.split("/"));
  }
  const ancestor = dir.length <= home.length && dir.every((part, i) => part === home[i]);
  if (ancestor) {
    return "symlink to its own directory or one above it: paths through it can climb out";
  }
  return undefined;
}
