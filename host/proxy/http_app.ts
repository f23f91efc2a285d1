/**
 * The Hono app every plain-HTTP request passes through: pin the name, apply the policy, record,
 * forward to a vetted address; AI usage accounting runs as middleware around it. Later stages
 * (TLS interception, credential injection) add middleware here.
 *
 * @module
 */

import { Hono } from "hono";
import { type CanonicalHost, canonicalHost } from "../net/canonical_host.ts";
import { dialFirst } from "../net/dialer.ts";
import { NetError } from "../net/net_error.ts";
import { aiUsageMiddleware, type AiUsageVariables } from "./ai_usage_middleware.ts";
import { authorize } from "./authorize.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { ProxyError } from "./proxy_error.ts";
import { beginRecord, finishRecord } from "./recorder.ts";
import { forwardRequest } from "./upstream_http.ts";
import type { RecordedStart } from "./recorder.ts";

/** Per-request facts from the listener, passed as the Hono environment. */
export interface HttpBindings {
  /** Settles with the request body size once the client's body was fully read. */
  requestBytes: Promise<number>;
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
    const host = pinnedHost(url, c.req.header("host"));
    const port = Number(url.port || 80);
    const started = performance.now();
    const verdict = await authorize(ctx, host, port, "http");
    const start: RecordedStart = {
      method: c.req.method,
      scheme: "http",
      host: host.name,
      port,
      path: `${url.pathname}${url.search}`,
      decision: verdict.refusal ? "deny" : "allow",
      rule: verdict.rule,
    };
    const id = beginRecord(ctx.recorder, start);
    const finish = (status: number, bytesDown: number, error?: string) =>
      c.env.requestBytes.catch(() => 0).then((bytesUp) =>
        finishRecord(ctx.recorder, id, {
          status,
          bytesUp: verdict.refusal ? 0 : bytesUp,
          bytesDown,
          durationMs: performance.now() - started,
          error,
        }, ctx.onWarning)
      );
    if (verdict.refusal) {
      await finish(verdict.refusal.status, 0);
      return refusalResponse(verdict.refusal);
    }
    try {
      const conn = await dialFirst(verdict.addresses, port, ctx.dialer);
      const hostHeader = port === 80 ? host.name : `${bracketed(host)}:${port}`;
      const upstream = await forwardRequest(conn, c.req.raw, hostHeader);
      upstream.done.then(
        (n) => finish(upstream.response.status, n),
        (err) => finish(upstream.response.status, 0, String(err)),
      );
      c.set("forwarded", { requestId: id, host: host.name });
      return upstream.response;
    } catch (err) {
      await finish(502, 0, String(err));
      throw err;
    }
  });
  return app;
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

function bracketed(host: CanonicalHost): string {
  return host.kind === "ipv6" ? `[${host.name}]` : host.name;
}

function refusalResponse(err: ProxyError): Response {
  return new Response(`${err.message}\n`, {
    status: err.status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-agentbox-refusal": err.code },
  });
}
