/**
 * AI usage accounting: recognise AI API calls and read their model and token counts from the
 * responses as they stream past — never prompt or response content. See docs/proxy.md.
 *
 * @example
 * ```ts
 * import { detectAiEndpoint, observeAiUsage } from "./mod.ts";
 * const endpoint = detectAiEndpoint("POST", "api.openai.com", "/v1/chat/completions")!;
 * const upstream = Response.json({ model: "gpt-4o", usage: { prompt_tokens: 3, completion_tokens: 4 } });
 * const { response, usage } = observeAiUsage(endpoint, upstream);
 * await response.body?.cancel();
 * console.log(await usage);
 * ```
 *
 * @module
 */

export { type AiApi, type AiEndpoint, type AiProvider, detectAiEndpoint } from "./ai_endpoint.ts";
export { AiUsageError, type AiUsageErrorCode } from "./ai_usage_error.ts";
export {
  type Observation,
  observeAiUsage,
  type ObservedUsage,
  type ObserveOptions,
} from "./observe_usage.ts";
export type { TokenUsage } from "./token_usage.ts";
