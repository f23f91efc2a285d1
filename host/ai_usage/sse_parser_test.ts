import assert from "node:assert/strict";
import { AiUsageError } from "./ai_usage_error.ts";
import { SseParser } from "./sse_parser.ts";

const enc = new TextEncoder();

function parse(chunks: string[], options = {}): string[] {
  const seen: string[] = [];
  const p = new SseParser((type, data) => seen.push(`${type}|${data}`), options);
  for (const c of chunks) p.push(enc.encode(c));
  p.end();
  return seen;
}

Deno.test("sse: LF, CRLF and CR line ends, split anywhere, give the same events", () => {
  const text = "event: a\ndata: 1\ndata:2\n\n: comment\ndata: x\n\n";
  const expected = ["a|1\n2", "message|x"];
  for (const eol of ["\n", "\r\n", "\r"]) {
    const body = text.replaceAll("\n", eol);
    assert.deepEqual(parse([body]), expected, JSON.stringify(eol));
    assert.deepEqual(parse(body.split("")), expected, `${JSON.stringify(eol)} byte by byte`);
  }
});

Deno.test("sse: a final event without its blank line is still delivered", () => {
  assert.deepEqual(parse(["data: last"]), ["message|last"]);
});

Deno.test("sse: unwanted events are not kept", () => {
  const wants = (t: string) => t === "keep";
  assert.deepEqual(
    parse(["event: drop\ndata: 1\n\nevent: keep\ndata: 2\n\n"], { wants }),
    ["keep|2"],
  );
});

Deno.test("sse: a line or an event over the bound throws line_too_long", () => {
  const p = new SseParser(() => {}, { maxEventBytes: 1024 });
  p.push(enc.encode("data: "));
  assert.throws(() => {
    for (let i = 0; i < 10; i++) p.push(enc.encode("x".repeat(200)));
  }, (err) => err instanceof AiUsageError && err.code === "line_too_long");
  const q = new SseParser(() => {}, { maxEventBytes: 1024 });
  assert.throws(
    () => q.push(enc.encode("data: 12345678\n".repeat(200))),
    (err) => err instanceof AiUsageError && err.code === "line_too_long",
  );
});
