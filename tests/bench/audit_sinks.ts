/**
 * Audit sinks: how many events per second each sink sustains — the JSON-lines file, syslog to a
 * unix datagram socket, OTLP/HTTP JSON to a collector on loopback — measured from the first
 * `emit` to the trail's `close()` returning with every event delivered (none dropped: the queue
 * holds them all). The receivers run in a process of their own (audit_receiver.ts), which
 * confirms the count. The event is a realistic `exec.finished`.
 *
 * Run: deno run -A tests/bench/audit_sinks.ts [RUNS] [EVENTS]   (default 5 runs of 20000)
 *
 * @module
 */

import { type AuditTrailSettings, openAuditTrail } from "../../host/audit/audit_trail.ts";
import { sealEvent } from "../../host/audit/seal_event.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 5);
const count = Number(Deno.args[1] ?? 20_000);
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-audit-" });

function event(n: number) {
  return sealEvent({
    type: "exec.finished",
    session: { id: "0f3c2a9e-0000-4000-8000-000000000000", name: "bench" },
    exec: { id: crypto.randomUUID(), argv: ["sh", "-c", `make test TARGET=${n}`], user: "agent" },
    exitCode: 0,
    signal: null,
    timedOut: false,
    durationMs: 1234,
  }, "cli:bench");
}

/** Start a receiver process; its endpoint, and how to stop it and read its count. */
async function receiver(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./audit_receiver.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the receiver ended before it was ready");
    text += value;
  }
  const endpoint = text.split("\n")[0].replace(/^ready /, "");
  return {
    endpoint,
    async stop(): Promise<number> {
      child.kill("SIGTERM");
      let rest = text.slice(text.indexOf("\n") + 1);
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += value;
      }
      await child.status;
      return Number(rest.trim());
    },
  };
}

async function measure(settings: AuditTrailSettings): Promise<number> {
  const events = Array.from({ length: count }, (_, n) => event(n));
  const trail = openAuditTrail(settings);
  const started = performance.now();
  for (const e of events) trail.emit(e);
  const [stats] = await trail.close(600_000);
  const seconds = (performance.now() - started) / 1000;
  if (stats.delivered !== count || stats.dropped !== 0) {
    throw new Error(`delivered ${stats.delivered}, dropped ${stats.dropped} of ${count}`);
  }
  return count / seconds;
}

const sinks: Record<
  string,
  () => Promise<{ settings: AuditTrailSettings; check(): Promise<void> }>
> = {
  "file (JSON lines)": () => {
    const path = `${work}/audit-${crypto.randomUUID()}.jsonl`;
    return Promise.resolve({
      settings: { queue: count, file: { path, maxBytes: 1024 ** 3 } },
      async check() {
        const lines = (await Deno.readTextFile(path)).trimEnd().split("\n").length;
        if (lines !== count) throw new Error(`the file has ${lines} lines`);
        await Deno.remove(path);
      },
    });
  },
  "syslog (unix datagram)": async () => {
    const r = await receiver(["unix", `${work}/log-${crypto.randomUUID()}.sock`]);
    return {
      settings: {
        queue: count,
        syslog: { target: { transport: "unix", path: r.endpoint }, facility: "local0" },
      },
      async check() {
        const got = await r.stop();
        if (got !== count) throw new Error(`the syslog receiver got ${got}`);
      },
    };
  },
  "OTLP/HTTP JSON (loopback)": async () => {
    const r = await receiver(["otlp"]);
    return {
      settings: { queue: count, otlp: { endpoint: r.endpoint } },
      async check() {
        const got = await r.stop();
        if (got !== count) throw new Error(`the OTLP receiver got ${got}`);
      },
    };
  },
};

const rates: Record<string, number[]> = Object.fromEntries(Object.keys(sinks).map((k) => [k, []]));
for (let run = 0; run < runs; run++) {
  // Interleaved, so that a change in the machine's load hits every sink alike.
  for (const [name, make] of Object.entries(sinks)) {
    const sink = await make();
    rates[name].push(await measure(sink.settings));
    await sink.check();
  }
}
await Deno.remove(work, { recursive: true });
const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
console.log(`audit sinks: ${runs} runs of ${count} events each, load average ${load}`);
for (const [name, values] of Object.entries(rates)) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(26)} median ${Math.round(median(values))} events/s ` +
      `(min ${Math.round(sorted[0])}, max ${Math.round(sorted.at(-1)!)})`,
  );
}
