/**
 * Only the session's own guest can use its proxy: on the user network, connections must come
 * through the relay QEMU runs (it presents the session's key); another local user, or a process
 * of ours that is not the relay, is closed on before anything is parsed — and nothing is injected
 * for it. The relay is run exactly as QEMU runs it, with the "guest" connection on its stdin and
 * stdout (`busybox nc -l -e`), against a real HTTPS upstream on loopback that records the
 * credential it receives.
 */
import assert from "node:assert/strict";
import { applyConfigText } from "../config/load_config.ts";
import { emptyPolicy } from "../config/policy.ts";
import { mappedDialer, selfSignedCert, tableResolver } from "../proxy/testing/mod.ts";
import { createTlsInspection } from "../tls/tls_inspection.ts";
import { startEgress } from "./egress.ts";
import { tapUnavailableReason } from "../net/net_backend.ts";
import type { TapNetwork } from "../net/tap_network.ts";
import { relayArgv, type UserNetwork } from "../net/user_network.ts";

const ADDR = "203.0.113.50";
const SECRET = "sk-test-SECRET-5b2e9c0d1f";
const OTHER_UID = 65534;

const CONFIG = `
[network]
allow = ["ai.test"]

[inspect]
enabled = true

[[credentials]]
host = "ai.test"
header = "x-api-key"
env = "TEST_AI_KEY"
`;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function bench() {
  const cert = await selfSignedCert(["ai.test"]);
  const seen: (string | null)[] = [];
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    cert: cert.cert,
    key: cert.key,
  }, (req) => {
    seen.push(req.headers.get("x-api-key"));
    return new Response("upstream reached\n");
  });
  const policy = emptyPolicy();
  applyConfigText(policy, CONFIG, "config.toml", { trusted: true });
  const inspect = await createTlsInspection(policy, {
    env: (name) => (name === "TEST_AI_KEY" ? SECRET : undefined),
    testUpstreamCaCerts: [cert.cert],
  });
  const egress = await startEgress({
    policy,
    recorder: { begin: () => 0, finish() {} },
    inspect,
    resolver: tableResolver({ "ai.test": [ADDR] }).resolver,
    dialer: mappedDialer({ [`${ADDR}:443`]: upstream.addr.port }).dialer,
  }, { backend: "user", sessionId: crypto.randomUUID() });
  const network = egress.network as UserNetwork;
  const scratch = await Deno.makeTempDir();
  await Deno.chmod(scratch, 0o755);
  const ca = `${scratch}/ca.pem`;
  await Deno.writeTextFile(ca, inspect.ca.certPem, { mode: 0o644 });
  return {
    seen,
    network,
    ca,
    forwardPort: network.forwards[0].hostPort,
    placeholder: inspect.credentials.guestEnv().TEST_AI_KEY,
    async close() {
      await egress.close();
      await upstream.shutdown();
      await Deno.remove(scratch, { recursive: true });
    },
  };
}

type Bench = Awaited<ReturnType<typeof bench>>;

