/**
 * A port forward (`run -p`, `agentbox port`) against the same guest server reached over the tap
 * network, in the same run: requests per second (small bodies, a new connection each, a few at
 * once) and MB/s (one large body), from a host client (fetch) to busybox `httpd` in a real VM.
 * The forward carries each connection as a stream of the agent channel (virtio-serial); the tap
 * path is the guest's own network device (the wall lets the host's connections in, nothing out).
 *
 * Run (root, for the tap): deno run -A tests/bench/port_forward.ts [ROUNDS]   (default 5)
 *
 * @module
 */

import { emptyPolicy } from "../../host/config/policy.ts";
import { startEgress } from "../../host/egress/egress.ts";
import { tapUnavailableReason } from "../../host/net/net_backend.ts";
import { startPortForward } from "../../host/session/port_forward.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { readAll } from "../helpers.ts";
import { median } from "./stats.ts";

const rounds = Number(Deno.args[0] ?? 5);
const REQUESTS = 100;
const CONCURRENCY = 8;
const BIG_MB = 16;
const GUEST_PORT = 8080;

const tapSkip = await tapUnavailableReason();
if (tapSkip) {
  console.log(`not measured: the tap network is needed for the comparison: ${tapSkip}`);
  Deno.exit(0);
}

const egress = await startEgress({
  policy: emptyPolicy(),
  recorder: { begin: () => 0, finish() {} },
}, { backend: "tap", sessionId: crypto.randomUUID() });
const vm = await bootVm({ network: egress.network });
const forward = startPortForward(vm.agent, {
  hostname: "127.0.0.1",
  hostPort: 0,
  guestPort: GUEST_PORT,
});

async function guest(script: string): Promise<string> {
  const handle = vm.agent.exec({ argv: ["sh", "-c", script] });
  const [out, err, result] = await Promise.all([
    readAll(handle.stdout),
    readAll(handle.stderr),
    handle.result,
  ]);
  if (result.code !== 0) throw new Error(`${script}: ${new TextDecoder().decode(err)}`);
  return new TextDecoder().decode(out);
}

/** Requests per second: REQUESTS small GETs, CONCURRENCY at a time, each on a new connection. */
async function requestsPerSecond(base: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        const response = await fetch(`${base}/small`, { headers: { connection: "close" } });
        if ((await response.bytes()).length !== 1024) throw new Error("short body");
      }
    }),
  );
  return REQUESTS / ((performance.now() - started) / 1000);
}

/** MB/s of one large GET. */
async function megabytesPerSecond(base: string): Promise<number> {
  const started = performance.now();
  const body = await (await fetch(`${base}/big`)).bytes();
  if (body.length !== BIG_MB * 1024 * 1024) throw new Error("short body");
  return body.length / 1e6 / ((performance.now() - started) / 1000);
}

const paths = {
  forward: `http://127.0.0.1:${forward.hostPort}`,
  tap: `http://${(egress.network as { guest: string }).guest}:${GUEST_PORT}`,
};
const results = {
  forward: { rps: [] as number[], mbps: [] as number[] },
  tap: { rps: [] as number[], mbps: [] as number[] },
};
try {
  await guest(
    `set -e; mkdir -p /srv; head -c 1024 /dev/urandom > /srv/small; ` +
      `head -c ${BIG_MB * 1024 * 1024} /dev/urandom > /srv/big; ` +
      `busybox httpd -p 0.0.0.0:${GUEST_PORT} -h /srv`,
  );
  // httpd may still be starting when its daemon's parent has returned.
  for (let tries = 0;; tries++) {
    const ok = await fetch(`${paths.forward}/small`).then((r) => r.bytes(), () => undefined);
    if (ok?.length === 1024) break;
    if (tries === 50) throw new Error("the guest's httpd did not answer");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await requestsPerSecond(paths.forward); // warm-up (the guest's page cache, httpd)
  await requestsPerSecond(paths.tap);
  for (let i = 0; i < rounds; i++) {
    for (const way of ["forward", "tap"] as const) {
      results[way].rps.push(await requestsPerSecond(paths[way]));
      results[way].mbps.push(await megabytesPerSecond(paths[way]));
    }
  }
} finally {
  await forward.close();
  await vm.stop();
  await egress.close();
}

const list = (values: number[]) => values.map((x) => x.toFixed(1)).join(", ");
console.log(
  `rounds: ${rounds} (interleaved); ${REQUESTS} requests of 1 KiB, ${CONCURRENCY} at once, a new ` +
    `connection each; one ${BIG_MB} MiB download`,
);
for (const [way, r] of Object.entries(results)) {
  console.log(
    `${way.padEnd(7)}: ${median(r.rps).toFixed(1)} requests/s [${list(r.rps)}]; ` +
      `${median(r.mbps).toFixed(1)} MB/s [${list(r.mbps)}]`,
  );
}
