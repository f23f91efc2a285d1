/**
 * The two guest networks against each other, in the same run: download throughput and the cost
 * of a new connection, from a real VM through the session's forward proxy to an upstream on the
 * host's loopback — on the tap backend (tap + nftables DNAT) and on the user backend (slirp
 * `guestfwd` with one `busybox nc` relay per connection).
 *
 * Run: deno run -A tests/bench/net_backend.ts [ROUNDS]   (default 5; the tap backend needs root)
 *
 * Each round boots one VM per backend and times, inside the guest with curl's own timers, a
 * 64 MiB download and 30 requests each on a new connection (`Connection: close`).
 *
 * @module
 */

import { applyConfigText } from "../../host/config/load_config.ts";
import { emptyPolicy } from "../../host/config/policy.ts";
import { startEgress } from "../../host/egress/egress.ts";
import { type NetBackend, tapUnavailableReason } from "../../host/net/net_backend.ts";
import { mappedDialer, tableResolver } from "../../host/proxy/testing/mod.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { readAll } from "../helpers.ts";
import { median } from "./stats.ts";

const rounds = Number(Deno.args[0] ?? 5);
const BIG = new Uint8Array(64 * 1024 * 1024);
const UPSTREAM = "203.0.113.30";
const CONNECTIONS = 30;

const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
  const body = new URL(request.url).pathname === "/big" ? BIG : "ok\n";
  return new Response(body, { headers: { connection: "close" } });
});

/** One backend's figures of one round: MB/s, and ms per new connection. */
async function round(backend: NetBackend): Promise<{ mbps: number; connectMs: number }> {
  const policy = emptyPolicy();
  applyConfigText(policy, '[network]\nallow = ["bench.test"]\n', "net_backend bench");
  const egress = await startEgress({
    policy,
    recorder: { begin: () => 0, finish() {} },
    resolver: tableResolver({ "bench.test": [UPSTREAM] }).resolver,
    dialer: mappedDialer({ [`${UPSTREAM}:80`]: upstream.addr.port }).dialer,
  }, { backend, sessionId: crypto.randomUUID() });
  const vm = await bootVm({ network: egress.network });
  try {
    const run = async (script: string) => {
      const handle = vm.agent.exec({ argv: ["sh", "-c", script], env: egress.guestEnv });
      const [out, err, result] = await Promise.all([
        readAll(handle.stdout),
        readAll(handle.stderr),
        handle.result,
      ]);
      if (result.code !== 0) throw new Error(`${script}: ${new TextDecoder().decode(err)}`);
      return new TextDecoder().decode(out);
    };
    const seconds = Number(
      await run("curl -sS -o /dev/null -w '%{time_total}' http://bench.test/big"),
    );
    const urls = Array.from({ length: CONNECTIONS }, (_, i) => `http://bench.test/${i}`).join(" ");
    const total = Number(
      await run(
        `curl -sS -o /dev/null -w '%{time_total}\\n' ${urls} | awk '{s+=$1} END {print s}'`,
      ),
    );
    return { mbps: BIG.length / 1e6 / seconds, connectMs: (total * 1000) / CONNECTIONS };
  } finally {
    await vm.stop();
    await egress.close();
  }
}

const tapSkip = await tapUnavailableReason();
if (tapSkip) console.log(`tap backend not measured: ${tapSkip}`);
const backends: NetBackend[] = tapSkip ? ["user"] : ["tap", "user"];
const results = new Map<NetBackend, { mbps: number[]; connectMs: number[] }>(
  backends.map((b) => [b, { mbps: [], connectMs: [] }]),
);
await round("user"); // Warm-up: templates, caches.
for (let i = 0; i < rounds; i++) {
  for (const backend of backends) {
    const r = await round(backend);
    results.get(backend)!.mbps.push(r.mbps);
    results.get(backend)!.connectMs.push(r.connectMs);
  }
}
await upstream.shutdown();

const list = (values: number[]) => values.map((x) => x.toFixed(1)).join(", ");
console.log(
  `rounds: ${rounds} (interleaved), ${
    BIG.length / 2 ** 20
  } MiB download, ${CONNECTIONS} new connections`,
);
for (const [backend, r] of results) {
  console.log(
    `${backend.padEnd(4)}: ${median(r.mbps).toFixed(1)} MB/s [${list(r.mbps)}]; ` +
      `${median(r.connectMs).toFixed(1)} ms per request on a new connection [${list(r.connectMs)}]`,
  );
}
