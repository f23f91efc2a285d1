/**
 * Host patterns of the policy: an exact name (`api.example.com`), an exact IP literal
 * (`203.0.113.7`) or a suffix wildcard (`*.example.com`, which matches every name *below*
 * `example.com` at any depth, but not `example.com` itself).
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { canonicalHost } from "../net/canonical_host.ts";
import type { CanonicalHost } from "../net/canonical_host.ts";

/** A parsed, canonical host pattern. */
export interface HostPattern {
  /** Canonical text, e.g. `*.example.com`. */
  text: string;
  /** Set for exact patterns: the canonical host name or IP literal. */
  exact?: string;
  /** Set for wildcards: `.example.com` (with the leading dot). */
  suffix?: string;
}

/** A pattern that cannot be used; `message` says why. */
export class PatternError extends AgentboxError {
  constructor(message: string) {
    super(message, { kind: "usage", code: "bad_host_pattern" });
    this.name = "PatternError";
  }
}

/**
 * Parse and canonicalise a pattern (lower case, IDNA, no trailing dot). Refuses `*`, a wildcard
 * in any place but the first label, a wildcard over a single label (`*.com`) or over an IP.
 *
 * @example
 * ```ts
 * import { parseHostPattern } from "./host_pattern.ts";
 * console.assert(parseHostPattern("*.GitHub.com.").suffix === ".github.com");
 * ```
 */
export function parseHostPattern(text: string): HostPattern {
  if (text === "*") throw new PatternError(`"*" would allow everything; use network.mode = "open"`);
  const wildcard = text.startsWith("*.");
  const body = wildcard ? text.slice(2) : text;
  if (body.includes("*")) throw new PatternError(`${JSON.stringify(text)}: "*" only as "*.suffix"`);
  let host: CanonicalHost;
  try {
    host = canonicalHost(body);
  } catch {
    throw new PatternError(`${JSON.stringify(text)} is not a host name`);
  }
  if (!wildcard) return { text: host.name, exact: host.name };
  if (host.kind !== "dns") {
    throw new PatternError(`${JSON.stringify(text)}: no wildcard over an IP`);
  }
  if (!host.name.includes(".")) throw new PatternError(`${JSON.stringify(text)} is too broad`);
  return { text: `*.${host.name}`, suffix: `.${host.name}` };
}

/**
 * Whether a canonical host matches the pattern. Wildcards never match IP literals.
 *
 * @example
 * ```ts
 * import { matchesHost, parseHostPattern } from "./host_pattern.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * console.assert(matchesHost(parseHostPattern("*.example.com"), canonicalHost("a.b.example.com")));
 * ```
 */
export function matchesHost(pattern: HostPattern, host: CanonicalHost): boolean {
  if (pattern.exact !== undefined) return pattern.exact === host.name;
  return host.kind === "dns" && host.name.endsWith(pattern.suffix!);
}
