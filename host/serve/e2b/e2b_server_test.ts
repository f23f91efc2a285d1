/**
 * The E2B endpoints in-process: the control API's mapping and refusals with a recording backend,
 * and envd's process service driven by the real `e2b` SDK over the real guest agent served
 * in-process (no VM; tests/e2e/e2b_test.ts runs the same SDK against VMs).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ALL_TRAFFIC, CommandExitError, Sandbox } from "e2b";
import { openContext } from "../../api/context.ts";
import { startAgent } from "../../channel/testing/in_process_agent.ts";
import { type E2bCreateRequest, E2bSandboxes, startE2bServer } from "./mod.ts";

const KEY = "e2b-test-key";
const LOOPBACK = { hostname: "127.0.0.1", port: 0 };

async function server(maxSandboxes?: number) {
  const agent = await startAgent();
  const started: E2bCreateRequest[] = [];
  const stopped: string[] = [];
  // The recording backend stands in for host/api: nothing reaches the user's database.
  const ctx = openContext({ db: new DatabaseSync(":memory:") });
  const e2b = await startE2bServer(ctx, {
    authenticate: (key) => key === KEY,
    maxSandboxes,
    api: LOOPBACK,
    envd: LOOPBACK,
    backend: {
      start(request) {
        started.push(request);
        return Promise.resolve({ id: crypto.randomUUID(), cpus: 1, memoryMb: 512 });
      },
      stop(id) {
        stopped.push(id);
        return Promise.resolve();
      },
      connect: () => agent.connect(),
    },
  });
  const opts = { apiUrl: e2b.apiUrl, sandboxUrl: e2b.sandboxUrl, apiKey: KEY };
  const api = (path: string, init: RequestInit = {}, key: string | null = KEY) =>
    fetch(`${e2b.apiUrl}${path}`, {
      ...init,
      headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) },
    });
  return {
    e2b,
    opts,
    api,
    started,
    stopped,
    async [Symbol.asyncDispose]() {
      await e2b.close();
      ctx.close();
      await agent[Symbol.asyncDispose]();
    },
  };
}

Deno.test("e2b api: the key is required, network options map onto the policy", async () => {
  await using s = await server();
  for (const key of [null, "wrong"]) {
    const r = await s.api("/v2/sandboxes", {}, key);
    assert.equal(r.status, 401);
    assert.equal((await r.json()).code, 401);
  }
  const sbx = await Sandbox.create({
    ...s.opts,
    envs: { A: "1" },
    metadata: { team: "x" },
    timeoutMs: 42_000,
    network: { allowOut: ["api.example.com", "192.0.2.7/32"], denyOut: [ALL_TRAFFIC, "x.example"] },
  });
  assert.deepEqual(s.started.at(-1), {
    template: "default",
    metadata: { team: "x" },
    envs: { A: "1" },
    timeoutSec: 42,
    net: undefined,
    allow: ["api.example.com", "192.0.2.7"],
    deny: ["x.example"],
    network: { allowOut: ["api.example.com", "192.0.2.7/32"], denyOut: [ALL_TRAFFIC, "x.example"] },
  });
  const info = await sbx.getInfo();
  assert.equal(info.templateId, "default");
  assert.ok(Math.abs(info.endAt.getTime() - Date.now() - 42_000) < 2_000);
  await Sandbox.create("custom-image", { ...s.opts, allowInternetAccess: false });
  assert.equal(s.started.at(-1)?.template, "custom-image");
  assert.equal(s.started.at(-1)?.net, "none");
  await Sandbox.create({ ...s.opts, network: { allowOut: [ALL_TRAFFIC] } });
  assert.equal(s.started.at(-1)?.net, "open");

  // Listed by metadata; killed once; a second kill finds nothing.
  const listed = await Sandbox.list({ ...s.opts, query: { metadata: { team: "x" } } }).nextItems();
  assert.deepEqual(listed.map((l) => l.sandboxId), [sbx.sandboxId]);
  assert.equal(await sbx.kill(), true);
  assert.deepEqual(s.stopped, [sbx.sandboxId]);
  assert.equal(await Sandbox.kill(sbx.sandboxId, s.opts), false);
});

Deno.test("e2b api: what agentbox does not serve answers 501 at once", async () => {
  await using s = await server();
  const refused = async (body: unknown) => {
    const r = await s.api("/v2/sandboxes", { method: "POST", body: JSON.stringify(body) });
    const json = await r.json();
    return [r.status, json.code, /not supported by agentbox/.test(json.message)];
  };
  assert.deepEqual(await refused({ templateID: "base", mcp: { x: {} } }), [501, 501, true]);
  assert.deepEqual(
    await refused({ templateID: "base", network: { allowOut: ["10.0.0.0/8"] } }),
    [501, 501, true],
  );
  assert.deepEqual(await refused({ templateID: "base", autoPause: true }), [501, 501, true]);
  const bad = await s.api("/v2/sandboxes", { method: "POST", body: '{"templateID": "../x"}' });
  assert.equal(bad.status, 400);
  const badHost = await s.api("/v2/sandboxes", {
    method: "POST",
    body: JSON.stringify({ templateID: "base", network: { allowOut: ["*"] } }),
  });
  assert.equal(badHost.status, 400);
  assert.match((await badHost.json()).message, /would allow everything/);
  assert.equal(s.started.length, 0, "a refused request started something");
  const pause = await s.api("/sandboxes/some-id/pause", { method: "POST", body: "{}" });
  assert.equal(pause.status, 501);
  const missing = await s.api("/sandboxes/nope", { method: "DELETE" });
  assert.equal(missing.status, 404);
});

Deno.test("e2b api: the sandbox limit is E2B's rate-limit error", async () => {
  await using s = await server(1);
  const first = await Sandbox.create(s.opts);
  const second = await Sandbox.create(s.opts).catch((e) => e);
  assert.equal(second?.name, "RateLimitError", String(second));
  await first.kill();
  await (await Sandbox.create(s.opts)).kill(); // room again
  assert.equal(s.started.length, 2);
});

Deno.test("e2b envd: processes through the SDK over the real agent", async () => {
  await using s = await server();
  const sbx = await Sandbox.create(s.opts);

  const out: string[] = [];
  const ran = await sbx.commands.run("printf a; printf b >&2", {
    onStdout: (d) => void out.push(d),
  });
  assert.equal(ran.stdout, "a");
  assert.equal(ran.stderr, "b");
  assert.deepEqual(out, ["a"]);
  const failed = await sbx.commands.run("exit 9").catch((e) => e);
  assert.ok(failed instanceof CommandExitError);
  assert.equal(failed.exitCode, 9);

  // Two clients on one process: both see its output; stdin from a third call.
  const bg = await sbx.commands.run("cat", { background: true, stdin: true });
  let second = "";
  const other = await sbx.commands.connect(bg.pid, { onStdout: (d) => void (second += d) });
  await sbx.commands.sendStdin(bg.pid, "to both\n");
  await sbx.commands.closeStdin(bg.pid);
  assert.equal((await bg.wait()).stdout, "to both\n");
  await other.wait();
  assert.equal(second, "to both\n");
  assert.deepEqual(await sbx.commands.list(), []);

  // A client that leaves does not take the process with it; another can connect and kill it.
  const quiet = await sbx.commands.run("sleep 60", { background: true });
  await quiet.disconnect();
  assert.deepEqual((await sbx.commands.list()).map((p) => p.pid), [quiet.pid]);
  const again = await sbx.commands.connect(quiet.pid);
  assert.equal(await sbx.commands.kill(quiet.pid), true);
  assert.equal((await again.wait().catch((e) => e))?.name, "CommandExitError");
  assert.deepEqual(await sbx.commands.list(), []);

  // An unknown pid is NotFound; a missing command is the SDK's error, not a hang.
  assert.equal(await sbx.commands.kill(999_999), false);
  const connectMissing = await sbx.commands.connect(999_999).catch((e) => e);
  assert.equal(connectMissing?.name, "NotFoundError");

  // Without the sandbox's access token, envd refuses.
  const r = await fetch(`${s.e2b.sandboxUrl}/health`, {
    headers: { "e2b-sandbox-id": sbx.sandboxId, "x-access-token": "guess" },
  });
  assert.equal(r.status, 401);
  const gone = await fetch(`${s.e2b.sandboxUrl}/health`, {
    headers: { "e2b-sandbox-id": "not-a-sandbox" },
  });
  assert.equal(gone.status, 502);
  await gone.body?.cancel();
  await r.body?.cancel();
  await sbx.kill();
  assert.equal(await sbx.isRunning(), false);
});

Deno.test("e2b: a taken address is one clear error, and nothing is left listening", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ctx = openContext({ db: new DatabaseSync(":memory:") });
  const backend = {
    start: () => Promise.reject(new Error("unused")),
    stop: () => Promise.resolve(),
    connect: () => Promise.reject(new Error("unused")),
  };
  const api = { hostname: "127.0.0.1", port: 0 };
  const failed = await startE2bServer(ctx, {
    authenticate: () => false,
    backend,
    api,
    envd: { hostname: "127.0.0.1", port: taken.addr.port },
  }).catch((e) => e);
  assert.equal(failed?.code, "e2b_listen_failed");
  assert.match(
    failed.message,
    /Cannot serve E2B's envd on 127\.0\.0\.1:\d+: the address is in use/,
  );
});

Deno.test("e2b: closing the server stops a sandbox that was still starting", async () => {
  const booting = Promise.withResolvers<void>();
  const stopped: string[] = [];
  const sandboxes = new E2bSandboxes({
    start: async () => {
      await booting.promise;
      return { id: "late", cpus: 1, memoryMb: 512 };
    },
    stop: (id) => {
      stopped.push(id);
      return Promise.resolve();
    },
    connect: () => Promise.reject(new Error("unused")),
  });
  const request = {
    template: "default",
    metadata: {},
    envs: {},
    timeoutSec: 60,
    allow: [],
    deny: [],
  };
  const created = sandboxes.create(request);
  const closed = sandboxes.close();
  booting.resolve();
  await Promise.all([created, closed]);
  assert.deepEqual(stopped, ["late"]);
  assert.deepEqual(sandboxes.list(), []);
  const refused = await sandboxes.create(request).catch((e) => e);
  assert.equal(refused?.code, "e2b_closing");
});
