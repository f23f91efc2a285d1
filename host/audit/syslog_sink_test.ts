import assert from "node:assert/strict";
import { sealEvent } from "./seal_event.ts";
import { syslogSink } from "./syslog_sink.ts";
import {
  syslogEvent,
  tcpSyslogReceiver,
  udpSyslogReceiver,
  unixSyslogReceiver,
} from "./testing/receivers.ts";

const events = [0, 1, 2].map((n) =>
  sealEvent({ type: "sandbox.removed", session: { id: `s${n}`, name: 'x"]\\' } }, "cli:me")
);

Deno.test("syslog to a unix datagram socket: one RFC 5424 message per event, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using receiver = unixSyslogReceiver(`${dir}/log`);
    const sink = syslogSink({
      target: { transport: "unix", path: `${dir}/log` },
      facility: "auth",
    });
    await sink.deliver(events);
    await receiver.waitFor(3);
    await sink.close();
    assert.deepEqual(receiver.received.map((m) => syslogEvent(m)), events);
    assert.ok(receiver.received.every((m) => m.startsWith("<38>1 ")), receiver.received[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("syslog to a unix socket that is not there fails the delivery (the queue retries)", async () => {
  const sink = syslogSink({
    target: { transport: "unix", path: "/nonexistent/agentbox/log" },
    facility: "local0",
  });
  await assert.rejects(sink.deliver(events));
  await sink.close();
});

Deno.test("syslog over UDP: one datagram per event", async () => {
  await using receiver = udpSyslogReceiver();
  const sink = syslogSink({
    target: { transport: "udp", hostname: "127.0.0.1", port: receiver.port },
    facility: "local3",
  });
  await sink.deliver(events);
  await receiver.waitFor(3);
  await sink.close();
  assert.deepEqual(receiver.received.map((m) => syslogEvent(m)), events);
});

Deno.test("syslog over TCP: octet-counted frames, reconnecting after the collector restarts", async () => {
  const receiver = tcpSyslogReceiver();
  const sink = syslogSink({
    target: { transport: "tcp", hostname: "127.0.0.1", port: receiver.port },
    facility: "local0",
  });
  await sink.deliver(events);
  await receiver.waitFor(3);
  assert.deepEqual(receiver.received.map((m) => syslogEvent(m)), events);
  await receiver.close();
  await assert.rejects(async () => {
    // The first write after the peer went away may still succeed (in the kernel's buffer).
    for (let i = 0; i < 50; i++) {
      await sink.deliver(events);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  await sink.close();
});
