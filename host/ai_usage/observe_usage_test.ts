import assert from "node:assert/strict";
import { detectAiEndpoint } from "./ai_endpoint.ts";
import { observeAiUsage, type ObserveOptions } from "./observe_usage.ts";
import { PROVIDER_FIXTURES, type ProviderFixture } from "./testing/provider_fixtures.ts";

const enc = new TextEncoder();

/** A body delivered in pieces of `size` bytes (1 = byte by byte). */
function pieces(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}

async function compress(bytes: Uint8Array, format: string): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream(format as CompressionFormat));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function observe(
  f: Pick<ProviderFixture, "host" | "path" | "contentType">,
  body: Uint8Array,
  options: { size?: number; headers?: Record<string, string> } & ObserveOptions = {},
) {
  const endpoint = detectAiEndpoint("POST", f.host, new URL(f.path, "http://x").pathname);
  assert.ok(endpoint, `${f.host}${f.path} is recognised`);
  const upstream = new Response(pieces(body, options.size ?? 7), {
    headers: { "content-type": f.contentType, ...options.headers },
  });
  const { response, usage } = observeAiUsage(endpoint, upstream, options);
  const forwarded = new Uint8Array(await response.arrayBuffer());
  return { forwarded, usage: await usage };
}

for (const f of PROVIDER_FIXTURES) {
  Deno.test(`observe: ${f.name} — exact counts, bytes forwarded unchanged`, async () => {
    const body = enc.encode(f.response("MARKER"));
    for (const size of [1, 5, 64, body.length]) {
      const { forwarded, usage } = await observe(f, body, { size });
      assert.deepEqual(forwarded, body);
      const { provider: _, ...expected } = f.expected;
      assert.deepEqual(
        {
          model: usage.model,
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          cacheReadTokens: usage.cacheReadTokens ?? null,
          cacheCreationTokens: usage.cacheCreationTokens ?? null,
          streamed: usage.streamed,
        },
        expected,
        `${f.name} in ${size}-byte pieces`,
      );
      assert.equal(usage.error, undefined);
    }
  });
}

Deno.test("observe: gzip, deflate and brotli bodies are read from a decoded copy", async () => {
  for (const f of [PROVIDER_FIXTURES[0], PROVIDER_FIXTURES[1]]) {
    for (const [coding, format] of [["gzip", "gzip"], ["deflate", "deflate"], ["br", "brotli"]]) {
      const compressed = await compress(enc.encode(f.response("MARKER")), format);
      const { forwarded, usage } = await observe(f, compressed, {
        headers: { "content-encoding": coding },
      });
      assert.deepEqual(forwarded, compressed, "the compressed bytes are forwarded as they came");
      assert.equal(usage.error, undefined, `${f.name} ${coding}`);
      assert.equal(usage.outputTokens, f.expected.outputTokens);
    }
  }
});

Deno.test("observe: corrupt or stacked encodings are forwarded unread", async () => {
  const f = PROVIDER_FIXTURES[0];
  const junk = enc.encode("not gzip at all");
  const corrupt = await observe(f, junk, { headers: { "content-encoding": "gzip" } });
  assert.deepEqual(corrupt.forwarded, junk);
  assert.equal(corrupt.usage.error, "decode_failed");
  const stacked = await observe(f, junk, { headers: { "content-encoding": "gzip, br" } });
  assert.deepEqual(stacked.forwarded, junk);
  assert.equal(stacked.usage.error, "unsupported_encoding");
});

Deno.test("observe: a compression bomb stops the reading, not the forwarding", async () => {
  const f = PROVIDER_FIXTURES[0];
  const bomb = await compress(new Uint8Array(8 * 1024 * 1024).fill(0x20), "gzip");
  const { forwarded, usage } = await observe(f, bomb, {
    size: 4096,
    headers: { "content-encoding": "gzip" },
    maxJsonBytes: 1024 * 1024,
  });
  assert.deepEqual(forwarded, bomb);
  assert.equal(usage.error, "too_large");
});

Deno.test("observe: JSON bodies beyond the bound are forwarded unread", async () => {
  const f = PROVIDER_FIXTURES[0];
  const big = enc.encode(JSON.stringify({ pad: "x".repeat(5000), usage: { input_tokens: 1 } }));
  const streamed = await observe(f, big, { maxJsonBytes: 4096 });
  assert.deepEqual(streamed.forwarded, big);
  assert.equal(streamed.usage.error, "too_large");
  assert.equal(streamed.usage.inputTokens, undefined);
  const declared = await observe(f, big, {
    maxJsonBytes: 4096,
    headers: { "content-length": String(big.length) },
  });
  assert.equal(declared.usage.error, "too_large");
});

Deno.test("observe: a giant SSE line stops the reading and keeps what came before", async () => {
  const f = PROVIDER_FIXTURES[1];
  const start = f.response("M").split("event: content_block_start")[0];
  const body = enc.encode(`${start}data: ${"A".repeat(300_000)}\n\n${f.response("M")}`);
  const { forwarded, usage } = await observe(f, body, { size: 65536, maxEventBytes: 65536 });
  assert.deepEqual(forwarded, body);
  assert.equal(usage.error, "line_too_long");
  assert.equal(usage.inputTokens, 325, "message_start was read before the giant line");
  assert.equal(usage.outputTokens, 1, "nothing after it");
});

Deno.test("observe: malformed JSON, missing usage and hostile values", async () => {
  const json = PROVIDER_FIXTURES[2];
  const malformed = await observe(json, enc.encode('{"model": "gpt-4o", "usage": {'));
  assert.equal(malformed.usage.error, "malformed");
  assert.equal(malformed.usage.model, undefined);
  const none = await observe(json, enc.encode('{"model": "gpt-4o", "choices": []}'));
  assert.equal(none.usage.error, "no_usage");
  assert.equal(none.usage.model, "gpt-4o");
  const hostile = await observe(
    json,
    enc.encode(JSON.stringify({
      model: "gpt 4o \x1b[2J",
      usage: { prompt_tokens: -5, completion_tokens: "12", prompt_tokens_details: 1e300 },
    })),
  );
  assert.equal(hostile.usage.model, undefined);
  assert.equal(hostile.usage.inputTokens, undefined);
  assert.equal(hostile.usage.outputTokens, undefined);
  assert.equal(hostile.usage.error, "no_usage");
  const sse = PROVIDER_FIXTURES[3];
  const bad = await observe(sse, enc.encode(`data: {oops\n\n${sse.response("M")}`));
  assert.equal(bad.usage.error, "malformed", "the bad event is reported");
  assert.equal(bad.usage.outputTokens, 12, "and the good ones still read");
});

Deno.test("observe: a non-JSON answer (gateway error page) is recorded without usage", async () => {
  const f = { ...PROVIDER_FIXTURES[2], contentType: "text/html" };
  const page = enc.encode("<html>502 Bad Gateway</html>");
  const { forwarded, usage } = await observe(f, page);
  assert.deepEqual(forwarded, page);
  assert.equal(usage.error, "no_usage");
});

Deno.test("observe: a client going away mid-stream settles the reading as aborted", async () => {
  const f = PROVIDER_FIXTURES[1];
  const endpoint = detectAiEndpoint("POST", f.host, f.path)!;
  const head = f.response("M").split("event: content_block_delta")[0];
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(enc.encode(head));
    },
  });
  const upstream = new Response(body, { headers: { "content-type": f.contentType } });
  const { response, usage } = observeAiUsage(endpoint, upstream);
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
  const got = await usage;
  assert.equal(got.error, "aborted");
  assert.equal(got.inputTokens, 325);
});
