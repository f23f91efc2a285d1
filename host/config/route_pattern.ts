/**
 * Method and path patterns of the request rules applied to decrypted (and plain-HTTP) requests:
 * `GET`, `* /health`, `POST /repos/*\/issues`, `GET /v1/**`. In a path, `*` matches within one
 * segment, `**` across segments; the query string is never matched.
 *
 * @module
 */

import { PatternError } from "./host_pattern.ts";

/** A parsed `METHOD [PATH]` pattern. */
export interface RoutePattern {
  /** The pattern as written, for messages and logs. */
  text: string;
  /** An upper-case method, or `*` for any. */
  method: string;
  /** Anchored path matcher; absent = any path. */
  path?: RegExp;
}

const METHOD = /^(\*|[A-Z]{1,20})$/;
const PATH = /^\/[!-~]*$/;

/**
 * Parse `METHOD`, `METHOD PATH` or `* PATH`. Throws `PatternError`.
 *
 * @example
 * ```ts
 * import { matchesRoute, parseRoutePattern } from "./route_pattern.ts";
 * const p = parseRoutePattern("POST /repos/*\/issues");
 * console.assert(matchesRoute(p, "POST", "/repos/x/issues"));
 * ```
 */
export function parseRoutePattern(text: string): RoutePattern {
  const parts = text.trim().split(/\s+/);
  const [method, path] = parts;
  if (parts.length > 2 || !METHOD.test(method ?? "")) {
    throw new PatternError(`${JSON.stringify(text)}: expected "METHOD" or "METHOD /path"`);
  }
  if (path === undefined) return { text, method };
  if (!PATH.test(path) || path.includes("?") || path.includes("#")) {
    throw new PatternError(`${JSON.stringify(text)}: the path must start with "/" (no query)`);
  }
  const source = path.split(/(\*\*|\*)/).map((piece) =>
    piece === "**" ? ".*" : piece === "*" ? "[^/]*" : piece.replace(/[.+?^${}()|[\]\\]/g, "\\$&")
  ).join("");
  return { text, method, path: new RegExp(`^${source}$`) };
}

/**
 * Whether `method` and the normalised `path` (see {@linkcode normalizePath}) match. With
 * `ignoreCase` the path is compared case-insensitively (deny rules use it, so `/Repos/…` cannot
 * slip past a rule written for `/repos/…` on a server that ignores case).
 *
 * @example
 * ```ts
 * import { matchesRoute, parseRoutePattern } from "./route_pattern.ts";
 * console.assert(matchesRoute(parseRoutePattern("GET"), "GET", "/anything"));
 * ```
 */
export function matchesRoute(
  pattern: RoutePattern,
  method: string,
  path: string,
  ignoreCase = false,
): boolean {
  if (pattern.method !== "*" && pattern.method !== method) return false;
  if (!pattern.path) return true;
  return ignoreCase ? new RegExp(pattern.path.source, "i").test(path) : pattern.path.test(path);
}

const UNRESERVED = /%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;

/**
 * The path rules are matched against — and the one sent upstream, so both agree: the URL
 * parser's path (dot segments resolved), percent-encoded unreserved characters decoded, runs of
 * `/` collapsed.
 *
 * @example
 * ```ts
 * import { normalizePath } from "./route_pattern.ts";
 * console.assert(normalizePath("//repos/%61/../b//issues") === "/repos/b/issues");
 * ```
 */
export function normalizePath(path: string): string {
  // Collapse first: a leading `//` would otherwise be read as a network-path reference.
  let out = new URL(`http://h${path.replace(/\/{2,}/g, "/")}`).pathname;
  // Decoding may create new dot segments (`%2e%2e`) or slashes runs, so repeat until stable.
  for (let i = 0; i < 4; i++) {
    const decoded = out.replace(UNRESERVED, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
    const next = new URL(`http://h${decoded.replace(/\/{2,}/g, "/")}`).pathname;
    if (next === out) break;
    out = next;
  }
  return out;
}

/**
 * `%2F` or `%5C`, possibly encoded again (`%252F`): a separator some upstreams decode; or `;`,
 * which starts a path parameter that some (Java servlet containers) drop before routing.
 */
const SEPARATOR_TRICK = /%(?:25)*(?:2f|5c)|;/i;

/**
 * Every way an upstream may read the normalised `path` (see {@linkcode normalizePath}): as sent,
 * and — when it holds an encoded separator (`%2F`, `%5C`, or those encoded again) or a `;` — with
 * the separators decoded and the `;parameters` dropped, both as they stand and with the dot
 * segments that creates resolved. Many servers decode `%2F` before routing (some `%5C` too):
 * `/repos/mine/..%2Fother` is `/repos/other` to them; servlet containers read `/mine/..;/other`
 * as `/other`. A rule or a path-bound credential must hold for every reading, so deny patterns
 * match if any reading matches and allow patterns (and credential paths) only if all do.
 *
 * @example
 * ```ts
 * import { pathReadings } from "./route_pattern.ts";
 * console.assert(pathReadings("/a/b").length === 1);
 * console.assert(pathReadings("/repos/mine/..%2Fother").includes("/repos/other"));
 * ```
 */
export function pathReadings(path: string): string[] {
  if (!SEPARATOR_TRICK.test(path)) return [path];
  let decoded = path;
  // Bounded: each round removes at least one level of `%25`.
  for (let i = 0; i < 8; i++) {
    const next = decoded.replace(/%25/gi, "%").replace(/%2f|%5c/gi, "/");
    if (next === decoded) break;
    decoded = next;
  }
  const readings = [path, decoded, normalizePath(decoded)];
  if (decoded.includes(";")) {
    const bare = decoded.replace(/;[^/]*/g, "");
    readings.push(bare, normalizePath(bare));
  }
  return [...new Set(readings)];
}

/**
 * Whether every reading of `path` (see {@linkcode pathReadings}) matches `pattern`: what a path
 * binding — an allow pattern, a credential's `path` — must check.
 *
 * @example
 * ```ts
 * import { matchesEveryReading, parseRoutePattern } from "./route_pattern.ts";
 * const mine = parseRoutePattern("* /repos/mine/**");
 * console.assert(matchesEveryReading(mine, "GET", "/repos/mine/x"));
 * console.assert(!matchesEveryReading(mine, "GET", "/repos/mine/..%2Fother"));
 * ```
 */
export function matchesEveryReading(pattern: RoutePattern, method: string, path: string): boolean {
  return pathReadings(path).every((reading) => matchesRoute(pattern, method, reading));
}
