import assert from "node:assert/strict";
import { DetachKeys, parseDetachKeys } from "./detach_keys.ts";
import { UsageError } from "./errors.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

Deno.test("detach keys: docker's notation, refusals name the bad key", () => {
  assert.deepEqual(parseDetachKeys("ctrl-p,ctrl-q"), bytes(16, 17));
  assert.deepEqual(parseDetachKeys("ctrl-@,ctrl-[,ctrl-\\,ctrl-_,x"), bytes(0, 27, 28, 31, 120));
  assert.deepEqual(parseDetachKeys(""), bytes());
  for (const bad of ["ctrl-1", "ctrl-", "ab", "a,,b", " "]) {
    assert.throws(() => parseDetachKeys(bad), UsageError, bad);
  }
});

Deno.test("detach keys: the sequence is held back, never forwarded; a broken one is let through", () => {
  const keys = new DetachKeys(bytes(16, 17));
  assert.deepEqual(keys.push(bytes(104, 105, 16)), { forward: bytes(104, 105), detached: false });
  // Ctrl-P then another key: both go on, in order.
  assert.deepEqual(keys.push(bytes(120)), { forward: bytes(16, 120), detached: false });
  // Ctrl-P Ctrl-P Ctrl-Q: the first goes on, the last two detach.
  assert.deepEqual(keys.push(bytes(16, 16, 17, 99)), { forward: bytes(16), detached: true });
  // Split across reads.
  assert.deepEqual(keys.push(bytes(16)), { forward: bytes(), detached: false });
  assert.deepEqual(keys.push(bytes(17)), { forward: bytes(), detached: true });
  // No keys: everything passes.
  assert.deepEqual(new DetachKeys(bytes()).push(bytes(16, 17)).forward, bytes(16, 17));
});
