/**
 * Test fixtures: response bodies in each provider's real wire format, with a marker string in
 * every piece of content (prompt and completion) so tests can prove content never reaches the
 * database. Shapes follow the providers' public API documentation:
 *
 * - Anthropic Messages, JSON and streaming:
 *   https://docs.anthropic.com/en/api/messages and
 *   https://platform.claude.com/docs/en/build-with-claude/streaming ("message_start" carries
 *   `message.usage`; "message_delta" carries cumulative `usage.output_tokens`).
 * - OpenAI Chat Completions object and chunk object, `stream_options.include_usage` ("an
 *   additional chunk will be streamed before the data: [DONE] message … the choices field will
 *   always be an empty array"): https://platform.openai.com/docs/api-reference/chat
 * - OpenAI Responses object and streaming events (`response.created` … `response.completed`):
 *   https://developers.openai.com/api/reference/resources/responses/streaming-events
 * - Gemini `generateContent` / `streamGenerateContent?alt=sse` (`usageMetadata`,
 *   `modelVersion`; SSE chunks separated by CRLF CRLF, no [DONE] sentinel):
 *   https://ai.google.dev/api/generate-content
 * - Mistral chat completions (OpenAI-like `usage`; the last stream chunk carries `usage` without
 *   any stream option): https://docs.mistral.ai/api/#tag/chat
 *
 * @module
 */

import type { AiProvider } from "../ai_endpoint.ts";

/** What a fixture's response must be recorded as. */
export interface ExpectedUsage {
  provider: AiProvider;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number | null;
  cacheCreationTokens: number | null;
  streamed: boolean;
}

/** One provider response, JSON or SSE. */
export interface ProviderFixture {
  name: string;
  host: string;
  /** Path and query of the request. */
  path: string;
  contentType: string;
  /** A request body in the provider's format, carrying `marker` in the prompt. */
  request(marker: string): string;
  /** The response body, carrying `marker` in the generated content. */
  response(marker: string): string;
  expected: ExpectedUsage;
}

const sse = (events: [string | null, unknown][], eol = "\n"): string =>
  events.map(([type, data]) =>
    `${type ? `event: ${type}${eol}` : ""}data: ${
      typeof data === "string" ? data : JSON.stringify(data)
    }${eol}${eol}`
  ).join("");

const anthropicRequest = (m: string) =>
  JSON.stringify({
    model: "claude-sonnet-4-5-20250929",
    max_tokens: 1024,
    messages: [{ role: "user", content: `Hello, Claude ${m}` }],
  });
const openAiRequest = (model: string) => (m: string) =>
  JSON.stringify({
    model,
    messages: [{ role: "user", content: `Hello ${m}` }],
    stream_options: { include_usage: true },
  });
const geminiRequest = (m: string) =>
  JSON.stringify({ contents: [{ role: "user", parts: [{ text: `Explain AI ${m}` }] }] });

/**
 * Every fixture, JSON and SSE for each provider.
 *
 * @example
 * ```ts
 * import { PROVIDER_FIXTURES } from "./provider_fixtures.ts";
 * for (const f of PROVIDER_FIXTURES) console.log(f.name, f.expected.inputTokens);
 * ```
 */
