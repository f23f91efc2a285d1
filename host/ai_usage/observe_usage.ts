/**
 * Watch an AI API response as it is forwarded and read its token usage, without holding the
 * body: the returned response streams exactly the upstream's bytes (same chunks, same order)
 * while a bounded parser reads a copy — decoded first when the body is gzip, deflate or brotli
 * compressed. Parsing problems never reach the client: parsing stops, forwarding goes on, and the
 * reading says why in `error`.
 *
 * @module
 */

import type { AiEndpoint } from "./ai_endpoint.ts";
import { AiUsageError, type AiUsageErrorCode } from "./ai_usage_error.ts";
import { BoundedBody } from "./bounded_body.ts";
import { SseParser } from "./sse_parser.ts";
import { hasTokens, type TokenUsage } from "./token_usage.ts";
import { type UsageReader, usageReader } from "./usage_reader.ts";

/** Bounds of {@linkcode observeAiUsage}. */
export interface ObserveOptions {
  /** Largest JSON body read, after decoding (default 4 MiB); larger ones are not read. */
  maxJsonBytes?: number;
  /** Largest SSE line or event (default 4 MiB); one larger stops the reading. */
  maxEventBytes?: number;
  /** Most decoded bytes read from a compressed SSE stream (default 64 MiB). */
  maxDecodedBytes?: number;
}

/** What was read from one response. */
export interface ObservedUsage extends TokenUsage {
  /** The response was a server-sent-event stream. */
  streamed: boolean;
  /** Why the reading is missing or incomplete; absent when usage was read in full. */
  error?: AiUsageErrorCode;
  /** `performance.now()` when the body ended (or broke off). */
  endedAt: number;
}

/** The response to forward instead of the original, and the reading once the body ended. */
export interface Observation {
  response: Response;
  /** Never rejects. */
  usage: Promise<ObservedUsage>;
}

const MAX_PENDING_DECODE = 8 * 1024 * 1024;

interface Sink {
  push(chunk: Uint8Array): void;
  end(): void;
}

/**
 * Observe `response` (the upstream's answer to a request recognised as `endpoint`).
 *
 * @example
 * ```ts
 * import { observeAiUsage } from "./observe_usage.ts";
 * const upstream = Response.json({ model: "gpt-4o", usage: { prompt_tokens: 3, completion_tokens: 4 } });
 * const { response, usage } = observeAiUsage({ api: "openai-chat", provider: "openai" }, upstream);
 * await response.arrayBuffer(); // forwarded to the client
 * console.assert((await usage).outputTokens === 4);
 * ```
 */
export function observeAiUsage(
  endpoint: AiEndpoint,
  response: Response,
  options: ObserveOptions = {},
): Observation {
  const maxJson = options.maxJsonBytes ?? 4 * 1024 * 1024;
  const mediaType = (response.headers.get("content-type") ?? "").split(";")[0].trim()
    .toLowerCase();
  const streamed = mediaType === "text/event-stream";
  const json = mediaType === "application/json" || mediaType.endsWith("+json");
  const reader = usageReader(endpoint.api);
  let error: AiUsageErrorCode | undefined;
  const fail = (code: AiUsageErrorCode) => error ??= code;
  const settle = (endedAt: number): ObservedUsage => {
    const usage = reader.result();
    if (error === undefined && !hasTokens(usage)) error = "no_usage";
    return { ...usage, model: usage.model ?? endpoint.pathModel, streamed, error, endedAt };
  };
  const body = response.body;
  if (body === null) return { response, usage: Promise.resolve(settle(performance.now())) };
  const coding = contentCoding(response.headers.get("content-encoding"));
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (!streamed && !json) fail("no_usage");
  else if (coding === undefined) fail("unsupported_encoding");
  else if (json && declared > maxJson) fail("too_large");

  let stopped = error !== undefined;
  const guard = (step: () => void) => {
    if (stopped) return;
    try {
      step();
    } catch (err) {
      stopped = true;
      fail(err instanceof AiUsageError ? err.code : "malformed");
    }
  };
  const sink = streamed ? sseSink(reader, fail, options) : jsonSink(reader, maxJson);
  const decoder = stopped || coding === "identity" ? undefined : new DecodingSink(
    coding!,
    sink,
    guard,
    () => stopped,
    streamed ? options.maxDecodedBytes ?? 64 << 20 : maxJson,
  );
  const upstream = body.getReader();
  const { promise: usage, resolve } = Promise.withResolvers<ObservedUsage>();
  let finished = false;
  const finish = async (aborted: boolean) => {
    if (finished) return;
    finished = true;
    const endedAt = performance.now();
    if (aborted) {
      fail("aborted");
      decoder?.abort();
    } else {
      await decoder?.end();
      guard(() => sink.end());
    }
    resolve(settle(endedAt));
  };
  const observed = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await upstream.read();
      } catch (err) {
        finish(true);
        controller.error(err);
        return;
      }
      if (next.done) {
        controller.close();
        finish(false);
        return;
      }
      const chunk = next.value;
      controller.enqueue(chunk);
      if (decoder) decoder.push(chunk);
      else guard(() => sink.push(chunk));
    },
    cancel(reason) {
      finish(true);
      return upstream.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return {
    response: new Response(observed, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    }),
    usage,
  };
}

