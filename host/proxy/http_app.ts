/**
 * The Hono app every plain-HTTP and every decrypted (inspected) HTTPS request passes through: pin
 * the name, apply the policy and the method/path rules, record, rewrite the host, inject
 * credentials (HTTPS only), forward to a vetted address; AI usage accounting runs as middleware
 * around it.
 *
 * @module
 */

import { redactQuery } from "./redact_query.ts";
import { Hono } from "hono";
import { type CanonicalHost, canonicalHost } from "../net/canonical_host.ts";
import { dialFirst } from "../net/dialer.ts";
import { NetError } from "../net/net_error.ts";
import { aiUsageMiddleware, type AiUsageVariables } from "./ai_usage_middleware.ts";
import { authorize, type Verdict } from "./authorize.ts";
import type { InspectedOrigin } from "./inspect_endpoints.ts";
import { connectTlsUpstream } from "./upstream_tls.ts";
import type { InjectedHeader } from "../credentials/credential_store.ts";
import { checkRequest } from "../config/request_rules.ts";
import { normalizePath } from "../config/route_pattern.ts";
import { vetDestination } from "../net/vet_destination.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { ProxyError } from "./proxy_error.ts";
import { beginRecord, finishRecord } from "./recorder.ts";
import { forwardRequest } from "./upstream_http.ts";
import type { RecordedStart } from "./recorder.ts";

/** Per-request facts from the listener, passed as the Hono environment. */
export interface HttpBindings {
  /** Settles with the request body size once the client's body was fully read. */
  requestBytes: Promise<number>;
  /** Set for a decrypted request: the tunnel's pinned, authorised origin. */
  inspected?: InspectedOrigin;
  /**
   * The method the client sent, when a `Request` cannot carry it (`TRACE`, `TRACK`, `CONNECT`
   * are forbidden by fetch): the request then arrives as a bodiless `GET` and is refused.
   */
  method?: string;
}

/** The app's Hono environment. */
export type HttpEnv = { Bindings: HttpBindings; Variables: AiUsageVariables };

/**
 * Build the app. `app.fetch(request, bindings)` with an absolute `http://` URL and the client's
 * `Host` header answers with the upstream's response or a refusal.
 *
 * @example
 * ```ts
 * import { createHttpApp } from "./http_app.ts";
 * import { proxyContext } from "./proxy_context.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const app = createHttpApp(proxyContext({ policy: emptyPolicy(), recorder: { begin: () => 0, finish() {} } }));
 * const res = await app.fetch(new Request("http://example.com/"), { requestBytes: Promise.resolve(0) });
 * console.assert(res.status === 403);
 * ```
 */
export function createHttpApp(ctx: ProxyContext): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.onError((err) => {
    const refusal = err instanceof ProxyError
      ? err
      : new ProxyError("upstream_failed", `agentbox: upstream request failed`, { cause: err });
    return refusalResponse(refusal);
  });
  app.use(aiUsageMiddleware(ctx));
  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const inspected = c.env.inspected;
    const host = inspected
      ? pinnedInspectedHost(inspected, c.req.header("host"))
      : pinnedHost(url, c.req.header("host"));
    const port = inspected ? inspected.port : Number(url.port || 80);
    const scheme = inspected ? "https" : "http";
    const method = c.env.method ?? c.req.method;
    const path = normalizePath(url.pathname);
    const started = performance.now();
    // A decrypted request was authorised (and its name resolved and vetted) with its tunnel.
    const verdict: Verdict = UNPROXIED_METHODS.has(method)
      ? unproxiedMethod(method, host)
      : inspected
      ? { rule: inspected.rule, addresses: inspected.addresses }
      : await authorize(ctx, host, port, "http");
    let { rule, refusal } = verdict;
    if (!refusal) {
      const decision = checkRequest(ctx.policy.inspect.rules, host, method, path);
      if (decision.rule) rule = decision.allowed ? `${rule}; ${decision.rule}` : decision.rule;
      if (!decision.allowed) {
        refusal = new ProxyError(
          "policy_denied",
          `agentbox: ${method} ${path} on ${host.name} refused by ${decision.rule}`,
        );
      }
    }
    const rewrite = inspected && ctx.policy.inspect.rewrites.find((r) => r.host === host.name);
    const target = rewrite
      ? { host: rewrite.to.host, port: rewrite.to.port, path: `${rewrite.to.pathPrefix}${path}` }
      : { host, port, path };
    if (rewrite) rule = `${rule}; rewritten to https://${authority(target.host, target.port, 443)}`;
    const start: RecordedStart = {
      method,
      scheme,
      host: host.name,
      port,
      path: `${path}${redactQuery(url.search)}`,
      decision: refusal ? "deny" : "allow",
      rule,
    };
    const id = beginRecord(ctx.recorder, start);
    /** The headers of the credential injected into the request, for its record. */
    let credential: string | undefined;
    const finish = (status: number, bytesDown: number, error?: string) => {
      const record = (bytesUp: number) =>
        finishRecord(ctx.recorder, id, {
          status,
          bytesUp,
          bytesDown,
          durationMs: performance.now() - started,
          error,
          credential,
        }, ctx.onWarning);
      // A refused request's body is never read, so its size never settles: record 0.
      if (refusal) return record(0);
      return c.env.requestBytes.then(record, () => record(0));
    };
    if (refusal) {
      // Give up the unread body (the connection closes after the answer).
      await c.req.raw.body?.cancel().catch(() => {});
      finish(refusal.status, 0);
      return refusalResponse(refusal);
    }
    try {
      const headers = new Headers(c.req.raw.headers);
      const injected = inspected ? await injectCredentials(ctx, target, headers) : [];
      const secrets = injected.map((h) => h.secret);
      if (injected.length > 0) credential = injected.map((h) => h.name).join(", ");
      const addresses = rewrite ? await vetted(ctx, rewrite.to.host) : verdict.addresses;
      const conn = inspected
        ? await connectTlsUpstream(ctx, addresses, target.port, target.host)
        : await dialFirst(addresses, port, ctx.dialer);
      const outgoing = new Request(`${scheme}://upstream${target.path}${url.search}`, {
        method,
        headers,
        body: c.req.raw.body,
        // @ts-ignore: `duplex` is required for streaming bodies but missing from Deno's RequestInit.
        duplex: "half",
      });
      const defaultPort = inspected ? 443 : 80;
      const upstream = await forwardRequest(
        conn,
        outgoing,
        authority(target.host, target.port, defaultPort),
      );
      upstream.done.then(
        (n) => finish(upstream.response.status, n),
        (err) => finish(upstream.response.status, 0, String(err)),
      );
      c.set("forwarded", { requestId: id, host: host.name });
      return secrets.length > 0 ? redacted(upstream.response, secrets) : upstream.response;
    } catch (err) {
      // Unblock the body size (a body not yet read is given up) and record without waiting.
      await c.req.raw.body?.cancel().catch(() => {});
      void finish(502, 0, err instanceof ProxyError ? err.message : String(err));
      throw err;
    }
  });
  return app;
}

