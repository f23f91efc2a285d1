/**
 * Hono middleware that accounts AI API calls: for every response the app forwarded upstream's
 * answer to a recognised AI endpoint (host/ai_usage), it swaps in a body that streams the same
 * bytes while the model and token counts are read, and hands the reading to
 * `recorder.aiCall` once the body ended. Works for any request that passes through the app —
 * plain HTTP now, decrypted HTTPS once TLS inspection lands.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { detectAiEndpoint } from "../ai_usage/ai_endpoint.ts";
import { observeAiUsage, type ObserveOptions } from "../ai_usage/observe_usage.ts";
import type { ProxyContext } from "./proxy_context.ts";

/** Set by the forwarding handler once the upstream answered. */
export interface ForwardedExchange {
  /** The `requests` row of this exchange. */
  requestId: number;
  /** Canonical destination host. */
  host: string;
}

/** Hono variables the middleware reads. */
export interface AiUsageVariables {
  forwarded?: ForwardedExchange;
}

/**
 * The middleware. Does nothing when `ctx.recorder` has no `aiCall`, or for responses the app did
 * not forward (refusals, errors).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { aiUsageMiddleware, type AiUsageVariables } from "./ai_usage_middleware.ts";
 * import { proxyContext } from "./proxy_context.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const ctx = proxyContext({
 *   policy: emptyPolicy(),
 *   recorder: { begin: () => 1, finish() {}, aiCall: (call) => console.log(call) },
 * });
 * const app = new Hono<{ Variables: AiUsageVariables }>();
 * app.use(aiUsageMiddleware(ctx));
 * ```
 */
export function aiUsageMiddleware(
  ctx: ProxyContext,
  options: ObserveOptions = {},
): MiddlewareHandler<{ Variables: AiUsageVariables }> {
  return async (c, next) => {
    const recorder = ctx.recorder;
    if (!recorder.aiCall) return await next();
    const startedAt = Date.now();
    const started = performance.now();
    await next();
    const forwarded = c.get("forwarded");
    if (!forwarded) return;
    const endpoint = detectAiEndpoint(c.req.method, forwarded.host, new URL(c.req.url).pathname);
    if (!endpoint) return;
    const { response, usage } = observeAiUsage(endpoint, c.res, options);
    c.res = response;
    usage.then((u) => {
      try {
        recorder.aiCall!({
          requestId: forwarded.requestId,
          startedAt,
          provider: endpoint.provider,
          host: forwarded.host,
          model: u.model,
          streamed: u.streamed,
          status: response.status,
          inputTokens: u.inputTokens,
          outputTokens: u.outputTokens,
          cacheReadTokens: u.cacheReadTokens,
          cacheCreationTokens: u.cacheCreationTokens,
          latencyMs: u.endedAt - started,
          usageError: u.error,
        });
      } catch (err) {
        ctx.onWarning(err);
      }
    });
  };
}
