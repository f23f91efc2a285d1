/**
 * The interface every provider format implements: fed a parsed JSON body or parsed SSE events,
 * it keeps only the model and token counts and forgets the rest.
 *
 * @module
 */

import type { AiApi } from "./ai_endpoint.ts";
import { anthropicReader } from "./anthropic.ts";
import { geminiReader } from "./gemini.ts";
import { openAiChatReader } from "./openai_chat.ts";
import { openAiResponsesReader } from "./openai_responses.ts";
import type { TokenUsage } from "./token_usage.ts";

/** Reads usage out of one response of a given format. */
export interface UsageReader {
  /** SSE event types whose data is parsed; others are skipped unparsed. Absent: every event. */
  readonly events?: ReadonlySet<string>;
  /** A whole (non-streaming) JSON body. */
  json(body: unknown): void;
  /** One SSE event: its `event:` type ("message" when absent) and its data, parsed as JSON. */
  event(type: string, data: unknown): void;
  /** What was read so far. */
  result(): TokenUsage;
}

/**
 * A fresh reader for `api`.
 *
 * @example
 * ```ts
 * import { usageReader } from "./usage_reader.ts";
 * const r = usageReader("openai-chat");
 * r.json({ model: "gpt-4o", usage: { prompt_tokens: 3, completion_tokens: 5 } });
 * console.assert(r.result().outputTokens === 5);
 * ```
 */
export function usageReader(api: AiApi): UsageReader {
  switch (api) {
    case "anthropic-messages":
      return anthropicReader();
    case "openai-chat":
      return openAiChatReader();
    case "openai-responses":
      return openAiResponsesReader();
    case "gemini":
      return geminiReader();
  }
}
