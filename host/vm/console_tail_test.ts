import assert from "node:assert/strict";
import { ConsoleTail } from "./console_tail.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("ConsoleTail keeps the last lines", () => {
  const tail = new ConsoleTail(1024);
  tail.push(encode("one\ntwo\n"));
  tail.push(encode("three\nfour\n"));
  assert.equal(tail.lines(2), "three\nfour");
  assert.equal(tail.lines(10), "one\ntwo\nthree\nfour");
});

Deno.test("ConsoleTail is bounded: a flood keeps only the newest bytes", () => {
  const tail = new ConsoleTail(16);
  for (let i = 0; i < 1000; i++) tail.push(encode(`line ${i}\n`));
  tail.push(encode("x".repeat(100) + "\nlast\n"));
  assert.equal(tail.lines(1), "last");
  assert.ok(tail.lines(100).length <= 16);
  const wrap = new ConsoleTail(8);
  wrap.push(encode("abcdef"));
  wrap.push(encode("ghij"));
  assert.equal(wrap.lines(1), "cdefghij");
});

Deno.test("ConsoleTail escapes control characters a guest could use on the terminal", () => {
  const tail = new ConsoleTail(1024);
  tail.push(encode("ok\x1b[2J\x1b]0;pwned\x07 line\r\n\x00end\u009b2J\u202e\n"));
  assert.equal(tail.lines(5), "ok\\x1b[2J\\x1b]0;pwned\\x07 line\n\\x00end\\x9b2J\\u202e");
});
