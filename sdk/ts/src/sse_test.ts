import assert from "node:assert/strict";
import { serverEvents } from "./sse.ts";
import { Transport } from "./transport.ts";

Deno.test("events split anywhere, CRLF, comments and multi-line data, from a real server", async () => {
  const text = ': hello\r\nevent: sandbox\r\ndata: {"id":"a",\r\n' +
    'data: "state":"running"}\r\n\r\nevent: request\ndata: {"host":"é.example"}\n\n' +
    "event: ignored-without-data\n\n";
  const bytes = new TextEncoder().encode(text);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    // One byte per chunk: every boundary, inside the UTF-8 of é too.
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (at === bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, ++at));
        await new Promise((resolve) => setTimeout(resolve, 0));
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const transport = new Transport({ url: `http://127.0.0.1:${server.addr.port}`, token: "t" });
  try {
    const reply = await transport.request("GET", "/v1/events");
    const events = [];
    for await (const event of serverEvents(reply.body)) events.push(event);
    assert.deepEqual(events, [
      { type: "sandbox", data: { id: "a", state: "running" } },
      { type: "request", data: { host: "é.example" } },
    ]);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("an event whose data is not JSON is a protocol error", async () => {
  const bytes = new TextEncoder().encode("data: {oops\n\n");
  await assert.rejects(
    async () => {
      for await (const _ of serverEvents([bytes])) { /* nothing */ }
    },
    (error: Error & { code?: string }) => error.code === "protocol_error",
  );
});
