/**
 * What the configuration says about TLS inspection: whether and where it is on, what is never
 * inspected, the method/path rules and host rewrites applied to decrypted requests, and the
 * credentials the proxy injects. Loaded with the policy (load_config.ts); used by host/tls and
 * host/proxy.
 *
 * @module
 */

import type { CanonicalHost } from "../net/canonical_host.ts";
import type { PolicyRule } from "./policy.ts";
import { matchesHost } from "./host_pattern.ts";
import type { RoutePattern } from "./route_pattern.ts";

/** `[[inspect.rules]]`: method/path rules for the hosts `host` matches. */
export interface RequestRule {
  host: PolicyRule;
  /** When non-empty, a request must match one of these. */
  allow: RoutePattern[];
  /** A request matching one of these is refused (checked first). */
  deny: RoutePattern[];
}

/** `[[inspect.rewrites]]`: requests for `host` go to `to` instead. */
export interface HostRewrite {
  /** An exact host (no wildcard): a rewrite sends traffic somewhere the guest did not name. */
  host: string;
  to: { host: CanonicalHost; port: number; pathPrefix: string };
  source: string;
}

/** Where a credential's secret comes from. Never the guest, never a command line argument. */
export type SecretSpec =
  | { kind: "env"; name: string }
  | { kind: "file"; path: string; ttlMs: number }
  | { kind: "command"; argv: string[]; ttlMs: number };

/** `[[credentials]]`: a header the proxy sets on matching decrypted requests. */
export interface CredentialSpec {
  /** Canonical host the secret is bound to (with scheme https and `port`). */
  host: string;
  port: number;
  /** Optional path pattern (e.g. `/v1/**`); absent = every path. */
  path?: RoutePattern;
  /** Lower-case header name, e.g. `x-api-key`, `authorization`. */
  header: string;
  /** Value prefix, e.g. `Bearer` → `Authorization: Bearer <secret>`. */
  scheme?: string;
  secret: SecretSpec;
  /** Guest environment variables that receive the placeholder. */
  guestEnv: string[];
  source: string;
}

/** The `[inspect]` settings plus `[[credentials]]`. */
export interface InspectSettings {
  /** Inspect every allowed host (`--tls-inspect`, `inspect.enabled`). */
  enabled: boolean;
  /** Inspect these hosts even when `enabled` is off. */
  hosts: PolicyRule[];
  /** Never inspect these (tunnel as before) — unless rules, rewrites or credentials need it. */
  bypass: PolicyRule[];
  rules: RequestRule[];
  rewrites: HostRewrite[];
  credentials: CredentialSpec[];
  /** Persist the CA here (user config only); absent: the key lives only in memory. */
  caFile?: string;
}

/**
 * Settings with inspection off and nothing configured.
 *
 * @example
 * ```ts
 * import { emptyInspectSettings } from "./inspect_settings.ts";
 * console.assert(!emptyInspectSettings().enabled);
 * ```
 */
export function emptyInspectSettings(): InspectSettings {
  return { enabled: false, hosts: [], bypass: [], rules: [], rewrites: [], credentials: [] };
}

/**
 * Whether `host` must be seen in the clear to enforce what is configured for it: a request
 * rule, a rewrite or a credential. Such hosts are inspected even when bypassed, and refused when
 * inspection is unavailable (fail closed: a rule is never silently skipped).
 *
 * @example
 * ```ts
 * import { emptyInspectSettings, needsInspection } from "./inspect_settings.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * console.assert(!needsInspection(emptyInspectSettings(), canonicalHost("a.test")));
 * ```
 */
export function needsInspection(settings: InspectSettings, host: CanonicalHost): boolean {
  return settings.rules.some((r) => matchesHost(r.host.pattern, host)) ||
    settings.rewrites.some((r) => r.host === host.name) ||
    settings.credentials.some((c) => c.host === host.name);
}

/**
 * Whether a tunnel to `host` is decrypted: hosts that need it always; else not when bypassed or
 * an IP literal (the CA never vouches for an address); else when inspection is on globally or
 * for this host.
 *
 * @example
 * ```ts
 * import { emptyInspectSettings, shouldInspect } from "./inspect_settings.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * const s = { ...emptyInspectSettings(), enabled: true };
 * console.assert(shouldInspect(s, canonicalHost("api.github.com")));
 * ```
 */
export function shouldInspect(settings: InspectSettings, host: CanonicalHost): boolean {
  if (needsInspection(settings, host)) return true;
  if (host.kind !== "dns") return false;
  if (settings.bypass.some((r) => matchesHost(r.pattern, host))) return false;
  return settings.enabled || settings.hosts.some((r) => matchesHost(r.pattern, host));
}

/**
 * Whether inspection is asked for at all (a CA is needed).
 *
 * @example
 * ```ts
 * import { emptyInspectSettings, inspectionWanted } from "./inspect_settings.ts";
 * console.assert(!inspectionWanted(emptyInspectSettings()));
 * ```
 */
export function inspectionWanted(settings: InspectSettings): boolean {
  return settings.enabled || settings.hosts.length > 0 || settings.rules.length > 0 ||
    settings.rewrites.length > 0 || settings.credentials.length > 0;
}
