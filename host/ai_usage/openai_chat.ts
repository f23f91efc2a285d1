/**
 * OpenAI Chat Completions (`POST …/chat/completions`), which Mistral and most gateways also
 * speak. JSON: `model` and `usage` with `prompt_tokens` (cached included),
 * `completion_tokens` (reasoning included) and `prompt_tokens_details.cached_tokens`. SSE: one
 * `data:` chunk per delta, each naming `model`; with `stream_options.include_usage` (OpenAI) or
 * always (Mistral) a last chunk carries `usage`; the stream ends with `data: [DONE]`.
 *
 * @module
 */

import { field, modelName, tokenCount, type TokenUsage } from "./token_usage.ts";
import type { UsageReader } from "./usage_reader.ts";

/**
 * A reader for Chat Completions responses.
 *
 * @example
 * ```ts
 * import { openAiChatReader } from "./openai_chat.ts";
 * const r = openAiChatReader();
 * r.event("message", { model: "gpt-4o", choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 4 } } });
 * console.assert(r.result().cacheReadTokens === 4);
 * ```
 */
export function openAiChatReader(): UsageReader {
  const usage: TokenUsage = {};
  const take = (body: unknown) => {
    usage.model = modelName(field(body, "model")) ?? usage.model;
    const u = field(body, "usage");
    if (typeof u !== "object" || u === null) return;
    usage.inputTokens = tokenCount(field(u, "prompt_tokens")) ?? usage.inputTokens;
    usage.outputTokens = tokenCount(field(u, "completion_tokens")) ?? usage.outputTokens;
    usage.cacheReadTokens = tokenCount(field(u, "prompt_tokens_details", "cached_tokens")) ??
      usage.cacheReadTokens;
  };
  return {
    json: take,
    event: (_type, data) => take(data),
    result: () => ({ ...usage }),
  };
}