export const PROVIDER_FIXTURES: readonly ProviderFixture[] = [
  {
    name: "anthropic json",
    host: "api.anthropic.com",
    path: "/v1/messages",
    contentType: "application/json",
    request: anthropicRequest,
    response: (m) =>
      JSON.stringify({
        id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5-20250929",
        content: [{ type: "text", text: `Hi! My name is Claude. ${m}` }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: {
          input_tokens: 2095,
          cache_creation_input_tokens: 1024,
          cache_read_input_tokens: 4096,
          output_tokens: 503,
          service_tier: "standard",
        },
      }),
    expected: {
      provider: "anthropic",
      model: "claude-sonnet-4-5-20250929",
      inputTokens: 2095 + 1024 + 4096,
      outputTokens: 503,
      cacheReadTokens: 4096,
      cacheCreationTokens: 1024,
      streamed: false,
    },
  },
  {
    name: "anthropic sse",
    host: "api.anthropic.com",
    path: "/v1/messages",
    contentType: "text/event-stream; charset=utf-8",
    request: anthropicRequest,
    response: (m) =>
      sse([
        ["message_start", {
          type: "message_start",
          message: {
            id: "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
            type: "message",
            role: "assistant",
            content: [],
            model: "claude-sonnet-4-5-20250929",
            stop_reason: null,
            stop_sequence: null,
            usage: {
              input_tokens: 25,
              cache_creation_input_tokens: 0,
              cache_read_input_tokens: 300,
              output_tokens: 1,
            },
          },
        }],
        ["content_block_start", {
          type: "content_block_start",
          index: 0,
          content_block: { type: "text", text: "" },
        }],
        ["ping", { type: "ping" }],
        ["content_block_delta", {
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text: `Hello ${m}` },
        }],
        ["content_block_delta", {
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text: "!" },
        }],
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        ["message_delta", {
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: { output_tokens: 15 },
        }],
        ["message_stop", { type: "message_stop" }],
      ]),
    expected: {
      provider: "anthropic",
      model: "claude-sonnet-4-5-20250929",
      inputTokens: 325,
      outputTokens: 15,
      cacheReadTokens: 300,
      cacheCreationTokens: 0,
      streamed: true,
    },
  },
  {
    name: "openai chat json",
    host: "api.openai.com",
    path: "/v1/chat/completions",
    contentType: "application/json",
    request: openAiRequest("gpt-4o"),
    response: (m) =>
      JSON.stringify({
        id: "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        object: "chat.completion",
        created: 1741570283,
        model: "gpt-4o-2024-08-06",
        choices: [{
          index: 0,
          message: { role: "assistant", content: `The image shows ${m}`, refusal: null },
          logprobs: null,
          finish_reason: "stop",
        }],
        usage: {
          prompt_tokens: 1117,
          completion_tokens: 46,
          total_tokens: 1163,
          prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
          completion_tokens_details: {
            reasoning_tokens: 0,
            audio_tokens: 0,
            accepted_prediction_tokens: 0,
            rejected_prediction_tokens: 0,
          },
        },
        service_tier: "default",
        system_fingerprint: "fp_fc9f1d7035",
      }),
    expected: {
      provider: "openai",
      model: "gpt-4o-2024-08-06",
      inputTokens: 1117,
      outputTokens: 46,
      cacheReadTokens: 1024,
      cacheCreationTokens: null,
      streamed: false,
    },
  },
  {
    name: "openai chat sse (include_usage)",
    host: "api.openai.com",
    path: "/v1/chat/completions",
    contentType: "text/event-stream; charset=utf-8",
    request: openAiRequest("gpt-4o-mini"),
    response: (m) => {
      const chunk = (choices: unknown[], usage: unknown) => ({
        id: "chatcmpl-123",
        object: "chat.completion.chunk",
        created: 1694268190,
        model: "gpt-4o-mini-2024-07-18",
        system_fingerprint: "fp_44709d6fcb",
        choices,
        usage,
      });
      return sse([
        [null, chunk([{ index: 0, delta: { role: "assistant", content: "" } }], null)],
        [null, chunk([{ index: 0, delta: { content: `Hello ${m}` }, finish_reason: null }], null)],
        [null, chunk([{ index: 0, delta: {}, finish_reason: "stop" }], null)],
        [
          null,
          chunk([], {
            prompt_tokens: 9,
            completion_tokens: 12,
            total_tokens: 21,
            prompt_tokens_details: { cached_tokens: 0 },
          }),
        ],
        [null, "[DONE]"],
      ]);
    },
    expected: {
      provider: "openai",
      model: "gpt-4o-mini-2024-07-18",
      inputTokens: 9,
      outputTokens: 12,
      cacheReadTokens: 0,
      cacheCreationTokens: null,
      streamed: true,
    },
  },
  {
    name: "openai responses json",
    host: "api.openai.com",
    path: "/v1/responses",
    contentType: "application/json",
    request: (m) => JSON.stringify({ model: "gpt-4.1", input: `Tell me a story ${m}` }),
    response: (m) =>
      JSON.stringify({
        id: "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        object: "response",
        created_at: 1741476542,
        status: "completed",
        error: null,
        incomplete_details: null,
        model: "gpt-4.1-2025-04-14",
        output: [{
          type: "message",
          id: "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text: `Once upon a time ${m}`, annotations: [] }],
        }],
        usage: {
          input_tokens: 36,
          input_tokens_details: { cached_tokens: 12 },
          output_tokens: 87,
          output_tokens_details: { reasoning_tokens: 20 },
          total_tokens: 123,
        },
        metadata: {},
      }),
    expected: {
      provider: "openai",
      model: "gpt-4.1-2025-04-14",
      inputTokens: 36,
      outputTokens: 87,
      cacheReadTokens: 12,
      cacheCreationTokens: null,
      streamed: false,
    },
  },
  {
    name: "openai responses sse",
    host: "api.openai.com",
    path: "/v1/responses",
    contentType: "text/event-stream",
    request: (m) => JSON.stringify({ model: "gpt-4.1", input: `Hi ${m}`, stream: true }),
    response: (m) => {
      const base = {
        id: "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
        object: "response",
        created_at: 1741290958,
        error: null,
        model: "gpt-4.1-2025-04-14",
      };
      const item = { id: "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654" };
      return sse([
        ["response.created", {
          type: "response.created",
          sequence_number: 0,
          response: { ...base, status: "in_progress", output: [], usage: null },
        }],
        ["response.in_progress", {
          type: "response.in_progress",
          sequence_number: 1,
          response: { ...base, status: "in_progress", output: [], usage: null },
        }],
        ["response.output_text.delta", {
          type: "response.output_text.delta",
          sequence_number: 4,
          item_id: item.id,
          output_index: 0,
          content_index: 0,
          delta: `Hi there ${m}`,
        }],
        ["response.output_text.done", {
          type: "response.output_text.done",
          sequence_number: 5,
          item_id: item.id,
          output_index: 0,
          content_index: 0,
          text: `Hi there ${m}`,
        }],
        ["response.completed", {
          type: "response.completed",
          sequence_number: 8,
          response: {
            ...base,
            status: "completed",
            output: [{
              ...item,
              type: "message",
              status: "completed",
              role: "assistant",
              content: [{ type: "output_text", text: `Hi there ${m}`, annotations: [] }],
            }],
            usage: {
              input_tokens: 37,
              input_tokens_details: { cached_tokens: 0 },
              output_tokens: 11,
              output_tokens_details: { reasoning_tokens: 0 },
              total_tokens: 48,
            },
          },
        }],
      ]);
    },
    expected: {
      provider: "openai",
      model: "gpt-4.1-2025-04-14",
      inputTokens: 37,
      outputTokens: 11,
      cacheReadTokens: 0,
      cacheCreationTokens: null,
      streamed: true,
    },
  },
  {
    name: "gemini json",
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    contentType: "application/json; charset=UTF-8",
    request: geminiRequest,
    response: (m) =>
      JSON.stringify({
        candidates: [{
          content: { parts: [{ text: `AI learns patterns ${m}` }], role: "model" },
          finishReason: "STOP",
          index: 0,
        }],
        usageMetadata: {
          promptTokenCount: 1200,
          candidatesTokenCount: 40,
          totalTokenCount: 1340,
          cachedContentTokenCount: 1024,
          thoughtsTokenCount: 100,
          promptTokensDetails: [{ modality: "TEXT", tokenCount: 1200 }],
        },
        modelVersion: "gemini-2.5-flash",
        responseId: "mOkTaPGyIpXYz7IPsO_9WA",
      }),
    expected: {
      provider: "gemini",
      model: "gemini-2.5-flash",
      inputTokens: 1200,
      outputTokens: 140,
      cacheReadTokens: 1024,
      cacheCreationTokens: null,
      streamed: false,
    },
  },
  {
    name: "gemini sse",
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    contentType: "text/event-stream",
    request: geminiRequest,
    response: (m) =>
      sse([
        [null, {
          candidates: [{ content: { parts: [{ text: "The" }], role: "model" }, index: 0 }],
          usageMetadata: { promptTokenCount: 11, totalTokenCount: 11 },
          modelVersion: "gemini-2.0-flash",
        }],
        [null, {
          candidates: [{
            content: { parts: [{ text: ` answer ${m}` }], role: "model" },
            finishReason: "STOP",
            index: 0,
          }],
          usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 30, totalTokenCount: 41 },
          modelVersion: "gemini-2.0-flash",
        }],
      ], "\r\n"),
    expected: {
      provider: "gemini",
      model: "gemini-2.0-flash",
      inputTokens: 11,
      outputTokens: 30,
      cacheReadTokens: null,
      cacheCreationTokens: null,
      streamed: true,
    },
  },
  {
    name: "mistral json",
    host: "api.mistral.ai",
    path: "/v1/chat/completions",
    contentType: "application/json",
    request: openAiRequest("mistral-small-latest"),
    response: (m) =>
      JSON.stringify({
        id: "cmpl-e5cc70bb28c444948073e77776eb30ef",
        object: "chat.completion",
        model: "mistral-small-latest",
        usage: { prompt_tokens: 16, completion_tokens: 34, total_tokens: 50 },
        created: 1702256327,
        choices: [{
          index: 0,
          message: { content: `Bonjour ${m}`, tool_calls: null, prefix: false, role: "assistant" },
          finish_reason: "stop",
        }],
      }),
    expected: {
      provider: "mistral",
      model: "mistral-small-latest",
      inputTokens: 16,
      outputTokens: 34,
      cacheReadTokens: null,
      cacheCreationTokens: null,
      streamed: false,
    },
  },
  {
    name: "mistral sse",
    host: "api.mistral.ai",
    path: "/v1/chat/completions",
    contentType: "text/event-stream; charset=utf-8",
    request: openAiRequest("mistral-large-latest"),
    response: (m) => {
      const chunk = (delta: unknown, finish: string | null, usage?: unknown) => ({
        id: "2f4a7c0b8a8e4a7c9a8b6c5d4e3f2a1b",
        object: "chat.completion.chunk",
        created: 1702256327,
        model: "mistral-large-latest",
        choices: [{ index: 0, delta, finish_reason: finish }],
        ...(usage ? { usage } : {}),
      });
      return sse([
        [null, chunk({ role: "assistant", content: "" }, null)],
        [null, chunk({ content: `Salut ${m}` }, null)],
        [
          null,
          chunk({ content: "" }, "stop", {
            prompt_tokens: 10,
            total_tokens: 29,
            completion_tokens: 19,
          }),
        ],
        [null, "[DONE]"],
      ]);
    },
    expected: {
      provider: "mistral",
      model: "mistral-large-latest",
      inputTokens: 10,
      outputTokens: 19,
      cacheReadTokens: null,
      cacheCreationTokens: null,
      streamed: true,
    },
  },
  {
    name: "openai-compatible gateway sse",
    host: "gateway.ai.test",
    path: "/api/v1/chat/completions",
    contentType: "text/event-stream",
    request: openAiRequest("meta-llama/llama-3.3-70b-instruct"),
    response: (m) =>
      sse([
        [null, {
          id: "gen-1",
          object: "chat.completion.chunk",
          created: 1,
          model: "meta-llama/llama-3.3-70b-instruct",
          choices: [{ index: 0, delta: { role: "assistant", content: `Yo ${m}` } }],
        }],
        [null, {
          id: "gen-1",
          object: "chat.completion.chunk",
          created: 1,
          model: "meta-llama/llama-3.3-70b-instruct",
          choices: [],
          usage: { prompt_tokens: 70, completion_tokens: 7, total_tokens: 77 },
        }],
        [null, "[DONE]"],
      ]),
    expected: {
      provider: "openai-compatible",
      model: "meta-llama/llama-3.3-70b-instruct",
      inputTokens: 70,
      outputTokens: 7,
      cacheReadTokens: null,
      cacheCreationTokens: null,
      streamed: true,
    },
  },
];
