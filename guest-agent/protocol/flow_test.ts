import assert from "node:assert/strict";
import { ProtocolError } from "./errors.ts";
import { InboundPipe, OutboundCredit } from "./flow.ts";
import { within } from "./testing/mod.ts";

function isCode(code: string) {
  return (e: unknown) => e instanceof ProtocolError && e.code === code;
}

function pipeWithGrants(window: number) {
  const grants: number[] = [];
  const pipe = new InboundPipe((bytes) => grants.push(bytes), window);
  const total = () => grants.reduce((a, b) => a + b, 0);
  return { pipe, grants, total };
}

Deno.test("InboundPipe accepts exactly a window and refuses one byte more", () => {
  const { pipe } = pipeWithGrants(100);
  pipe.push(new Uint8Array(60));
  pipe.push(new Uint8Array(40));
  assert.equal(pipe.queued, 100);
  assert.throws(() => pipe.push(new Uint8Array(1)), isCode("flow_violation"));
  assert.throws(
    () => pipeWithGrants(100).pipe.push(new Uint8Array(101)),
    isCode("flow_violation"),
  );
});

Deno.test("InboundPipe returns credit as the consumer reads, batched", async () => {
  const { pipe, grants, total } = pipeWithGrants(100);
  for (let i = 0; i < 10; i++) pipe.push(new Uint8Array(10).fill(i));
  assert.deepEqual(grants, [], "nothing is credited before a read");
  const reader = pipe.readable.getReader();
  const first = await reader.read();
  assert.deepEqual(first.value, new Uint8Array(10).fill(0));
  assert.deepEqual(grants, [], "10 bytes read is below a quarter window: no credit frame yet");
  await reader.read();
  await reader.read();
  assert.deepEqual(grants, [30], "a quarter window read: credit returned in one batch");
  for (let i = 3; i < 10; i++) await reader.read();
  assert.equal(total(), 100, "draining the queue credits everything");
  assert.equal(pipe.queued, 0);
  // The window is whole again.
  pipe.push(new Uint8Array(100));
  pipe.end();
  assert.equal((await reader.read()).value?.length, 100);
  assert.equal((await reader.read()).done, true);
});

Deno.test("InboundPipe counts bytes read but not yet credited against the window", async () => {
  const { pipe } = pipeWithGrants(100);
  pipe.push(new Uint8Array(10));
  pipe.push(new Uint8Array(90));
  const reader = pipe.readable.getReader();
  await reader.read(); // 10 bytes read, not credited (batched): the sender still counts them.
  assert.equal(pipe.queued, 90);
  assert.throws(() => pipe.push(new Uint8Array(1)), isCode("flow_violation"));
});

Deno.test("InboundPipe refuses data after the peer ended the stream", () => {
  const { pipe } = pipeWithGrants(100);
  pipe.end();
  assert.throws(() => pipe.push(new Uint8Array(1)), isCode("bad_message"));
});

Deno.test("InboundPipe delivers queued bytes before the end, and fails readers on fail()", async () => {
  const { pipe } = pipeWithGrants(100);
  pipe.push(new Uint8Array([1, 2]));
  pipe.end();
  pipe.fail(new Error("late failure is ignored after the end"));
  assert.deepEqual(await new Response(pipe.readable).bytes(), new Uint8Array([1, 2]));

  const failing = pipeWithGrants(100).pipe;
  const reading = new Response(failing.readable).bytes();
  failing.fail(new ProtocolError("closed", "gone"));
  await assert.rejects(reading, isCode("closed"));
});

Deno.test("InboundPipe wakes a waiting reader when data arrives", async () => {
  const { pipe } = pipeWithGrants(100);
  const reader = pipe.readable.getReader();
  const read = reader.read();
  await new Promise((r) => setTimeout(r, 5));
  pipe.push(new Uint8Array([7]));
  assert.deepEqual((await within(read, 1000, "read")).value, new Uint8Array([7]));
});

Deno.test("InboundPipe cancelled by its reader drops data and keeps returning credit", async () => {
  const { pipe, total } = pipeWithGrants(100);
  pipe.push(new Uint8Array(70));
  await pipe.readable.cancel();
  assert.equal(total(), 70, "queued bytes are credited back on cancel");
  assert.equal(pipe.queued, 0);
  // The sender does not know yet: more data must not be taken for a violation...
  pipe.push(new Uint8Array(100));
  pipe.push(new Uint8Array(100));
  assert.equal(total(), 270, "...and is credited back as it arrives");
  // ...but a sender beyond its window still is one.
  assert.throws(() => pipe.push(new Uint8Array(101)), isCode("flow_violation"));
  pipe.end();
  assert.throws(() => pipe.push(new Uint8Array(1)), isCode("bad_message"));
});

Deno.test("OutboundCredit hands out at most the available credit and waits at zero", async () => {
  const credit = new OutboundCredit(100);
  assert.equal(await credit.take(60), 60);
  assert.equal(await credit.take(60), 40);
  assert.equal(credit.available, 0);
  let taken: number | undefined;
  const waiting = credit.take(50).then((n) => taken = n);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(taken, undefined, "take waits while there is no credit");
  credit.grant(30);
  await within(waiting, 1000, "take");
  assert.equal(taken, 30);
});

Deno.test("OutboundCredit.fail wakes a waiter with the error and fails later takes", async () => {
  const credit = new OutboundCredit(0);
  const waiting = credit.take(10);
  credit.fail(new ProtocolError("closed", "gone"));
  await assert.rejects(within(waiting, 1000, "take"), isCode("closed"));
  await assert.rejects(credit.take(1), isCode("closed"));
});

Deno.test("OutboundCredit refuses absurd grants", () => {
  const credit = new OutboundCredit(0);
  assert.throws(() => credit.grant(Number.MAX_SAFE_INTEGER), isCode("flow_violation"));
});
