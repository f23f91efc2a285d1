/**
 * The method/path decision on one request, from `[[inspect.rules]]`: a matching deny refuses;
 * otherwise, when any rule for the host lists `allow` patterns, one must match.
 *
 * @module
 */

import type { CanonicalHost } from "../net/canonical_host.ts";
import { matchesHost } from "./host_pattern.ts";
import type { RequestRule } from "./inspect_settings.ts";
import { matchesEveryReading, matchesRoute, pathReadings } from "./route_pattern.ts";

/** Outcome of {@linkcode checkRequest}; `rule` names the pattern that decided. */
export interface RequestDecision {
  allowed: boolean;
  rule?: string;
}

/**
 * Decide on `method` + normalised `path` (see `normalizePath`) for `host`. A path with encoded
 * separators has several readings (`pathReadings`: as sent, `%2F` decoded, dot segments then
 * resolved): a deny pattern refuses when it matches any reading, case-insensitively; an allow
 * pattern admits only when it matches every reading. So an upstream that decodes `%2F` (or
 * ignores case) cannot be reached around a rule either way.
 *
 * @example
 * ```ts
 * import { checkRequest } from "./request_rules.ts";
 * import { parseRoutePattern } from "./route_pattern.ts";
 * import { parseHostPattern } from "./host_pattern.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * const rules = [{
 *   host: { pattern: parseHostPattern("api.github.com"), source: "test" },
 *   allow: [parseRoutePattern("GET")],
 *   deny: [],
 * }];
 * console.assert(!checkRequest(rules, canonicalHost("api.github.com"), "POST", "/x").allowed);
 * ```
 */
export function checkRequest(
  rules: readonly RequestRule[],
  host: CanonicalHost,
  method: string,
  path: string,
): RequestDecision {
  const mine = rules.filter((r) => matchesHost(r.host.pattern, host));
  if (mine.length === 0) return { allowed: true };
  const variants = pathReadings(path);
  for (const rule of mine) {
    const hit = rule.deny.find((p) => variants.some((v) => matchesRoute(p, method, v, true)));
    if (hit) {
      return {
        allowed: false,
        rule: `inspect.rules deny ${JSON.stringify(hit.text)} (${rule.host.source})`,
      };
    }
  }
  const allowing = mine.filter((r) => r.allow.length > 0);
  if (allowing.length === 0) return { allowed: true };
  for (const rule of allowing) {
    const hit = rule.allow.find((p) => matchesEveryReading(p, method, path));
    if (hit) {
      return {
        allowed: true,
        rule: `inspect.rules allow ${JSON.stringify(hit.text)} (${rule.host.source})`,
      };
    }
  }
  return {
    allowed: false,
    rule: `inspect.rules: ${method} ${path} matches no allow pattern for ${host.name}`,
  };
}
