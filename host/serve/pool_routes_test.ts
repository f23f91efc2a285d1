import assert from "node:assert/strict";
import { openContext } from "../api/context.ts";
import { openDatabase } from "../store/database.ts";
import { serveApp } from "./app.ts";

const TOKEN = `abx_${"a".repeat(43)}`;

Deno.test("pool routes: one-shot sandboxes only over the unix socket; the pool's state without a pool or standby owners", async () => {
  using ctx = openContext({ db: openDatabase(":memory:") });
  const remote = serveApp({
    ctx,
    auth: {
      kind: "token",
      tokens: () => Promise.resolve([{ name: "ci", token: TOKEN, createdAt: 0 }]),
    },
    defaultProject: "/",
  });
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const refused = await remote.app.request("/v1/oneshot", {
    method: "POST",
    headers,
    body: JSON.stringify({ spec: { argv: ["true"], projectDir: "/" } }),
  });
  assert.equal(refused.status, 400);
  assert.equal((await refused.json()).error.code, "socket_only");

  const local = serveApp({ ctx, auth: { kind: "socket", who: "local:me" }, defaultProject: "/" });
  const invalid = await local.app.request("/v1/oneshot", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ spec: { argv: [] } }),
  });
  assert.equal(invalid.status, 400);
  assert.equal((await invalid.json()).error.kind, "usage");
  const project = await Deno.makeTempDir({ prefix: "agentbox-oneshot-share-" });
  const shared = await local.app.request("/v1/oneshot", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ spec: { argv: ["true"], share: project, projectDir: project } }),
  });
  await Deno.remove(project);
  assert.equal(shared.status, 400);
  assert.equal((await shared.json()).error.code, "share_unsupported");

  const stats = await local.app.request("/v1/pool");
  assert.equal(stats.status, 200);
  assert.deepEqual(await stats.json(), {
    image: "default",
    backend: null,
    size: 0,
    ready: 0,
    filling: 0,
    taken: 0,
    misses: 0,
    discarded: 0,
    build: null,
    sessions: { size: 0, ready: 0, starting: 0, taken: 0 },
  });
  remote.registry.close();
  local.registry.close();
});
