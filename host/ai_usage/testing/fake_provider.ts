/**
 * Test support: a fake AI provider for the real agent CLIs — Anthropic Messages (JSON and SSE)
 * and OpenAI Responses (SSE) — that answers every prompt with a fixed text and records, for each
 * request, the path, the credential it carried and the tokens it reported, as one JSON line in a
 * log file (so a test in another network namespace can read what it saw). Token counts are the
 * server's own: Anthropic `input_tokens` (no cache tokens) and `output_tokens`; OpenAI
 * `input_tokens` and `output_tokens`.
 *
 * Run as a program (the slow agent tests start it in a network namespace):
 * `deno run --allow-all fake_provider.ts --port 443 --cert C --key K --log FILE`.
 *
 * @module
 */

/** The text every answer carries. */
export const FAKE_ANSWER = "FAKE-PROVIDER-OK";

/** One request the fake saw. */
export interface FakeRequestRecord {
  method: string;
  host: string;
  path: string;
  /** `anthropic`, `openai`, or `other` (answered 404). */
  api: "anthropic" | "openai" | "other";
  /** The credential as received: `x-api-key`, else `authorization` without `Bearer `. */
  key: string | null;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
  userAgent: string | null;
}

/** Options of {@linkcode fakeProviderHandler}. */
export interface FakeProviderOptions {
  /** Called with each request's record. */
  onRecord(record: FakeRequestRecord): void;
}

const encoder = new TextEncoder();

const sse = (events: [string, unknown][]): string =>
  events.map(([type, data]) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`).join("");

/** Input tokens the fake reports: grows with the request so each count is distinct. */
function inputTokensFor(body: string): number {
  return 100 + (body.length % 997);
}

/**
 * The fake's request handler.
 *
 * @example
 * ```ts ignore
 * import { fakeProviderHandler } from "./fake_provider.ts";
 * Deno.serve({ port: 8080 }, fakeProviderHandler({ onRecord: console.log }));
 * ```
 */
export function fakeProviderHandler(
  options: FakeProviderOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const body = request.body ? await request.text() : "";
    const apiKey = request.headers.get("x-api-key");
    const auth = request.headers.get("authorization");
    const key = apiKey ?? (auth ? auth.replace(/^Bearer\s+/i, "") : null);
    let parsed: Record<string, unknown> = {};
    try {
      parsed = body ? JSON.parse(body) : {};
    } catch {
      parsed = {};
    }
    const stream = parsed.stream === true;
    const record: FakeRequestRecord = {
      method: request.method,
      host: request.headers.get("host") ?? "",
      path: url.pathname + url.search,
      api: "other",
      key,
      stream,
      inputTokens: 0,
      outputTokens: 0,
      userAgent: request.headers.get("user-agent"),
    };
    const model = typeof parsed.model === "string" ? parsed.model : "fake-model";
    if (request.method === "POST" && url.pathname.endsWith("/v1/messages")) {
      record.api = "anthropic";
      record.inputTokens = inputTokensFor(body);
      record.outputTokens = 7;
      options.onRecord(record);
      return stream
        ? anthropicStream(model, record.inputTokens, record.outputTokens)
        : Response.json(anthropicMessage(model, record.inputTokens, record.outputTokens));
    }
    if (request.method === "POST" && url.pathname.endsWith("/responses")) {
      record.api = "openai";
      record.inputTokens = inputTokensFor(body);
      record.outputTokens = 9;
      options.onRecord(record);
      return openAiResponseStream(model, record.inputTokens, record.outputTokens);
    }
    options.onRecord(record);
    return new Response("not found\n", { status: 404 });
  };
}

function anthropicMessage(model: string, input: number, output: number) {
  return {
    id: `msg_fake${crypto.randomUUID().replaceAll("-", "")}`,
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text: FAKE_ANSWER }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: input, output_tokens: output },
  };
}

function anthropicStream(model: string, input: number, output: number): Response {
  const id = `msg_fake${crypto.randomUUID().replaceAll("-", "")}`;
  const text = sse([
    ["message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: input, output_tokens: 1 },
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
      delta: { type: "text_delta", text: FAKE_ANSWER },
    }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: output },
    }],
    ["message_stop", { type: "message_stop" }],
  ]);
  return new Response(encoder.encode(text), {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
  });
}

function openAiResponseStream(model: string, input: number, output: number): Response {
  const id = `resp_fake${crypto.randomUUID().replaceAll("-", "")}`;
  const itemId = `msg_fake${crypto.randomUUID().replaceAll("-", "")}`;
  const base = { id, object: "response", created_at: Math.floor(Date.now() / 1000), model };
  const item = {
    id: itemId,
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text: FAKE_ANSWER, annotations: [] }],
  };
  let seq = 0;
  const text = sse([
    ["response.created", {
      type: "response.created",
      sequence_number: seq++,
      response: { ...base, status: "in_progress", output: [], usage: null },
    }],
    ["response.in_progress", {
      type: "response.in_progress",
      sequence_number: seq++,
      response: { ...base, status: "in_progress", output: [], usage: null },
    }],
    ["response.output_item.added", {
      type: "response.output_item.added",
      sequence_number: seq++,
      output_index: 0,
      item: { ...item, status: "in_progress", content: [] },
    }],
    ["response.content_part.added", {
      type: "response.content_part.added",
      sequence_number: seq++,
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: { type: "output_text", text: "", annotations: [] },
    }],
    ["response.output_text.delta", {
      type: "response.output_text.delta",
      sequence_number: seq++,
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      delta: FAKE_ANSWER,
    }],
    ["response.output_text.done", {
      type: "response.output_text.done",
      sequence_number: seq++,
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      text: FAKE_ANSWER,
    }],
    ["response.content_part.done", {
      type: "response.content_part.done",
      sequence_number: seq++,
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: { type: "output_text", text: FAKE_ANSWER, annotations: [] },
    }],
    ["response.output_item.done", {
      type: "response.output_item.done",
      sequence_number: seq++,
      output_index: 0,
      item,
    }],
    ["response.completed", {
      type: "response.completed",
      sequence_number: seq++,
      response: {
        ...base,
        status: "completed",
        output: [item],
        usage: {
          input_tokens: input,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: output,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: input + output,
        },
      },
    }],
  ]);
  return new Response(encoder.encode(text), {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

if (import.meta.main) {
  const args = new Map<string, string>();
  for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i], Deno.args[i + 1]);
  const log = args.get("--log");
  if (!log) throw new Error("usage: fake_provider.ts --port N [--cert C --key K] --log FILE");
  const cert = args.get("--cert");
  const key = args.get("--key");
  const handler = fakeProviderHandler({
    onRecord: (record) =>
      Deno.writeTextFileSync(log, `${JSON.stringify(record)}\n`, { append: true }),
  });
  const port = Number(args.get("--port") ?? "8443");
  const tls = cert && key
    ? { cert: Deno.readTextFileSync(cert), key: Deno.readTextFileSync(key) }
    : {};
  Deno.serve({
    port,
    hostname: args.get("--hostname") ?? "0.0.0.0",
    ...tls,
    onListen: () => console.log(`listening on ${port}`),
  }, handler);
}