/**
 * Methods never forwarded, on any host: `TRACE` (and IIS's `TRACK`) make the upstream echo the
 * request — injected credentials included — into a body the guest reads; `CONNECT` is only the
 * forward proxy's, outside a tunnel. (Fetch's `Request` cannot carry any of them either.)
 */
export const UNPROXIED_METHODS: ReadonlySet<string> = new Set(["TRACE", "TRACK", "CONNECT"]);

function unproxiedMethod(method: string, host: CanonicalHost): Verdict {
  const why = method === "CONNECT"
    ? "CONNECT is accepted only by the forward proxy, outside a tunnel"
    : `${method} echoes the request, credentials agentbox injects included, back to the sender`;
  return {
    rule: `method ${method} is not proxied`,
    addresses: [],
    refusal: new ProxyError("policy_denied", `agentbox: ${method} to ${host.name} refused: ${why}`),
  };
}

/** Set the credential headers bound to `target`; returns them (secrets for redaction). */
async function injectCredentials(
  ctx: ProxyContext,
  target: { host: CanonicalHost; port: number; path: string },
  headers: Headers,
): Promise<InjectedHeader[]> {
  const store = ctx.inspect?.credentials;
  if (!store?.has(target.host.name)) return [];
  try {
    const injected = await store.headersFor(target.host.name, target.port, target.path);
    for (const h of injected) headers.set(h.name, h.value);
    return injected;
  } catch (err) {
    // The reason (which variable, file or command) is for the host's user, not the guest.
    ctx.onWarning(err);
    throw new ProxyError(
      "credential_unavailable",
      `agentbox: the credential for ${target.host.name} is unavailable on the host`,
    );
  }
}

/** Addresses for a rewrite target: resolved once and vetted like any destination. */
async function vetted(ctx: ProxyContext, host: CanonicalHost): Promise<string[]> {
  try {
    return await vetDestination(host, { resolver: ctx.resolver });
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    const code = err.code === "resolve_failed" ? "upstream_failed" : "address_refused";
    throw new ProxyError(code, `agentbox: rewrite target ${err.message}`);
  }
}

/** The response with any header value that contains an injected secret replaced. */
function redacted(response: Response, secrets: string[]): Response {
  const leaks = [...response.headers].filter(([, v]) => secrets.some((s) => v.includes(s)));
  if (leaks.length === 0) return response;
  const headers = new Headers(response.headers);
  for (const [name] of leaks) headers.set(name, "[redacted by agentbox]");
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

/** The pinned origin's host; the decrypted request's `Host` must name it (rule 4). */
function pinnedInspectedHost(
  origin: InspectedOrigin,
  hostHeader: string | undefined,
): CanonicalHost {
  const header = URL.parse(`https://${hostHeader ?? ""}/`);
  const port = header ? Number(header.port || 443) : 0;
  if (
    !header || !hostHeader || port !== origin.port ||
    canonical(header.hostname).name !== origin.host.name
  ) {
    throw new ProxyError(
      "name_mismatch",
      `agentbox: Host header does not match ${origin.host.name}`,
    );
  }
  return origin.host;
}

/** Canonical host of the request URL, which must name the same host and port as `Host`. */
function pinnedHost(url: URL, hostHeader: string | undefined): CanonicalHost {
  if (url.protocol !== "http:") {
    throw new ProxyError(
      "bad_request",
      `agentbox: only http:// URLs are proxied, use CONNECT for TLS`,
    );
  }
  const host = canonical(url.hostname);
  const header = URL.parse(`http://${hostHeader ?? ""}/`);
  if (!header || header.port !== url.port || canonical(header.hostname).name !== host.name) {
    throw new ProxyError("name_mismatch", `agentbox: Host header does not match ${url.host}`);
  }
  return host;
}

function canonical(name: string): CanonicalHost {
  try {
    return canonicalHost(name);
  } catch (err) {
    if (err instanceof NetError) throw new ProxyError("bad_request", err.message);
    throw err;
  }
}

/** `host[:port]` for a Host header, the port omitted when it is the scheme's default. */
function authority(host: CanonicalHost, port: number, defaultPort: number): string {
  const name = host.kind === "ipv6" ? `[${host.name}]` : host.name;
  return port === defaultPort ? name : `${name}:${port}`;
}

function refusalResponse(err: ProxyError): Response {
  return new Response(`${err.message}\n`, {
    status: err.status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-agentbox-refusal": err.code },
  });
}
