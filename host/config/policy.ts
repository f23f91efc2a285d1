/**
 * The egress policy and the one function that applies it. Order: blocklist → tool allowlist →
 * allowlist → graylist → default deny; every decision names the rule that made it.
 *
 * @module
 */

import type { NetBackendChoice } from "../net/net_backend.ts";
import type { CanonicalHost } from "../net/canonical_host.ts";
import { type HostPattern, matchesHost } from "./host_pattern.ts";
import { emptyInspectSettings, type InspectSettings } from "./inspect_settings.ts";

/** `allowlist`: the policy decides. `open`/`learn`: every public host not on the blocklist. */
export type NetMode = "allowlist" | "open" | "learn";

/** One pattern and where it came from, e.g. `network.allow in /p/.agentbox.toml`. */
export interface PolicyRule {
  pattern: HostPattern;
  source: string;
}

/** A complete, validated policy. Build one with `loadPolicy` or `policyFromConfig`. */
export interface Policy {
  mode: NetMode;
  deny: PolicyRule[];
  allow: PolicyRule[];
  gray: PolicyRule[];
  /** Tool name (e.g. `claude`) → its extra allowlist. */
  tools: Map<string, PolicyRule[]>;
  /** Ports a CONNECT tunnel may reach (default 443). */
  connectPorts: ReadonlySet<number>;
  /** Ports a plain-HTTP request may reach (default 80). */
  httpPorts: ReadonlySet<number>;
  /** TLS inspection, request rules, rewrites and credentials (`[inspect]`, `[[credentials]]`). */
  inspect: InspectSettings;
  /** The guest network (`network.backend`, `--net-backend`; default `auto`). */
  backend: NetBackendChoice;
  /**
   * Give the guest the host's extra trusted CAs (`tls.trust_host_ca`, user config only, or
   * `--trust-host-ca`; default false): see host/tls/host_trust.ts.
   */
  trustHostCa: boolean;
}

/** What to do with a destination, and why; for `deny` and `gray`, how the user can allow it. */
export type Decision =
  & {
    /** Human-readable rule, e.g. `network.deny "*.evil.test" (/p/.agentbox.toml)`. */
    rule: string;
  }
  & (
    | { verdict: "allow"; hint?: undefined }
    /** `hint`: e.g. `run with --allow HOST`, or how to take it off a deny list. */
    | { verdict: "deny" | "gray"; hint: string }
  );

/** A destination to decide on. */
export interface Destination {
  host: CanonicalHost;
  port: number;
  /** `connect` for tunnels (and transparent TLS), `http` for plain-HTTP requests. */
  kind: "connect" | "http";
  /** The tool the session runs, for the tool allowlist. */
  tool?: string;
}

/**
 * Decide on a destination.
 *
 * @example
 * ```ts
 * import { decide, emptyPolicy } from "./policy.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * const d = decide(emptyPolicy(), { host: canonicalHost("example.com"), port: 443, kind: "connect" });
 * console.assert(d.verdict === "deny" && d.rule === "default deny");
 * ```
 */
export function decide(policy: Policy, dest: Destination): Decision {
  const hit = (list: PolicyRule[] | undefined) =>
    list?.find((r) => matchesHost(r.pattern, dest.host));
  const denied = hit(policy.deny);
  if (denied) return { verdict: "deny", rule: label("deny", denied), hint: unblockHint(denied) };
  const ports = dest.kind === "connect" ? policy.connectPorts : policy.httpPorts;
  if (!ports.has(dest.port)) {
    const key = dest.kind === "connect" ? "network.connect_ports" : "network.http_ports";
    const hint = `add ${dest.port} to ${key}`;
    return { verdict: "deny", rule: `port ${dest.port} not in ${key}`, hint };
  }
  const tool = dest.tool === undefined ? undefined : hit(policy.tools.get(dest.tool));
  if (tool) return { verdict: "allow", rule: label("allow", tool) };
  const allowed = hit(policy.allow);
  if (allowed) return { verdict: "allow", rule: label("allow", allowed) };
  // IP literals are only ever allowed by an exact entry, in every mode.
  if (policy.mode !== "allowlist" && dest.host.kind === "dns") {
    return { verdict: "allow", rule: `mode ${policy.mode}` };
  }
  const hint = `add it to network.allow in .agentbox.toml or run with --allow ${dest.host.name}`;
  const gray = hit(policy.gray);
  if (gray) return { verdict: "gray", rule: label("gray", gray), hint };
  return { verdict: "deny", rule: "default deny", hint };
}

function label(verdict: string, rule: PolicyRule): string {
  return `${verdict} ${JSON.stringify(rule.pattern.text)} (${rule.source})`;
}

/** The deny list wins over every allow: the way out is to take the entry off it. */
function unblockHint(rule: PolicyRule): string {
  const pattern = JSON.stringify(rule.pattern.text);
  return rule.source.startsWith("--deny")
    ? `run without --deny ${rule.pattern.text} (the deny list wins over --allow)`
    : `remove ${pattern} from ${rule.source} (the deny list wins over --allow)`;
}

/**
 * A policy that denies everything, on the default ports — the base every loaded config extends.
 *
 * @example
 * ```ts
 * import { emptyPolicy } from "./policy.ts";
 * console.assert(emptyPolicy().connectPorts.has(443));
 * ```
 */
export function emptyPolicy(): Policy {
  return {
    mode: "allowlist",
    deny: [],
    allow: [],
    gray: [],
    tools: new Map(),
    connectPorts: new Set([443]),
    httpPorts: new Set([80]),
    inspect: emptyInspectSettings(),
    backend: "auto",
    trustHostCa: false,
  };
}
