/**
 * TLS inspection in a real VM: the guest trusts the session CA (curl without `-k`), the proxy
 * decrypts, records the full URL and injects a credential the guest only knows as a placeholder;
 * the secret is nowhere the guest can read. The upstream is a loopback HTTPS server reached
 * through the test seams (a name resolved to a documentation address, dialled to loopback).
 */
import assert from "node:assert/strict";
import { mappedDialer, selfSignedCert, tableResolver } from "../../host/proxy/testing/mod.ts";
import { installGuestFiles } from "../../host/session/guest_files.ts";
import { type NetworkReport, startNetworkSession } from "../../host/session/network_session.ts";
import { openDatabase } from "../../host/store/database.ts";
import { listRequests } from "../../host/store/requests.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { readAll } from "../helpers.ts";

const SECRET = `sk-test-${crypto.randomUUID()}`;
const SECRET_VAR = "AGENTBOX_TEST_AI_KEY";
const ADDR = "203.0.113.60";

const USER_CONFIG = `
[network]
allow = ["ai.test"]

[inspect]
enabled = true

[[credentials]]
host = "ai.test"
header = "x-api-key"
env = "${SECRET_VAR}"
`;

Deno.test({
  name: "vm tls inspection: the guest trusts the session CA, the secret stays on the host",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-tls-vm-" });
  const upstreamCert = await selfSignedCert(["ai.test"]);
  const seen: { path: string; apiKey: string | null }[] = [];
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...upstreamCert,
  }, (req) => {
    const url = new URL(req.url);
    seen.push({ path: `${url.pathname}${url.search}`, apiKey: req.headers.get("x-api-key") });
    return new Response("upstream says hi\n");
  });
  Deno.env.set(SECRET_VAR, SECRET);
  await Deno.writeTextFile(`${dir}/config.toml`, USER_CONFIG);
  const db = openDatabase(`${dir}/agentbox.db`);
  const session = await startNetworkSession({
    db,
    projectDir: dir,
    userConfig: `${dir}/config.toml`,
    proxy: {
      resolver: tableResolver({ "ai.test": [ADDR] }).resolver,
      dialer: mappedDialer({ [`${ADDR}:443`]: upstream.addr.port }).dialer,
    },
    inspection: { testUpstreamCaCerts: [upstreamCert.cert] },
  });
  const vm = await bootVm({ network: session.egress!.network });
  let report: NetworkReport | undefined;
  try {
    await installGuestFiles(vm.agent, session.guestFiles);
    const run = async (script: string) => {
      const handle = vm.agent.exec({ argv: ["sh", "-c", `${script} 2>&1`], env: session.guestEnv });
      const [out] = await Promise.all([readAll(handle.stdout), readAll(handle.stderr)]);
      return { code: (await handle.result).code, output: new TextDecoder().decode(out) };
    };
    const call = await run(
      `curl -sS -m 30 -H "x-api-key: $${SECRET_VAR}" "https://ai.test/v1/messages?beta=1"`,
    );
    assert.deepEqual(call, { code: 0, output: "upstream says hi\n" });
    assert.deepEqual(seen, [{ path: "/v1/messages?beta=1", apiKey: SECRET }]);

    // A client that pins the real server's certificate refuses the session CA's leaf, clearly.
    await installGuestFiles(vm.agent, [
      { path: "/tmp/pinned.pem", contents: upstreamCert.cert, mode: 0o644 },
    ]);
    const pinned = await run("curl -sS -m 30 --cacert /tmp/pinned.pem https://ai.test/pinned");
    assert.notEqual(pinned.code, 0);
    assert.match(pinned.output, /SSL certificate problem|certificate verify failed/);
    assert.ok(!seen.some((s) => s.path === "/pinned"), "the pinned request never went upstream");

    // The guest holds a placeholder, never the secret: not in its environment, not in any file.
    const env = await run(`echo "$${SECRET_VAR}"; env`);
    assert.match(env.output, /^agentbox-placeholder-/);
    assert.ok(!env.output.includes(SECRET));
    const files = await run(`grep -rl "${SECRET}" /etc /tmp /root /run 2>/dev/null; echo done`);
    assert.equal(files.output, "done\n");

    const rows = listRequests(db, { session: session.id });
    assert.ok(
      rows.some((r) => r.host === "ai.test" && r.path === "/v1/messages?beta=1"),
      "URL logged",
    );
    // Counted once: the one request the upstream saw is the only request row, with the injected
    // credential's header; both tunnels (the pinned one carried nothing) are transport.
    const requests = rows.filter((r) => r.kind === "request");
    assert.deepEqual(requests.map((r) => [r.path, r.credential]), [
      ["/v1/messages?beta=1", "x-api-key"],
    ]);
    assert.deepEqual(rows.filter((r) => r.kind === "tunnel").map((r) => r.method), [
      "CONNECT",
      "CONNECT",
    ]);
  } finally {
    await vm.stop();
    report = await session.finish();
    db.close();
    await upstream.shutdown();
    Deno.env.delete(SECRET_VAR);
    await Deno.remove(dir, { recursive: true });
  }
  // `exec --json`'s network.requests: what the upstream saw, once.
  assert.equal(report.requests, seen.length);
});

Deno.test({
  name: "vm tls inspection: a spec's credential (an API client's secret) is injected like config's",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-tls-vm-spec-" });
  const upstreamCert = await selfSignedCert(["ai.test"]);
  const seen: (string | null)[] = [];
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...upstreamCert,
  }, (req) => {
    seen.push(req.headers.get("authorization"));
    return new Response("ok\n");
  });
  // The owner's environment carries the value; the spec names only the variable. No [inspect]:
  // a credential is enough to inspect its host.
  const secretEnv = "AGENTBOX_SECRET_0";
  Deno.env.set(secretEnv, SECRET);
  await Deno.writeTextFile(`${dir}/config.toml`, '[network]\nallow = ["ai.test"]\n');
  const db = openDatabase(`${dir}/agentbox.db`);
  const session = await startNetworkSession({
    db,
    projectDir: dir,
    userConfig: `${dir}/config.toml`,
    credentials: [{
      host: "ai.test",
      header: "authorization",
      scheme: "Bearer",
      secretEnv,
      guestEnv: ["AI_TOKEN"],
    }],
    proxy: {
      resolver: tableResolver({ "ai.test": [ADDR] }).resolver,
      dialer: mappedDialer({ [`${ADDR}:443`]: upstream.addr.port }).dialer,
    },
    inspection: { testUpstreamCaCerts: [upstreamCert.cert] },
  });
  const vm = await bootVm({ network: session.egress!.network });
  try {
    await installGuestFiles(vm.agent, session.guestFiles);
    const handle = vm.agent.exec({
      argv: ["sh", "-c", 'echo "$AI_TOKEN"; curl -sS -m 30 https://ai.test/x 2>&1'],
      env: session.guestEnv,
    });
    const [out] = await Promise.all([readAll(handle.stdout), readAll(handle.stderr)]);
    const output = new TextDecoder().decode(out);
    assert.equal((await handle.result).code, 0, output);
    assert.match(output, /^agentbox-placeholder-.*\nok\n$/);
    assert.ok(!output.includes(SECRET));
    assert.deepEqual(seen, [`Bearer ${SECRET}`]);
  } finally {
    await vm.stop();
    await session.finish();
    db.close();
    await upstream.shutdown();
    Deno.env.delete(secretEnv);
    await Deno.remove(dir, { recursive: true });
  }
});
