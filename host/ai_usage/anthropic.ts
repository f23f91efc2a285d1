/**
 * Anthropic Messages API (`POST /v1/messages`). JSON: `model` and `usage` with `input_tokens`,
 * `output_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens`. SSE: `message_start`
 * carries `message.model` and `message.usage`; each `message_delta` carries cumulative `usage`
 * (always `output_tokens`, sometimes the input fields too). Anthropic's `input_tokens` excludes
 * cached tokens, so the normalised input is the sum of the three input fields.
 *
 * @module
 */

import { field, modelName, sumCounts, tokenCount, type TokenUsage } from "./token_usage.ts";
import type { UsageReader } from "./usage_reader.ts";

interface Raw {
  model?: string;
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheCreation?: number;
}

/**
 * A reader for Anthropic Messages responses.
 *
 * @example
 * ```ts
 * import { anthropicReader } from "./anthropic.ts";
 * const r = anthropicReader();
 * r.event("message_start", { type: "message_start", message: { model: "claude-sonnet-4-5", usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 } } });
 * r.event("message_delta", { type: "message_delta", usage: { output_tokens: 42 } });
 * console.assert(r.result().inputTokens === 15 && r.result().outputTokens === 42);
 * ```
 */
export function anthropicReader(): UsageReader {
  const raw: Raw = {};
  const take = (usage: unknown) => {
    raw.input = tokenCount(field(usage, "input_tokens")) ?? raw.input;
    raw.output = tokenCount(field(usage, "output_tokens")) ?? raw.output;
    raw.cacheRead = tokenCount(field(usage, "cache_read_input_tokens")) ?? raw.cacheRead;
    raw.cacheCreation = tokenCount(field(usage, "cache_creation_input_tokens")) ??
      raw.cacheCreation;
  };
  return {
    events: new Set(["message_start", "message_delta"]),
    json(body) {
      raw.model = modelName(field(body, "model")) ?? raw.model;
      take(field(body, "usage"));
    },
    event(type, data) {
      if (type === "message_start") {
        raw.model = modelName(field(data, "message", "model")) ?? raw.model;
        take(field(data, "message", "usage"));
      } else if (type === "message_delta") {
        take(field(data, "usage"));
      }
    },
    result(): TokenUsage {
      return {
        model: raw.model,
        inputTokens: raw.input === undefined
          ? undefined
          : sumCounts(raw.input, raw.cacheRead, raw.cacheCreation),
        outputTokens: raw.output,
        cacheReadTokens: raw.cacheRead,
        cacheCreationTokens: raw.cacheCreation,
      };
    },
  };
}
