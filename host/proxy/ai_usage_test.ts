import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { PROVIDER_FIXTURES } from "../ai_usage/testing/provider_fixtures.ts";
import { applyConfigText } from "../config/load_config.ts";
import { emptyPolicy } from "../config/policy.ts";
import { type AiCallRecord, listAiCalls } from "../store/ai_calls.ts";
import { openDatabase } from "../store/database.ts";
import { listRequests } from "../store/requests.ts";
import { createSession } from "../store/sessions.ts";
import { startProxy } from "./proxy_server.ts";
import { storeRecorder } from "./recorder.ts";
import { mappedDialer, tableResolver } from "./testing/mod.ts";

// Every name resolves to one documentation address, which the dialer maps onto the loopback
// provider server below: the production resolve-vet-dial path runs and nothing leaves the machine.
const ADDR = "203.0.113.40";
const MARKER = "ZQXJ-CONTENT-MARKER-7f3a9c";
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Answer {
  contentType: string;
  body: Uint8Array | (() => ReadableStream<Uint8Array>);
  encoding?: string;
}

/** What a fake provider answers, by Host and path. */
async function answers(): Promise<Map<string, Answer>> {
  const table = new Map<string, Answer>();
  for (const f of PROVIDER_FIXTURES) {
    const bytes = enc.encode(f.response(MARKER));
    // JSON and SSE fixtures share host and path (the request body's `stream` decides upstream);
    // the test names the fixture in a header instead.
    table.set(f.name, {
      contentType: f.contentType,
      // Streams arrive in pieces, as a real provider sends them.
      body: f.expected.streamed ? () => inPieces(bytes, 97) : bytes,
    });
  }
  const anthropicJson = enc.encode(PROVIDER_FIXTURES[0].response(MARKER));
  const anthropicSse = enc.encode(PROVIDER_FIXTURES[1].response(MARKER));
  table.set("gzip.ai.test/v1/messages", {
    contentType: "application/json",
    body: await compress(anthropicJson, "gzip"),
    encoding: "gzip",
  });
  table.set("br.ai.test/v1/messages", {
    contentType: "text/event-stream",
    body: await compress(anthropicSse, "brotli"),
    encoding: "br",
  });
  // Hostile upstreams: a giant SSE line, truncated JSON, an answer without usage.
  const chunk = (usage: unknown) =>
    `data: ${
      JSON.stringify({ model: "hostile-1", choices: [{ delta: { content: MARKER } }], usage })
    }\n\n`;
  const giant = concat([
    enc.encode(chunk(null)),
    enc.encode("data: "),
    new Uint8Array(8 * 1024 * 1024).fill(0x41),
    enc.encode(`\n\n${chunk({ prompt_tokens: 1, completion_tokens: 2 })}data: [DONE]\n\n`),
  ]);
  table.set("giant.ai.test/v1/chat/completions", {
    contentType: "text/event-stream",
    body: () => inPieces(giant, 65536),
  });
  table.set("malformed.ai.test/v1/chat/completions", {
    contentType: "application/json",
    body: enc.encode(
      `{"model":"hostile-2","choices":[{"message":{"content":"${MARKER}"}}],"usage":{`,
    ),
  });
  table.set("nousage.ai.test/v1/chat/completions", {
    contentType: "application/json",
    body: enc.encode(JSON.stringify({ model: "hostile-3", choices: [{ text: MARKER }] })),
  });
  return table;
}

function inPieces(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function compress(bytes: Uint8Array, format: string): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream(format as CompressionFormat));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One request through the proxy on a raw connection; returns the status and exact body bytes. */
async function exchange(
  proxyPort: number,
  host: string,
  path: string,
  body: string,
  fixture = "",
): Promise<{ status: number; headers: string; body: Uint8Array }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  const payload = enc.encode(body);
  await conn.write(concat([
    enc.encode(
      `POST http://${host}${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${payload.length}\r\nX-Fixture: ${fixture}\r\nConnection: close\r\n\r\n`,
    ),
    payload,
  ]));
  const raw = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  const end = raw.findIndex((_, i) =>
    raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10
  );
  const head = dec.decode(raw.subarray(0, end));
  const rest = raw.subarray(end + 4);
  return {
    status: Number(head.split(" ")[1]),
    headers: head.toLowerCase(),
    body: /transfer-encoding: chunked/i.test(head) ? dechunk(rest) : rest,
  };
}

