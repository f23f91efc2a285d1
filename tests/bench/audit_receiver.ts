/**
 * A receiver for tests/bench/audit_sinks.ts, in a process of its own so that it does not share
 * the emitter's event loop: `audit_receiver.ts unix PATH` (syslog on a unix datagram socket) or
 * `audit_receiver.ts otlp` (an OTLP/HTTP collector on 127.0.0.1). Prints `ready ENDPOINT`, then
 * on SIGTERM the number of events it received, and exits.
 *
 * @module
 */

import { otlpReceiver, unixSyslogReceiver } from "../../host/audit/testing/receivers.ts";

const [kind, path] = Deno.args;
const receiver = kind === "unix" ? unixSyslogReceiver(path) : otlpReceiver();
const endpoint = "endpoint" in receiver ? receiver.endpoint : path;
Deno.addSignalListener("SIGTERM", async () => {
  const count = receiver.received.length;
  await receiver.close();
  console.log(count);
  Deno.exit(0);
});
console.log(`ready ${endpoint}`);
