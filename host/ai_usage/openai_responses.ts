/**
 * OpenAI Responses API (`POST /v1/responses`). JSON: `model` and `usage` with `input_tokens`
 * (cached included), `output_tokens` (reasoning included) and
 * `input_tokens_details.cached_tokens`. SSE: typed events; `response.created` names the model and
 * the terminal `response.completed` (or `response.incomplete` / `response.failed`) carries the
 * whole response object with its `usage`.
 *
 * @module
 */

import { field, modelName, tokenCount, type TokenUsage } from "./token_usage.ts";
import type { UsageReader } from "./usage_reader.ts";

const EVENTS = new Set([
  "response.created",
  "response.in_progress",
  "response.completed",
  "response.incomplete",
  "response.failed",
]);

/**
 * A reader for Responses API responses.
 *
 * @example
 * ```ts
 * import { openAiResponsesReader } from "./openai_responses.ts";
 * const r = openAiResponsesReader();
 * r.event("response.completed", { type: "response.completed", response: { model: "gpt-4.1", usage: { input_tokens: 5, output_tokens: 7 } } });
 * console.assert(r.result().outputTokens === 7);
 * ```
 */
export function openAiResponsesReader(): UsageReader {
  const usage: TokenUsage = {};
  const take = (response: unknown) => {
    usage.model = modelName(field(response, "model")) ?? usage.model;
    const u = field(response, "usage");
    if (typeof u !== "object" || u === null) return;
    usage.inputTokens = tokenCount(field(u, "input_tokens")) ?? usage.inputTokens;
    usage.outputTokens = tokenCount(field(u, "output_tokens")) ?? usage.outputTokens;
    usage.cacheReadTokens = tokenCount(field(u, "input_tokens_details", "cached_tokens")) ??
      usage.cacheReadTokens;
  };
  return {
    events: EVENTS,
    json: take,
    event(type, data) {
      if (EVENTS.has(type)) take(field(data, "response"));
    },
    result: () => ({ ...usage }),
  };
}
