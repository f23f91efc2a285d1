/**
 * `.gitignore` matching for `agentbox diff --hide-gitignored`, reading the ignore files of the
 * *host* tree as the baseline recorded it — never the guest's versions, which are hostile.
 *
 * Supported: comments, `\#`/`\!` escapes, trailing-space trimming, `!` negation, dir-only `/`
 * suffix, patterns anchored by a `/`, `*`, `?`, `[...]` classes, `**` (leading, trailing, middle),
 * deeper files taking precedence, `.git/info/exclude`, and git's rule that nothing under an
 * excluded directory can be re-included. Not read: `core.excludesFile` (it lives in git config).
 * Paths under `.git/` are never hidden: changes there are the riskiest of all.
 *
 * @module
 */

import type { Baseline } from "./changeset.ts";
import { readUnder } from "./host_file.ts";

/** One pattern of an ignore file. */
export interface IgnoreRule {
  /** Directory of the ignore file, workspace-relative ("" for the root). */
  base: string;
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
  /** The pattern has no `/`: it matches the last path component at any depth. */
  basename: boolean;
}

/** Largest ignore file read; longer ones are read up to this size. */
const MAX_IGNORE_FILE = 1 << 20;

/**
 * Parse the text of an ignore file found in directory `base`.
 *
 * @example
 * ```ts
 * import { parseGitignore } from "./gitignore.ts";
 * const rules = parseGitignore("node_modules/\n*.log\n!keep.log\n", "");
 * console.assert(rules.length === 3);
 * ```
 */
export function parseGitignore(text: string, base: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split("\n")) {
    let line = raw.replace(/\r$/, "").replace(/(?<!\\) +$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.slice(0, -1);
    if (line === "") continue;
    const basename = !line.includes("/");
    if (line.startsWith("/")) line = line.slice(1);
    rules.push({ base, regex: new RegExp(`^${globToRegex(line)}$`), negate, dirOnly, basename });
  }
  return rules;
}

/**
 * Regular-expression source for a gitignore glob (without anchors).
 *
 * @example
 * ```ts
 * import { globToRegex } from "./gitignore.ts";
 * console.assert(new RegExp(`^${globToRegex("a/**\/b")}$`).test("a/x/y/b"));
 * ```
 */
export function globToRegex(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      const atStart = i === 0 || glob[i - 1] === "/";
      const next = glob[i + 2];
      if (atStart && next === "/") {
        out += "(?:.*/)?";
        i += 2;
        continue;
      }
      if (atStart && next === undefined) {
        out += ".*";
        i += 1;
        continue;
      }
      out += "[^/]*";
      i += 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) out += "\\[";
      else {
        out += charClass(glob.slice(i + 1, end));
        i = end;
      }
    } else if (c === "\\" && i + 1 < glob.length) out += escapeRegex(glob[++i]);
    else out += escapeRegex(c);
  }
  return out;
}

function charClass(body: string): string {
  const negate = body.startsWith("!") || body.startsWith("^");
  const chars = (negate ? body.slice(1) : body).replace(/[\\\]^]/g, (c) => `\\${c}`);
  return negate ? `[^/${chars}]` : `[${chars}]`;
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
}

/**
 * Whether the last rule that matches `path` ignores it: `true`, `false` (re-included), or
 * `undefined` when no rule matches. Rules are in precedence order, lowest first.
 *
 * @example
 * ```ts
 * import { matchRules, parseGitignore } from "./gitignore.ts";
 * console.assert(matchRules(parseGitignore("*.log", ""), "a/b.log", false) === true);
 * ```
 */
export function matchRules(rules: IgnoreRule[], path: string, isDir: boolean): boolean | undefined {
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i];
    if (rule.dirOnly && !isDir) continue;
    if (rule.base !== "" && !path.startsWith(`${rule.base}/`)) continue;
    const relative = rule.base === "" ? path : path.slice(rule.base.length + 1);
    const subject = rule.basename ? relative.slice(relative.lastIndexOf("/") + 1) : relative;
    if (rule.regex.test(subject)) return !rule.negate;
  }
  return undefined;
}

/** Decides whether workspace paths are ignored by the host tree's ignore files. */
export interface IgnoreMatcher {
  ignored(path: string, isDir: boolean): Promise<boolean>;
}

/**
 * A matcher over the ignore files the baseline recorded, read from the host tree under `root`.
 *
 * @example
 * ```ts
 * import { hostIgnoreMatcher } from "./gitignore.ts";
 * import { takeBaseline } from "./baseline.ts";
 * const baseline = await takeBaseline(".");
 * const matcher = hostIgnoreMatcher(baseline, baseline.root);
 * console.log(await matcher.ignored("node_modules", true));
 * ```
 */
export function hostIgnoreMatcher(baseline: Baseline, root: string): IgnoreMatcher {
  const entries = new Map(Object.entries(baseline.entries));
  const rulesOf = new Map<string, Promise<IgnoreRule[]>>();
  const load = (dir: string): Promise<IgnoreRule[]> => {
    if (!rulesOf.has(dir)) rulesOf.set(dir, loadRules(entries, root, dir));
    return rulesOf.get(dir)!;
  };
  const dirIgnored = new Map<string, Promise<boolean>>();
  const decide = async (path: string, isDir: boolean): Promise<boolean> => {
    const parts = path.split("/");
    const rules: IgnoreRule[] = [];
    for (let i = 0; i < parts.length; i++) rules.push(...await load(parts.slice(0, i).join("/")));
    return matchRules(rules, path, isDir) ?? false;
  };
  const ignoredDir = (dir: string): Promise<boolean> => {
    if (!dirIgnored.has(dir)) dirIgnored.set(dir, decide(dir, true));
    return dirIgnored.get(dir)!;
  };
  return {
    async ignored(path: string, isDir: boolean): Promise<boolean> {
      if (path === ".git" || path.startsWith(".git/")) return false;
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) {
        if (await ignoredDir(parts.slice(0, i).join("/"))) return true;
      }
      return await decide(path, isDir);
    },
  };
}

/** Rules of directory `dir`: its `.gitignore`, and for the root `.git/info/exclude` first. */
async function loadRules(
  entries: Map<string, { type: string }>,
  root: string,
  dir: string,
): Promise<IgnoreRule[]> {
  const files = dir === "" ? [".git/info/exclude", ".gitignore"] : [`${dir}/.gitignore`];
  const rules: IgnoreRule[] = [];
  for (const file of files) {
    if (entries.get(file)?.type !== "file") continue;
    const bytes = await readUnder(root, file, MAX_IGNORE_FILE);
    if (bytes) rules.push(...parseGitignore(new TextDecoder().decode(bytes), dir));
  }
  return rules;
}
