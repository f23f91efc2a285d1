/**
 * Google Gemini (`…/models/{model}:generateContent` and `:streamGenerateContent`, also on Vertex
 * AI). Every response object — the JSON body, each element of the JSON array that
 * `streamGenerateContent` returns without `alt=sse`, each SSE `data:` chunk — may carry
 * `modelVersion` and `usageMetadata` (`promptTokenCount`, `candidatesTokenCount`,
 * `cachedContentTokenCount`, `thoughtsTokenCount`, `toolUsePromptTokenCount`); counts are
 * cumulative, so for each count the last one seen wins. `promptTokenCount` already includes the cached tokens; tool-use
 * prompt tokens count as input and thoughts as output, so input + output = `totalTokenCount`.
 *
 * @module
 */

import { field, modelName, sumCounts, tokenCount, type TokenUsage } from "./token_usage.ts";
import type { UsageReader } from "./usage_reader.ts";

/**
 * A reader for Gemini responses.
 *
 * @example
 * ```ts
 * import { geminiReader } from "./gemini.ts";
 * const r = geminiReader();
 * r.event("message", { modelVersion: "gemini-2.0-flash", usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 2, thoughtsTokenCount: 5 } });
 * console.assert(r.result().outputTokens === 7);
 * ```
 */
export function geminiReader(): UsageReader {
  const raw: Record<string, number | undefined> = {};
  let model: string | undefined;
  const take = (response: unknown) => {
    if (Array.isArray(response)) return response.forEach(take);
    model = modelName(field(response, "modelVersion")) ?? model;
    const meta = field(response, "usageMetadata");
    for (const key of COUNTS) raw[key] = tokenCount(field(meta, key)) ?? raw[key];
  };
  return {
    json: take,
    event: (_type, data) => take(data),
    result: (): TokenUsage => ({
      model,
      inputTokens: raw.promptTokenCount === undefined
        ? undefined
        : sumCounts(raw.promptTokenCount, raw.toolUsePromptTokenCount),
      outputTokens: sumCounts(raw.candidatesTokenCount, raw.thoughtsTokenCount),
      cacheReadTokens: raw.cachedContentTokenCount,
    }),
  };
}

const COUNTS = [
  "promptTokenCount",
  "candidatesTokenCount",
  "cachedContentTokenCount",
  "thoughtsTokenCount",
  "toolUsePromptTokenCount",
] as const;
