import assert from "node:assert/strict";
import type { AuditEvent } from "./audit_event.ts";
import { sealEvent } from "./seal_event.ts";
import { type AuditSink, SinkQueue, SinkRejected } from "./sink_queue.ts";

const event = (n: number) => sealEvent({ type: "sandbox.removed", session: { id: `s${n}` } }, "a");

/** A sink whose deliveries wait for `gate` and fail while `down` says so. */
function testSink(options: { down?: () => boolean; gate?: Promise<void> } = {}) {
  const got: AuditEvent[] = [];
  let attempts = 0;
  const sink: AuditSink = {
    name: "test",
    async deliver(batch) {
      attempts++;
      await options.gate;
      if (options.down?.()) throw new Error("connection refused");
      got.push(...batch);
    },
    close: () => Promise.resolve(),
  };
  return { sink, got, attempts: () => attempts };
}

Deno.test("a full queue drops new events, counts them and reports the first drop once", async () => {
  const gate = Promise.withResolvers<void>();
  const { sink, got } = testSink({ gate: gate.promise });
  const warnings: string[] = [];
  const queue = new SinkQueue(sink, {
    capacity: 10,
    maxBatch: 1,
    onDrop: (name, reason) => warnings.push(`${name}: ${reason}`),
  });
  const started = performance.now();
  for (let i = 0; i < 100; i++) queue.push(event(i));
  assert.ok(performance.now() - started < 50, "push never waits for the sink");
  // Ten wait (the one being delivered among them); the rest were dropped.
  assert.equal(queue.stats().dropped, 90);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^test: its queue of 10 events is full/);
  gate.resolve();
  const stats = await queue.close(2000);
  assert.deepEqual([stats.delivered, stats.dropped, stats.queued], [10, 90, 0]);
  assert.deepEqual(got.map((e) => e.session.id), Array.from({ length: 10 }, (_, i) => `s${i}`));
  assert.equal(warnings.length, 1, "reported once");
});

Deno.test("a failing delivery is retried in order until the sink comes back", async () => {
  let down = true;
  const { sink, got, attempts } = testSink({ down: () => down });
  const warnings: string[] = [];
  const queue = new SinkQueue(sink, {
    retryMs: 5,
    maxRetryMs: 20,
    onDrop: (_, r) => warnings.push(r),
  });
  for (let i = 0; i < 5; i++) queue.push(event(i));
  while (attempts() < 3) await new Promise((r) => setTimeout(r, 5));
  assert.equal(queue.stats().failing, "connection refused");
  down = false;
  while (got.length < 5) await new Promise((r) => setTimeout(r, 5));
  const stats = await queue.close(1000);
  assert.deepEqual([stats.delivered, stats.dropped, stats.failing], [5, 0, undefined]);
  assert.deepEqual(got.map((e) => e.session.id), ["s0", "s1", "s2", "s3", "s4"]);
  assert.deepEqual(warnings, []);
});

Deno.test("closing with a dead sink: one last attempt, the rest dropped and reported once", async () => {
  const { sink, attempts } = testSink({ down: () => true });
  const warnings: string[] = [];
  const queue = new SinkQueue(sink, {
    retryMs: 60_000,
    maxBatch: 2,
    onDrop: (_, r) => warnings.push(r),
  });
  for (let i = 0; i < 5; i++) queue.push(event(i));
  while (attempts() < 1) await new Promise((r) => setTimeout(r, 5));
  const started = performance.now();
  const stats = await queue.close(5000);
  assert.ok(performance.now() - started < 1000, "a minute's backoff is cut short by close");
  assert.deepEqual([stats.delivered, stats.dropped, stats.queued], [0, 5, 0]);
  assert.equal(attempts(), 2);
  assert.deepEqual(warnings, ["cannot deliver: connection refused"]);
  queue.push(event(9));
  assert.equal(queue.stats().dropped, 6, "an event after close is dropped and counted");
});

Deno.test("closing gives a hung sink its deadline, no more", async () => {
  const { sink } = testSink({ gate: new Promise(() => {}) });
  const warnings: string[] = [];
  const queue = new SinkQueue(sink, { onDrop: (_, r) => warnings.push(r) });
  for (let i = 0; i < 3; i++) queue.push(event(i));
  const started = performance.now();
  const stats = await queue.close(100);
  const took = performance.now() - started;
  assert.ok(took >= 90 && took < 1000, `${took} ms`);
  assert.deepEqual([stats.delivered, stats.dropped], [0, 3]);
  assert.deepEqual(warnings, ["not delivered within 100 ms of closing"]);
});

Deno.test("a batch the sink refuses for good is dropped, not retried", async () => {
  let calls = 0;
  const queue = new SinkQueue({
    name: "picky",
    deliver() {
      calls++;
      return Promise.reject(new SinkRejected("HTTP 400 from the collector"));
    },
    close: () => Promise.resolve(),
  }, { retryMs: 1 });
  queue.push(event(1));
  const stats = await queue.close(1000);
  assert.deepEqual([calls, stats.delivered, stats.dropped], [1, 0, 1]);
});