/** `curl` through proxy port `port` to https://ai.test/, as `uid` (default: ours). */
async function curlThrough(b: Bench, port: number, uid?: number) {
  const argv = [
    "curl",
    "-sS",
    "--max-time",
    "20",
    "--proxy",
    `http://127.0.0.1:${port}`,
    "--cacert",
    b.ca,
    "-H",
    `x-api-key: ${b.placeholder}`,
    "https://ai.test/v1/messages",
  ];
  const [program, ...args] = uid === undefined
    ? argv
    : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--", ...argv];
  const out = await new Deno.Command(program, {
    args,
    env: { NO_PROXY: "", no_proxy: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { ok: out.success, text: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** The relay as QEMU runs it, serving one connection on a local port; returns that port. */
async function startRelay(
  b: Bench,
  uid?: number,
): Promise<{ port: number; done: Promise<unknown> }> {
  const port = freePort();
  const relay = relayArgv(b.network, b.forwardPort);
  const argv = ["busybox", "nc", "-l", "-p", String(port), "-e", ...relay];
  const [program, ...args] = uid === undefined
    ? argv
    : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--", ...argv];
  const child = new Deno.Command(program, { args, stdout: "null", stderr: "null" }).spawn();
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const listening = () =>
    ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((f) => Deno.readTextFileSync(f).split("\n")).some(
      (line) => {
        const [, local, , state] = line.trim().split(/\s+/);
        return local?.endsWith(`:${hex}`) && state === "0A";
      },
    );
  for (let i = 0; i < 200 && !listening(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { port, done: child.status };
}

const requiresRoot = { ignore: Deno.uid() !== 0 }; // a second uid needs setpriv as root

Deno.test("proxy admission: the session's relay is served and its credential injected", async () => {
  const b = await bench();
  try {
    const relay = await startRelay(b);
    const res = await curlThrough(b, relay.port);
    assert.ok(res.ok, res.text);
    assert.match(res.text, /upstream reached/);
    assert.deepEqual(b.seen, [SECRET]);
    await relay.done;
  } finally {
    await b.close();
  }
});

Deno.test(
  "proxy admission: another local user is refused and nothing is injected",
  requiresRoot,
  async () => {
    const b = await bench();
    try {
      // Straight to the proxy's port, as the audit did.
      const direct = await curlThrough(b, b.forwardPort, OTHER_UID);
      assert.ok(!direct.ok, direct.text);
      assert.doesNotMatch(direct.text, /upstream reached/);
      // Through a relay of its own: it cannot read the session's key.
      const relay = await startRelay(b, OTHER_UID);
      const relayed = await curlThrough(b, relay.port, OTHER_UID);
      assert.ok(!relayed.ok, relayed.text);
      await relay.done;
      assert.deepEqual(b.seen, []);
      // Positive control: the same request through the session's relay reaches the upstream.
      const ours = await startRelay(b);
      assert.ok((await curlThrough(b, ours.port)).ok);
      assert.deepEqual(b.seen, [SECRET]);
    } finally {
      await b.close();
    }
  },
);

Deno.test("proxy admission: a process of the same user that is not the relay is refused", async () => {
  const b = await bench();
  try {
    const res = await curlThrough(b, b.forwardPort);
    assert.ok(!res.ok, res.text);
    // A raw CONNECT: the proxy closes without answering.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: b.forwardPort });
    await conn.write(
      new TextEncoder().encode("CONNECT ai.test:443 HTTP/1.1\r\nHost: ai.test:443\r\n\r\n"),
    );
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf).catch(() => null);
    assert.equal(n, null, "no answer");
    conn.close();
    assert.deepEqual(b.seen, []);
  } finally {
    await b.close();
  }
});

const tapSkip = await tapUnavailableReason();

Deno.test({
  name: "proxy admission: on a tap network, a local process is refused (only the guest's address)",
  ignore: tapSkip !== undefined,
  async fn() {
    const seen: string[] = [];
    const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      seen.push(req.url);
      return new Response("upstream reached\n");
    });
    const policy = emptyPolicy();
    applyConfigText(policy, `[network]\nallow = ["plain.test"]\n`, "config.toml", {
      trusted: true,
    });
    const egress = await startEgress({
      policy,
      recorder: { begin: () => 0, finish() {} },
      resolver: tableResolver({ "plain.test": [ADDR] }).resolver,
      dialer: mappedDialer({ [`${ADDR}:80`]: upstream.addr.port }).dialer,
    }, { backend: "tap", sessionId: crypto.randomUUID() });
    try {
      const network = egress.network as TapNetwork;
      const port = await gatewayPort(network.gateway);
      // A local process reaches the gateway's listener through lo, from a host address.
      const conn = await Deno.connect({ hostname: network.gateway, port });
      await conn.write(
        new TextEncoder().encode("GET http://plain.test/ HTTP/1.1\r\nHost: plain.test\r\n\r\n"),
      );
      const n = await conn.read(new Uint8Array(1024)).catch(() => null);
      conn.close();
      assert.equal(n, null, "closed without an answer");
      assert.deepEqual(seen, []);
    } finally {
      await egress.close();
      await upstream.shutdown();
    }
  },
});

/** The forward proxy's port on `gateway` (the wall forwards the guest's 3128 there). */
async function gatewayPort(gateway: string): Promise<number> {
  const out = await new Deno.Command("ss", { args: ["-Htln"], stdout: "piped" }).output();
  const ports = new TextDecoder().decode(out.stdout).split("\n")
    .map((line) => line.trim().split(/\s+/)[3] ?? "")
    .filter((local) => local.startsWith(`${gateway}:`))
    .map((local) => Number(local.slice(gateway.length + 1)));
  assert.ok(ports.length >= 1, `a listener on ${gateway}`);
  return Math.min(...ports);
}
