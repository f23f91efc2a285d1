/**
 * The whole admission check for one destination: policy (with graylist approval), then host-side
 * resolution and address vetting. The result says what may be dialled or why not.
 *
 * @module
 */

import { decide, type Destination } from "../config/policy.ts";
import type { CanonicalHost } from "../net/canonical_host.ts";
import { NetError } from "../net/net_error.ts";
import { vetDestination } from "../net/vet_destination.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { ProxyError } from "./proxy_error.ts";

/** Outcome of {@linkcode authorize}: `addresses` to dial, or a `refusal` for the client. */
export interface Verdict {
  rule: string;
  addresses: string[];
  refusal?: ProxyError;
}

/**
 * Decide on `host:port`. Never throws for a refusal; the refusal's message tells the sandboxed
 * program why and how to allow the destination.
 *
 * @example
 * ```ts
 * import { authorize } from "./authorize.ts";
 * import { proxyContext } from "./proxy_context.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * const ctx = proxyContext({ policy: emptyPolicy(), recorder: { begin: () => 0, finish() {} } });
 * const v = await authorize(ctx, canonicalHost("example.com"), 443, "connect");
 * console.assert(v.refusal?.status === 403);
 * ```
 */
export async function authorize(
  ctx: ProxyContext,
  host: CanonicalHost,
  port: number,
  kind: Destination["kind"],
): Promise<Verdict> {
  const decision = decide(ctx.policy, { host, port, kind, tool: ctx.tool });
  let rule = decision.rule;
  if (decision.verdict === "gray") {
    if (!(await ctx.approve({ host: host.name, port, rule }))) {
      const refusal = grayRefusal(host, rule, decision.hint);
      return { rule: `${rule}, not approved`, addresses: [], refusal };
    }
    rule = `${rule}, approved`;
  } else if (decision.verdict === "deny") {
    return { rule, addresses: [], refusal: denyRefusal(host, port, rule, decision.hint) };
  }
  try {
    const addresses = await vetDestination(host, {
      resolver: ctx.resolver,
      allowedIpLiterals: new Set([host.name]),
    });
    return { rule, addresses };
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    const code = err.code === "resolve_failed" ? "upstream_failed" : "address_refused";
    return {
      rule: `address check: ${err.message}`,
      addresses: [],
      refusal: new ProxyError(code, err.message),
    };
  }
}

function denyRefusal(host: CanonicalHost, port: number, rule: string, hint: string): ProxyError {
  return new ProxyError(
    "policy_denied",
    `agentbox: ${host.name}:${port} refused by ${rule}; to allow it, ${hint}`,
  );
}

function grayRefusal(host: CanonicalHost, rule: string, hint: string): ProxyError {
  return new ProxyError(
    "policy_denied",
    `agentbox: ${host.name} needs approval (${rule}) and was not approved (denied, no answer ` +
      `in time, or nobody to ask); to allow it, ${hint}`,
  );
}
