/**
 * Path globs for `agentbox apply --path`: `*` matches within one path component, `**` matches any
 * number of whole components (zero included), `?` matches one character other than `/`. Every
 * other character is literal. A glob that names a directory also selects everything below it, so
 * `--path src` is `src` and `src/**`.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";

/** A glob that cannot be used; the message says why. */
export class GlobError extends AgentboxError {
  constructor(message: string) {
    super(message, { kind: "usage", code: "bad_glob" });
    this.name = "GlobError";
  }
}

/**
 * Compile `glob` into an anchored regular expression over workspace-relative paths. Leading `./`
 * and trailing `/` are ignored. Throws {@linkcode GlobError} for an empty or absolute glob.
 *
 * @example
 * ```ts
 * import { compileGlob } from "./path_glob.ts";
 * console.assert(compileGlob("src/**\/*.ts").test("src/a/b.ts"));
 * console.assert(!compileGlob("*.ts").test("src/a.ts"));
 * ```
 */
export function compileGlob(glob: string): RegExp {
  const text = glob.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  if (text === "") throw new GlobError(`Empty path glob "${glob}"`);
  if (text.startsWith("/")) {
    throw new GlobError(`Path glob "${glob}" is absolute: use a path relative to the project`);
  }
  const parts = text.split("/").map((part, i, all) => {
    if (part === "**") return i === all.length - 1 ? "(?:.*)" : "(?:[^/]+/)*";
    const body = [...part].map(globChar).join("");
    return i === all.length - 1 ? body : `${body}/`;
  });
  return new RegExp(`^${parts.join("")}$`, "s");
}

function globChar(c: string): string {
  if (c === "*") return "[^/]*";
  if (c === "?") return "[^/]";
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * A predicate for "is `path` selected by one of `globs`": the path or one of its ancestors
 * matches. No globs selects everything.
 *
 * @example
 * ```ts
 * import { pathSelector } from "./path_glob.ts";
 * const selected = pathSelector(["src", "*.md"]);
 * console.assert(selected("src/a/b.ts") && selected("README.md") && !selected("lib/x.md"));
 * ```
 */
export function pathSelector(globs: readonly string[]): (path: string) => boolean {
  if (globs.length === 0) return () => true;
  const patterns = globs.map(compileGlob);
  return (path) => {
    const parts = path.split("/");
    for (let n = parts.length; n > 0; n--) {
      const prefix = parts.slice(0, n).join("/");
      if (patterns.some((p) => p.test(prefix))) return true;
    }
    return false;
  };
}