function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (;;) {
    const lineEnd = bytes.indexOf(13, off);
    const size = parseInt(dec.decode(bytes.subarray(off, lineEnd)), 16);
    if (size === 0) return concat(parts);
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    off = lineEnd + 2 + size + 2;
  }
}

async function waitForCalls(db: DatabaseSync, session: string, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (listAiCalls(db, { session }).length < n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function fileHas(path: string, needle: Uint8Array): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
  outer: for (let i = bytes.indexOf(needle[0]); i !== -1; i = bytes.indexOf(needle[0], i + 1)) {
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

Deno.test("proxy AI usage: every provider format, exact counts, content never stored", async () => {
  const dir = await Deno.makeTempDir();
  const dbPath = `${dir}/agentbox.db`;
  const table = await answers();
  const received: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    received.push(await req.text());
    const answer = table.get(req.headers.get("x-fixture") || "") ??
      table.get(`${req.headers.get("host")}${url.pathname}${url.search}`);
    if (!answer) return new Response("no such fixture", { status: 404 });
    const headers: Record<string, string> = { "content-type": answer.contentType };
    if (answer.encoding) headers["content-encoding"] = answer.encoding;
    const body = typeof answer.body === "function" ? answer.body() : answer.body;
    return new Response(body as BodyInit, { headers });
  });
  const hosts = [
    ...new Set([
      ...PROVIDER_FIXTURES.map((f) => f.host),
      ...[...table.keys()].map((k) => k.split("/")[0]),
    ]),
  ].filter((h) => h.includes("."));
  const policy = emptyPolicy();
  applyConfigText(
    policy,
    `[network]\nallow = ${JSON.stringify([...hosts, "plain.test"])}\n`,
    "test.toml",
  );
  const db = openDatabase(dbPath);
  const session = createSession(db).id;
  const warnings: unknown[] = [];
  let closed = false;
  const proxy = startProxy({
    policy,
    recorder: storeRecorder(db, session),
    resolver: tableResolver(Object.fromEntries([...hosts, "plain.test"].map((h) => [h, [ADDR]])))
      .resolver,
    dialer: mappedDialer({ [`${ADDR}:80`]: server.addr.port }).dialer,
    onWarning: (err) => warnings.push(err),
  });
  try {
    // Every provider fixture, one after the other.
    for (const f of PROVIDER_FIXTURES) {
      const res = await exchange(proxy.addr.port, f.host, f.path, f.request(MARKER), f.name);
      assert.equal(res.status, 200, f.name);
      assert.equal(
        await sha256(res.body),
        await sha256(enc.encode(f.response(MARKER))),
        `${f.name}: the client got the upstream's bytes unchanged`,
      );
    }
    await waitForCalls(db, session, PROVIDER_FIXTURES.length);
    const calls = listAiCalls(db, { session });
    assert.equal(calls.length, PROVIDER_FIXTURES.length);
    const requests = listRequests(db, { session });
    PROVIDER_FIXTURES.forEach((f, i) => {
      const c = calls.find((c) => c.requestId === requests[i].id);
      assert.ok(c, `${f.name} recorded against its request row`);
      assert.deepEqual(pick(c), {
        ...f.expected,
        host: f.host,
        status: 200,
        usageError: null,
      }, f.name);
      assert.ok(c.latencyMs !== null && c.latencyMs >= 0 && c.latencyMs < 10_000);
    });

    // Compressed bodies: forwarded compressed and unchanged, read from a decoded copy.
    for (const [host, name] of [["gzip.ai.test", "gzip"], ["br.ai.test", "br"]]) {
      const res = await exchange(proxy.addr.port, host, "/v1/messages", "{}");
      assert.match(res.headers, new RegExp(`content-encoding: ${name}`));
      assert.equal(
        await sha256(res.body),
        await sha256(table.get(`${host}/v1/messages`)!.body as Uint8Array),
      );
    }
    // Hostile upstreams: every byte still forwarded, the call recorded without invented counts.
    const giant = await exchange(proxy.addr.port, "giant.ai.test", "/v1/chat/completions", "{}");
    const giantSent = new Uint8Array(
      await new Response(
        (table.get("giant.ai.test/v1/chat/completions")!.body as () => ReadableStream)(),
      ).arrayBuffer(),
    );
    assert.equal(giant.body.length, giantSent.length);
    assert.equal(await sha256(giant.body), await sha256(giantSent));
    for (const host of ["malformed.ai.test", "nousage.ai.test"]) {
      const res = await exchange(proxy.addr.port, host, "/v1/chat/completions", "{}");
      assert.equal(
        await sha256(res.body),
        await sha256(table.get(`${host}/v1/chat/completions`)!.body as Uint8Array),
      );
    }
    // Not an AI endpoint: a request row, no AI call.
    const plain = await exchange(proxy.addr.port, "plain.test", "/v1/other", "{}");
    assert.equal(plain.status, 404);

    const total = PROVIDER_FIXTURES.length + 5;
    await waitForCalls(db, session, total);
    const more = listAiCalls(db, { session }).slice(PROVIDER_FIXTURES.length);
    assert.equal(more.length, 5, "five more AI calls, none for plain.test");
    const byHost = Object.fromEntries(more.map((c) => [c.host, c]));
    assert.deepEqual(
      [byHost["gzip.ai.test"].inputTokens, byHost["gzip.ai.test"].outputTokens],
      [PROVIDER_FIXTURES[0].expected.inputTokens, PROVIDER_FIXTURES[0].expected.outputTokens],
    );
    assert.equal(byHost["gzip.ai.test"].provider, "anthropic-compatible");
    assert.deepEqual(
      [byHost["br.ai.test"].inputTokens, byHost["br.ai.test"].outputTokens],
      [PROVIDER_FIXTURES[1].expected.inputTokens, PROVIDER_FIXTURES[1].expected.outputTokens],
    );
    assert.equal(byHost["giant.ai.test"].usageError, "line_too_long");
    assert.equal(byHost["giant.ai.test"].inputTokens, null);
    assert.equal(byHost["giant.ai.test"].model, "hostile-1");
    assert.equal(byHost["malformed.ai.test"].usageError, "malformed");
    assert.equal(byHost["malformed.ai.test"].outputTokens, null);
    assert.equal(byHost["nousage.ai.test"].usageError, "no_usage");
    assert.equal(byHost["nousage.ai.test"].model, "hostile-3");
    assert.deepEqual(warnings, []);

    // Positive control: the marker really went up (prompts) and came back (responses)…
    assert.ok(received.filter((b) => b.includes(MARKER)).length >= PROVIDER_FIXTURES.length);
    // …and never reached the database, neither in the WAL nor, after a checkpoint, the main file.
    const marker = enc.encode(MARKER);
    assert.ok(await fileHas(`${dbPath}-wal`, enc.encode("claude-sonnet-4-5-20250929")));
    for (const suffix of ["", "-wal", "-shm"]) {
      assert.equal(await fileHas(`${dbPath}${suffix}`, marker), false, `marker in db${suffix}`);
    }
    closed = true;
    await proxy.close();
    db.close();
    assert.ok(await fileHas(dbPath, enc.encode("claude-sonnet-4-5-20250929")));
    for (const suffix of ["", "-wal", "-shm"]) {
      assert.equal(await fileHas(`${dbPath}${suffix}`, marker), false, `marker in db${suffix}`);
    }
  } finally {
    if (!closed) {
      await proxy.close();
      db.close();
    }
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

function pick(c: AiCallRecord) {
  return {
    provider: c.provider,
    host: c.host,
    model: c.model,
    inputTokens: c.inputTokens,
    outputTokens: c.outputTokens,
    cacheReadTokens: c.cacheReadTokens,
    cacheCreationTokens: c.cacheCreationTokens,
    streamed: c.streamed,
    status: c.status,
    usageError: c.usageError,
  };
}