function sseSink(
  reader: UsageReader,
  fail: (code: AiUsageErrorCode) => void,
  options: ObserveOptions,
): Sink {
  const parser = new SseParser((type, data) => {
    if (data === "[DONE]") return;
    const parsed = parseJson(data);
    if (parsed === INVALID) fail("malformed");
    else reader.event(type, parsed);
  }, {
    maxEventBytes: options.maxEventBytes,
    wants: (type) => reader.events === undefined || reader.events.has(type),
  });
  return { push: (c) => parser.push(c), end: () => parser.end() };
}

function jsonSink(reader: UsageReader, maxJson: number): Sink {
  const collected = new BoundedBody(maxJson);
  return {
    push: (c) => collected.push(c),
    end() {
      const parsed = parseJson(collected.text());
      if (parsed === INVALID) throw new AiUsageError("malformed", "Body is not JSON");
      reader.json(parsed);
    },
  };
}

type Coding = "identity" | "gzip" | "deflate" | "brotli";

function contentCoding(header: string | null): Coding | undefined {
  const value = (header ?? "").trim().toLowerCase();
  if (value === "" || value === "identity") return "identity";
  if (value === "gzip" || value === "x-gzip") return "gzip";
  if (value === "deflate") return "deflate";
  if (value === "br") return "brotli";
  return undefined;
}

const INVALID = Symbol("invalid");

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return INVALID;
  }
}

/**
 * Feeds a decoded copy of the body to `sink`. Writes are not awaited (forwarding never waits for
 * parsing); more than {@linkcode MAX_PENDING_DECODE} bytes waiting, or more than `maxDecoded`
 * decoded bytes, stop the reading.
 */
class DecodingSink {
  readonly #writer: WritableStreamDefaultWriter<BufferSource>;
  readonly #pump: Promise<void>;
  readonly #guard: (step: () => void) => void;
  #pending = 0;
  #dead = false;

  constructor(
    coding: "gzip" | "deflate" | "brotli",
    sink: Sink,
    guard: (step: () => void) => void,
    stopped: () => boolean,
    maxDecoded: number,
  ) {
    this.#guard = guard;
    // Deno's DecompressionStream takes "brotli"; the type library knows only the standard names.
    const stream = new DecompressionStream(coding as CompressionFormat);
    const writer = stream.writable.getWriter();
    this.#writer = writer;
    writer.closed.catch(() => {});
    this.#pump = (async () => {
      let decoded = 0;
      try {
        for await (const part of stream.readable) {
          decoded += part.length;
          if (decoded > maxDecoded) {
            throw new AiUsageError("too_large", `Decoded body larger than ${maxDecoded} bytes`);
          }
          guard(() => sink.push(part));
          if (stopped()) break;
        }
      } catch (err) {
        guard(() => {
          throw err instanceof AiUsageError
            ? err
            : new AiUsageError("decode_failed", "Cannot decode the body", { cause: err });
        });
      } finally {
        this.#dead = true;
        writer.abort().catch(() => {});
      }
    })();
  }

  push(chunk: Uint8Array): void {
    if (this.#dead) return;
    this.#pending += chunk.length;
    if (this.#pending > MAX_PENDING_DECODE) {
      this.#guard(() => {
        throw new AiUsageError("too_large", "Decoder fell too far behind");
      });
      this.abort();
      return;
    }
    this.#writer.write(chunk as Uint8Array<ArrayBuffer>).then(
      () => this.#pending -= chunk.length,
      () => {},
    );
  }

  async end(): Promise<void> {
    if (!this.#dead) await this.#writer.close().catch(() => {});
    await this.#pump;
  }

  abort(): void {
    this.#dead = true;
    this.#writer.abort().catch(() => {});
  }
}
