import assert from "node:assert/strict";
import { escapeControls, jsonSafe, printable } from "./terminal_text.ts";

Deno.test("escapeControls escapes C0, DEL, C1 and bidi controls, keeping only what is asked", () => {
  assert.equal(escapeControls("a\x00b\x1b[2Jc\x7fd"), "a\\x00b\\x1b[2Jc\\x7fd");
  assert.equal(escapeControls("\u009b31m"), "\\x9b31m", "C1 CSI");
  assert.equal(escapeControls("\u0085\u008d"), "\\x85\\x8d", "C1 NEL and RI");
  for (const bidi of ["\u061c", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069"]) {
    const code = bidi.charCodeAt(0).toString(16).padStart(4, "0");
    assert.equal(escapeControls(`x${bidi}y`), `x\\u${code}y`);
  }
  assert.equal(escapeControls("a\tb"), "a\\x09b");
  assert.equal(escapeControls("a\tb\nc", { keep: "\t" }), "a\tb\\x0ac");
  assert.equal(escapeControls("a\tb\nc\x1b", { keep: "\t\n" }), "a\tb\nc\\x1b");
  assert.equal(escapeControls("héllo ✓ 日本"), "héllo ✓ 日本", "printable Unicode stays");
  assert.equal(escapeControls("abcdef", { maxLength: 3 }), "abc…");
});

Deno.test("printable is one line and capped", () => {
  assert.equal(printable("a\nb\u202e"), "a\\x0ab\\u202e");
  assert.equal(printable("x".repeat(600)).length, 513);
});

Deno.test("jsonSafe escapes what JSON leaves raw and keeps the document's meaning", () => {
  const value = { p: "a\u009b\u202e\x7fb" };
  const text = jsonSafe(JSON.stringify(value));
  assert.ok(!/[\u007f-\u009f\u202a-\u202e]/.test(text));
  assert.deepEqual(JSON.parse(text), value);
});
