import assert from "node:assert/strict";
import { otlpSink } from "./otlp_sink.ts";
import { sealEvent } from "./seal_event.ts";
import { SinkRejected } from "./sink_queue.ts";
import { AuditEventSchema } from "./audit_event.ts";
import { fromAnyValue, otlpReceiver } from "./testing/receivers.ts";

const events = [
  sealEvent(
    { type: "exec.started", session: { id: "s1" }, exec: { id: "e1", argv: ["ls", "-l"] } },
    "cli:me",
  ),
  sealEvent({
    type: "exec.finished",
    session: { id: "s1", name: "web" },
    exec: { id: "e1", argv: ["ls", "-l"], user: "agent" },
    exitCode: 0,
    signal: null,
    timedOut: false,
    durationMs: 12,
  }, "cli:me"),
];

Deno.test("OTLP/HTTP JSON: one logRecord per event, eventName, nanosecond time, the event as body", async () => {
  await using receiver = otlpReceiver();
  const sink = otlpSink({ endpoint: `${receiver.endpoint}/` });
  await sink.deliver(events);
  await sink.close();
  assert.equal(receiver.requests(), 1);
  const [first, second] = receiver.received;
  assert.deepEqual([first.eventName, second.eventName], ["exec.started", "exec.finished"]);
  assert.equal(first.timeUnixNano, `${Date.parse(events[0].time)}000000`);
  assert.equal(first.severityNumber, 9);
  assert.deepEqual(AuditEventSchema.parse(fromAnyValue(second.body)), events[1]);
  const attrs = Object.fromEntries(second.attributes.map((a) => [a.key, fromAnyValue(a.value)]));
  assert.deepEqual(attrs, {
    "event.name": "exec.finished",
    "agentbox.event.id": events[1].id,
    "agentbox.session.id": "s1",
    "agentbox.session.name": "web",
    "agentbox.actor": "cli:me",
  });
});

Deno.test("OTLP: 5xx and 429 are retryable failures, other refusals drop the batch, down is a failure", async () => {
  let status = 503;
  await using receiver = otlpReceiver({ status: () => status });
  const sink = otlpSink({ endpoint: receiver.endpoint });
  await assert.rejects(sink.deliver(events), (e) => !(e instanceof SinkRejected));
  status = 429;
  await assert.rejects(sink.deliver(events), (e) => !(e instanceof SinkRejected));
  status = 400;
  await assert.rejects(sink.deliver(events), SinkRejected);
  await sink.close();
  await receiver.close();
  const down = otlpSink({ endpoint: receiver.endpoint, timeoutMs: 2000 });
  await assert.rejects(down.deliver(events), (e) => !(e instanceof SinkRejected));
  await down.close();
});
